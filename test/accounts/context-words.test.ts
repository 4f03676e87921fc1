// Context-specific words over HTTP (ASVS 6.2.11): a password built of the service's own
// words (product, BRAND_NAME, the ISSUER host, roles, PASSWORD_CONTEXT_WORDS) gets
// 400 weak_password with its own description, and no account or new hash is written.
import assert from 'node:assert/strict';
import { after, before, describe, it, type TestContext } from 'node:test';
import { build, GOOD_PASSWORD, registerAndLogin, uniqueEmail, type Built } from '../helpers/build.js';
import { register } from './helpers.js';

const CONTEXT_TEXT = 'The password is built from words tied to this service';

describe('context-specific words', () => {
  let built: Built;
  const closers: Array<() => Promise<void>> = [];
  const collect = ((fn: () => Promise<void>) => void closers.push(fn)) as unknown as TestContext['after'];

  before(async () => {
    built = await build({ after: collect }, { BRAND_NAME: 'Example Corp', PASSWORD_CONTEXT_WORDS: 'Orion' });
  });
  after(async () => {
    for (const close of closers.reverse()) await close();
  });

  const usersWith = async (email: string) =>
    (await built.services.db.query('SELECT 1 FROM users WHERE email = $1', [email])).length;
  const assertContextRefusal = (res: { statusCode: number; json<T>(): T; body: string }, what: string) => {
    assert.equal(res.statusCode, 400, `${what}: ${res.body}`);
    assert.deepEqual(res.json(), { error: 'weak_password', error_description: CONTEXT_TEXT }, what);
  };

  it("registration refuses a password made of the service's own words", async () => {
    const { app } = built;
    // The brand, the product, the (test) host "localhost", a role, an extra word.
    for (const password of ['ExampleCorpLogin1', 'T3ss3r@-2026!', 'localhost-admin-99', 'Orion-Orion-2026']) {
      const email = uniqueEmail('context');
      assertContextRefusal(await register(app, email, password), password);
      assert.equal(await usersWith(email), 0, `no account for ${password}`);
    }
    // A passphrase that merely holds a context word is welcome.
    const email = uniqueEmail('context');
    const ok = await register(app, email, 'the user of quiet lanterns');
    assert.equal(ok.statusCode, 201, ok.body);
    assert.equal(await usersWith(email), 1);
  });

  it('a password change to the service’s own words is refused and the hash stays', async () => {
    const { app } = built;
    const member = await registerAndLogin(app);
    const hash = async () =>
      (
        await built.services.db.query<{ password_hash: string }>('SELECT password_hash FROM users WHERE email = $1', [
          member.email,
        ])
      )[0]!.password_hash;
    const before = await hash();
    const change = await app.inject({
      method: 'POST',
      url: '/users/me/password',
      headers: { authorization: `Bearer ${member.tokens.access_token}` },
      payload: { current_password: GOOD_PASSWORD, new_password: 'tessera-moderator-1' },
    });
    assertContextRefusal(change, 'password change');
    assert.equal(await hash(), before);
  });
});
