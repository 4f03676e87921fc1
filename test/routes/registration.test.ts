// POST /users: self-registration. It must not tell which emails have accounts, must not
// let anyone overwrite an account, and must refuse weak passwords and extra privileges.
import { describe, it } from 'node:test';
import assert from 'node:assert/strict';
import { GOOD_PASSWORD, uniqueEmail } from '../helpers/build.js';
import { assertErrorResponse, comparableHeaders, suiteApp } from './suite-app.js';

interface UserState {
  id: string;
  email: string;
  password_hash: string;
  roles: string[];
  disabled: boolean;
}

describe('POST /users (REGISTRATION=open)', () => {
  const ctx = suiteApp();
  const register = (payload: unknown) =>
    ctx().app.inject({ method: 'POST', url: '/users', payload: payload as Record<string, unknown> });
  const login = (email: string, password: string) =>
    ctx().app.inject({ method: 'POST', url: '/auth/login', payload: { email, password } });
  const usersNamed = (email: string) =>
    ctx().services.db.query<UserState>('SELECT id, email, password_hash, roles, disabled FROM users WHERE email = $1', [
      email,
    ]);
  const userCount = async () =>
    (await ctx().services.db.query<{ n: number }>('SELECT count(*)::int AS n FROM users'))[0]!.n;

  it('creates an account: 201 {email}, stored trimmed and lower-case, role user, hashed password', async () => {
    const email = uniqueEmail('Fresh');
    const res = await register({ email: `  ${email.toUpperCase()} `, password: GOOD_PASSWORD });
    assert.equal(res.statusCode, 201, res.body);
    assert.deepEqual(res.json(), { email: email.toLowerCase() });
    assert.equal(res.headers['cache-control'], 'no-store');
    const rows = await usersNamed(email.toLowerCase());
    assert.equal(rows.length, 1);
    const [user] = rows;
    assert.deepEqual(user!.roles, ['user']);
    assert.equal(user!.disabled, false);
    assert.match(user!.password_hash, /^\$argon2id\$/);
    assert.ok(!user!.password_hash.includes(GOOD_PASSWORD));
    const ok = await login(email, GOOD_PASSWORD);
    assert.equal(ok.statusCode, 200, ok.body);
  });

  it('answers an already registered email exactly like a new one and leaves the account alone', async () => {
    const email = uniqueEmail('taken');
    const first = await register({ email, password: GOOD_PASSWORD });
    assert.equal(first.statusCode, 201);
    const [original] = await usersNamed(email);
    const fresh = await register({ email: uniqueEmail('other'), password: 'another-long-passphrase-9' });

    const attackerPassword = 'attacker-chosen-passphrase-1';
    for (const variant of [
      email,
      email.toUpperCase(),
      `  ${email}`,
      `${email}\n`,
      `\t${email.replace(/^./, (c) => c.toUpperCase())} `,
    ]) {
      const again = await register({ email: variant, password: attackerPassword });
      assert.equal(again.statusCode, fresh.statusCode, `status for ${JSON.stringify(variant)}`);
      assert.deepEqual(again.json(), { email });
      assert.deepEqual(
        comparableHeaders(again.headers),
        comparableHeaders(first.headers),
        'same headers as the first registration',
      );
    }

    const rows = await usersNamed(email);
    assert.equal(rows.length, 1, 'still one account');
    assert.equal(rows[0]!.id, original!.id);
    assert.equal(rows[0]!.password_hash, original!.password_hash, 'the password hash is unchanged');
    assert.equal((await login(email, GOOD_PASSWORD)).statusCode, 200, 'the original password still works');
    assertErrorResponse(await login(email, attackerPassword), { status: 401, error: 'invalid_credentials' });
  });

  it('treats composed and decomposed accents in an email as one address (NFC)', async () => {
    const local = uniqueEmail('x').split('@')[0]!;
    const composed = `jos\u00e9-${local}@example.com`;
    const decomposed = `JOSE\u0301-${local}@Example.com`;
    assert.equal((await register({ email: composed, password: GOOD_PASSWORD })).statusCode, 201);
    const again = await register({ email: decomposed, password: 'attacker-chosen-passphrase-2' });
    assert.equal(again.statusCode, 201);
    assert.deepEqual(again.json(), { email: composed });
    const rows = await ctx().services.db.query<{ email: string }>('SELECT email FROM users WHERE email LIKE $1', [
      `%-${local}@example.com`,
    ]);
    assert.deepEqual(
      rows.map((r) => r.email),
      [composed],
    );
    assert.equal((await login(decomposed, GOOD_PASSWORD)).statusCode, 200);
  });

  it('refuses weak passwords with 400 weak_password and creates nothing', async () => {
    const email = uniqueEmail('weak');
    const local = email.split('@')[0]!;
    const cases: Array<[string, string]> = [
      ['x'.repeat(11), 'The password is too short'],
      ['correct-hor', 'The password is too short'],
      ['qwerty123456', 'The password is too common'],
      ['QWERTY123456', 'The password is too common'],
      ['leavemealone', 'The password is too common'],
      [email, 'The password must not be the email address'],
      [email.toUpperCase(), 'The password must not be the email address'],
      [local, 'The password must not be the email address'],
    ];
    const before = await userCount();
    for (const [password, description] of cases) {
      assertErrorResponse(await register({ email, password }), { status: 400, error: 'weak_password', description });
    }
    assert.equal(await userCount(), before);
    assert.equal((await usersNamed(email)).length, 0);
  });

  it('accepts exactly the minimum length (12 by default)', async () => {
    const email = uniqueEmail('twelve');
    const res = await register({ email, password: 'kq7-vzr-pl3x' });
    assert.equal(res.statusCode, 201, res.body);
    assert.equal((await usersNamed(email)).length, 1);
  });

  it('never lets a registration choose its roles or state', async () => {
    const before = await userCount();
    for (const extra of [
      { roles: ['admin'] },
      { role: 'admin' },
      { disabled: false },
      { id: '00000000-0000-4000-8000-000000000000' },
    ]) {
      const email = uniqueEmail('escalate');
      assertErrorResponse(await register({ email, password: GOOD_PASSWORD, ...extra }), {
        status: 400,
        error: 'invalid_request',
      });
    }
    const polluted = await ctx().app.inject({
      method: 'POST',
      url: '/users',
      headers: { 'content-type': 'application/json' },
      payload: `{"email":"${uniqueEmail('proto')}","password":"${GOOD_PASSWORD}","__proto__":{"roles":["admin"]}}`,
    });
    assertErrorResponse(polluted, { status: 400, error: 'invalid_request' });
    assert.equal(await userCount(), before);
    const created = await ctx().services.db.query(
      `SELECT 1 FROM users WHERE email LIKE 'escalate-%' OR email LIKE 'proto-%'`,
    );
    assert.equal(created.length, 0);
  });

  it('refuses malformed emails with invalid_request', async () => {
    const before = await userCount();
    for (const email of [
      'not-an-email',
      'a@b',
      '@example.com',
      'two@@example.com',
      'sp ace@example.com',
      `${'x'.repeat(65)}@example.com`,
      'nul\u0000@example.com',
      'tab\u0007@example.com',
      '',
    ]) {
      const res = await register({ email, password: GOOD_PASSWORD });
      assertErrorResponse(res, { status: 400, error: 'invalid_request', description: res.json().error_description });
      assert.match(
        res.json().error_description,
        /^(The email address is invalid|The request is missing a parameter or is malformed)$/,
      );
    }
    assert.equal(await userCount(), before);
  });
});

describe('POST /users (REGISTRATION=closed)', () => {
  const ctx = suiteApp({ REGISTRATION: 'closed' });

  it('answers 403 registration_closed and creates nothing', async () => {
    const email = uniqueEmail('closed');
    const res = await ctx().app.inject({ method: 'POST', url: '/users', payload: { email, password: GOOD_PASSWORD } });
    assertErrorResponse(res, { status: 403, error: 'registration_closed' });
    const rows = await ctx().services.db.query('SELECT 1 FROM users WHERE email = $1', [email]);
    assert.equal(rows.length, 0);
  });
});
