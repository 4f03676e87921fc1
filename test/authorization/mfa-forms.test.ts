// The hosted second-step forms without a browser (app.inject): CSRF and schema refusals,
// a garbage passkey assertion, the policy's enrolment page with a wrong code and a dead
// mfa_token. Needs no confirmed factor, so it runs the same on PGlite and PostgreSQL.
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { build, GOOD_PASSWORD, userWithRoles } from '../helpers/build.js';
import { Agent, REDIRECT, authorizeUrl, hiddenFields, pkce, registerClient } from './flow.js';

const fieldsOf = (html: string, attr: string): Record<string, string> =>
  JSON.parse(
    (new RegExp(`${attr}="([^"]*)"`).exec(html)?.[1] ?? '{}').replace(/&quot;/g, '"').replace(/&amp;/g, '&'),
  ) as Record<string, string>;

test('the hosted second-step forms refuse forgeries and dead steps', async (t) => {
  const built = await build(t, { MFA_REQUIRED_ROLES: 'moderator' });
  const client = await registerClient(built, { type: 'public', first_party: true, name: 'First app' });
  const moderator = await userWithRoles(built, ['moderator']);
  const agent = new Agent(built.app);
  const page = await agent.get(
    authorizeUrl({
      response_type: 'code',
      client_id: client.client_id,
      redirect_uri: REDIRECT,
      scope: 'openid',
      code_challenge: pkce().challenge,
      code_challenge_method: 'S256',
    }),
  );
  assert.equal(page.statusCode, 200, page.body.slice(0, 300));
  const passkey = fieldsOf(page.body, 'data-fields');
  assert.ok(passkey.csrf_token && passkey.interaction, 'the passkey form’s fields');

  await t.test('no CSRF token or another purpose’s: 403 on every new form', async () => {
    const login = hiddenFields(page.body);
    for (const [url, extra] of [
      ['/oauth/authorize/mfa', { mfa_token: 'x', method: 'totp', code: '123456' }],
      ['/oauth/authorize/passkey', { assertion: '{}' }],
      ['/oauth/authorize/enrol', { mfa_token: 'x', secret: 'ABCDEFGHIJKLMNOP', code: '123456' }],
      ['/oauth/authorize/continue', {}],
    ] as const) {
      const res = await agent.post(url, { ...login, ...extra });
      assert.equal(res.statusCode, 403, `${url} with the login form’s token`);
    }
    const foreign = await agent.post(
      '/oauth/authorize/passkey',
      { ...passkey, assertion: '{}' },
      { origin: 'https://evil.example' },
    );
    assert.equal(foreign.statusCode, 403);
  });

  await t.test('unknown or oversized fields: 400', async () => {
    const extra = await agent.post('/oauth/authorize/passkey', { ...passkey, assertion: '{}', password: 'x' });
    assert.equal(extra.statusCode, 400);
    const long = await agent.post('/oauth/authorize/passkey', { ...passkey, assertion: 'x'.repeat(20_001) });
    assert.equal(long.statusCode, 400);
  });

  await t.test('a garbage passkey assertion: the login page again, a generic message', async () => {
    const res = await agent.post('/oauth/authorize/passkey', { ...passkey, assertion: '{"id":"x"}' });
    assert.equal(res.statusCode, 401);
    assert.match(res.body, /The passkey could not be used/);
    assert.equal(agent.cookies.has('__Host-tessera-session'), false);
  });

  await t.test(
    'enrolment forced by the policy: a wrong code shows the same secret; a dead token goes back',
    async () => {
      const fresh = await agent.get(
        authorizeUrl({
          response_type: 'code',
          client_id: client.client_id,
          redirect_uri: REDIRECT,
          scope: 'openid',
          code_challenge: pkce().challenge,
          code_challenge_method: 'S256',
        }),
      );
      const login = await agent.post('/oauth/authorize/login', {
        ...hiddenFields(fresh.body),
        email: moderator.email,
        password: GOOD_PASSWORD,
      });
      assert.equal(login.statusCode, 200, login.body.slice(0, 300));
      assert.match(login.body, /<img class="qr" alt="QR code" src="data:image\/svg\+xml;base64,/);
      assert.match(String(login.headers['content-security-policy']), /img-src 'self' data:/);
      assert.equal(agent.cookies.has('__Host-tessera-session'), false, 'no session before the code');
      const enrol = hiddenFields(login.body);
      const wrong = await agent.post('/oauth/authorize/enrol', { ...enrol, code: '000000x' });
      assert.equal(wrong.statusCode, 401);
      assert.match(wrong.body, /The code is incorrect\./);
      assert.equal(hiddenFields(wrong.body).secret, enrol.secret);
      const dead = await agent.post('/oauth/authorize/enrol', { ...enrol, mfa_token: 'A'.repeat(43), code: '123456' });
      assert.equal(dead.statusCode, 401);
      assert.match(dead.body, /This sign-in has expired or had too many attempts/);
    },
  );
});
