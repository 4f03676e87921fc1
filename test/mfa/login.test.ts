// TOTP and recovery codes end to end over the API, with codes computed in the test:
// enrolment, the two-step login, replayed, expired and other users' codes, the mfa_token's
// bindings and single use, tokens' amr and acr, and a database that holds no secret in clear.
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { refresh, uniqueEmail } from '../helpers/build.js';
import { introspect, newClient } from '../access/helpers.js';
import {
  auth,
  base32Decode,
  claims,
  enrolTotp,
  freshStep,
  login,
  mfaApp,
  mfaToken,
  newUser,
  secondStep,
  totp,
  type Tokens,
} from './helpers.js';

test('TOTP enrolment: a secret shown once, counted only after a first right code, with ten recovery codes', async (t) => {
  const { app, services, smtp } = await mfaApp(t);
  const user = await newUser(app);
  const started = await app.inject({
    method: 'POST',
    url: '/users/me/mfa/totp',
    headers: auth(user.tokens.access_token),
  });
  assert.equal(started.statusCode, 201, started.body);
  assert.equal(started.headers['cache-control'], 'no-store');
  const body = started.json<{ secret: string; otpauth_uri: string; qr_svg: string }>();
  assert.match(body.secret, /^[A-Z2-7]{32}$/, '160 bits, base32');
  const uri = new URL(body.otpauth_uri);
  assert.equal(uri.protocol, 'otpauth:');
  assert.equal(uri.host, 'totp');
  assert.equal(uri.searchParams.get('secret'), body.secret);
  assert.equal(uri.searchParams.get('issuer'), 'Tessera');
  assert.match(decodeURIComponent(uri.pathname), new RegExp(user.email.replace(/[.+]/g, '\\$&')));
  assert.match(body.qr_svg, /^<svg[\s\S]*<\/svg>$/);
  assert.doesNotMatch(body.qr_svg, /<script|href=|on[a-z]+=/i, 'the QR code is inert markup');

  // Not confirmed yet: the login is a one-step login, the list is empty.
  assert.equal((await login(app, user.email)).statusCode, 200);
  const listed = await app.inject({ method: 'GET', url: '/users/me/mfa', headers: auth(user.tokens.access_token) });
  assert.deepEqual(listed.json(), { factors: [], recovery_codes_remaining: 0, required: false });

  const wrong = await app.inject({
    method: 'POST',
    url: '/users/me/mfa/totp/confirm',
    headers: auth(user.tokens.access_token),
    payload: { code: totp(body.secret, 5) },
  });
  assert.equal(wrong.statusCode, 401);
  assert.equal(wrong.json<{ error: string }>().error, 'invalid_code');

  await freshStep();
  const confirmed = await app.inject({
    method: 'POST',
    url: '/users/me/mfa/totp/confirm',
    headers: auth(user.tokens.access_token),
    payload: { code: totp(body.secret) },
  });
  assert.equal(confirmed.statusCode, 200, confirmed.body);
  const enrolled = confirmed.json<{ factor: { id: string; kind: string }; recovery_codes: string[] }>();
  assert.equal(enrolled.factor.kind, 'totp');
  assert.equal(enrolled.recovery_codes.length, 10);
  assert.equal(new Set(enrolled.recovery_codes).size, 10);
  for (const code of enrolled.recovery_codes) assert.match(code, /^[a-z2-9]{5}-[a-z2-9]{5}$/);
  // Confirming again: nothing is waiting.
  const again = await app.inject({
    method: 'POST',
    url: '/users/me/mfa/totp/confirm',
    headers: auth(user.tokens.access_token),
    payload: { code: totp(body.secret) },
  });
  assert.equal(again.statusCode, 400);

  const after = await app.inject({ method: 'GET', url: '/users/me/mfa', headers: auth(user.tokens.access_token) });
  const view = after.json<{ factors: Record<string, unknown>[]; recovery_codes_remaining: number }>();
  assert.equal(view.factors.length, 1);
  assert.deepEqual(Object.keys(view.factors[0]!).sort(), ['created_at', 'id', 'kind', 'label', 'last_used_at']);
  assert.equal(view.recovery_codes_remaining, 10);
  await smtp.waitFor(user.email, { kind: 'mfa_changed' });
  const events = await services.db.query<{ type: string }>(
    `SELECT type FROM security_events WHERE user_id = $1 AND type IN ('mfa_enrolled') ORDER BY id`,
    [user.id],
  );
  assert.equal(events.length, 1);
});

test('a login with a factor: mfa_required, then the second step; tokens carry amr and acr', async (t) => {
  const { app, services } = await mfaApp(t);
  const user = await newUser(app);
  const { secret } = await enrolTotp(app, user.tokens.access_token);

  const first = await mfaToken(app, user.email);
  assert.deepEqual(first.methods, ['totp', 'recovery_code']);
  assert.match(first.mfa_token, /^[A-Za-z0-9_-]{43}$/);
  const res = await login(app, user.email);
  assert.deepEqual(Object.keys(res.json()).sort(), ['error', 'error_description', 'methods', 'mfa_token']);
  // A wrong password says nothing about factors.
  const wrongPassword = await login(app, user.email, 'not-the-password-at-all');
  assert.equal(wrongPassword.statusCode, 401);
  assert.deepEqual(Object.keys(wrongPassword.json()).sort(), ['error', 'error_description']);
  assert.equal(wrongPassword.json<{ error: string }>().error, 'invalid_credentials');

  // The enrolment used this step's code: the next step's is the next one to work.
  const done = await secondStep(app, { mfa_token: first.mfa_token, method: 'totp', code: totp(secret, 1) });
  assert.equal(done.statusCode, 200, done.body);
  const tokens = done.json<Tokens & { token_type: string }>();
  assert.equal(tokens.token_type, 'Bearer');
  const access = claims(tokens.access_token);
  assert.deepEqual(access.amr, ['pwd', 'otp', 'mfa']);
  assert.equal(access.acr, 'mfa');
  // Introspection tells a resource server the same (RFC 9470 4).
  const client = await newClient(services, { introspect: true });
  const inspected = (await introspect(app, client, tokens.access_token)).json<Record<string, unknown>>();
  assert.deepEqual(
    { active: inspected.active, amr: inspected.amr, acr: inspected.acr, auth_time: typeof inspected.auth_time },
    { active: true, amr: ['pwd', 'otp', 'mfa'], acr: 'mfa', auth_time: 'number' },
  );
  // The refreshed token says the same: the session remembers how it was opened.
  const refreshed = await refresh(app, tokens.refresh_token);
  assert.equal(refreshed.statusCode, 200);
  assert.deepEqual(claims(refreshed.json<Tokens>().access_token).amr, ['pwd', 'otp', 'mfa']);

  // The mfa_token is spent; and the same code again, on a new login, is a replay.
  const reused = await secondStep(app, { mfa_token: first.mfa_token, method: 'totp', code: totp(secret, 1) });
  assert.equal(reused.statusCode, 400);
  assert.equal(reused.json<{ error: string }>().error, 'invalid_grant');
  const second = await mfaToken(app, user.email);
  const replay = await secondStep(app, { mfa_token: second.mfa_token, method: 'totp', code: totp(secret, 1) });
  assert.equal(replay.statusCode, 401);
  assert.equal(replay.json<{ error: string }>().error, 'invalid_code');
  // An older step than the last one used is a replay too; a code from two steps ago, expired.
  for (const offset of [0, -2, -3]) {
    const old = await secondStep(app, { mfa_token: second.mfa_token, method: 'totp', code: totp(secret, offset) });
    assert.ok([400, 401].includes(old.statusCode), `offset ${offset}: ${old.body}`);
    assert.notEqual(old.statusCode, 200);
  }
});

test("an mfa_token works only from its IP and client, only its user's codes, and only for a while", async (t) => {
  const { app, services } = await mfaApp(t, { CAPTCHA_AFTER_FAILURES: '10' });
  const alice = await newUser(app);
  const bob = await newUser(app);
  const a = await enrolTotp(app, alice.tokens.access_token);
  const b = await enrolTotp(app, bob.tokens.access_token);
  const pending = await mfaToken(app, alice.email, '198.51.100.7');

  const elsewhere = await secondStep(
    app,
    { mfa_token: pending.mfa_token, method: 'totp', code: totp(a.secret, 1) },
    '198.51.100.8',
  );
  assert.equal(elsewhere.statusCode, 400, 'another IP');
  const otherClient = await secondStep(
    app,
    { mfa_token: pending.mfa_token, method: 'totp', code: totp(a.secret, 1), client_id: 'some-other-client' },
    '198.51.100.7',
  );
  assert.equal(otherClient.statusCode, 400, 'another client');
  const bobsCode = await secondStep(
    app,
    { mfa_token: pending.mfa_token, method: 'totp', code: totp(b.secret, 1) },
    '198.51.100.7',
  );
  assert.equal(bobsCode.statusCode, 401, "another user's code");
  assert.equal(bobsCode.json<{ error: string }>().error, 'invalid_code');
  const forged = await secondStep(
    app,
    { mfa_token: 'A'.repeat(43), method: 'totp', code: totp(a.secret, 1) },
    '198.51.100.7',
  );
  assert.equal(forged.statusCode, 400);

  // Expired: the same token, its row aged past its lifetime.
  await services.db.query(`UPDATE mfa_logins SET expires_at = now() - interval '1 second' WHERE user_id = $1`, [
    alice.id,
  ]);
  const expired = await secondStep(
    app,
    { mfa_token: pending.mfa_token, method: 'totp', code: totp(a.secret, 1) },
    '198.51.100.7',
  );
  assert.equal(expired.statusCode, 400);
  assert.equal(expired.json<{ error: string }>().error, 'invalid_grant');
  const refused = await services.db.query<{ reason: string }>(
    `SELECT detail->>'reason' AS reason FROM security_events WHERE type = 'mfa_failure' AND user_id = $1`,
    [alice.id],
  );
  assert.deepEqual(
    refused.map((r) => r.reason),
    ['wrong code'],
    "only Bob's code reached a check",
  );
});

test('parallel right answers on one mfa_token: one login', async (t) => {
  const { app, services } = await mfaApp(t);
  const user = await newUser(app);
  const { recoveryCodes } = await enrolTotp(app, user.tokens.access_token);
  const pending = await mfaToken(app, user.email);
  const answers = await Promise.all(
    recoveryCodes.map((code) => secondStep(app, { mfa_token: pending.mfa_token, method: 'recovery_code', code })),
  );
  assert.equal(answers.filter((r) => r.statusCode === 200).length, 1, answers.map((r) => r.statusCode).join(','));
  const sessions = await services.db.query('SELECT id FROM sessions WHERE user_id = $1 AND ended_at IS NULL', [
    user.id,
  ]);
  assert.equal(sessions.length, 2, 'the first password-only session and one from the second step');
});

test('recovery codes: each works once, typed loosely; a new set ends the old one', async (t) => {
  const { app, services } = await mfaApp(t);
  const user = await newUser(app);
  const { recoveryCodes } = await enrolTotp(app, user.tokens.access_token);
  const code = recoveryCodes[0]!;

  const pending = await mfaToken(app, user.email);
  const loose = ` ${code.toUpperCase().replace('-', ' ')} `;
  const used = await secondStep(app, { mfa_token: pending.mfa_token, method: 'recovery_code', code: loose });
  assert.equal(used.statusCode, 200, used.body);
  const tokens = used.json<Tokens>();
  assert.deepEqual(claims(tokens.access_token).amr, ['pwd', 'otp', 'mfa']);
  const again = await mfaToken(app, user.email);
  const reuse = await secondStep(app, { mfa_token: again.mfa_token, method: 'recovery_code', code });
  assert.equal(reuse.statusCode, 401);
  assert.equal(reuse.json<{ error: string }>().error, 'invalid_code');

  const remaining = await app.inject({ method: 'GET', url: '/users/me/mfa', headers: auth(tokens.access_token) });
  assert.equal(remaining.json<{ recovery_codes_remaining: number }>().recovery_codes_remaining, 9);
  const stored = await services.db.query<{ code_hash: Buffer }>(
    'SELECT code_hash FROM mfa_recovery_codes WHERE user_id = $1',
    [user.id],
  );
  assert.equal(stored.length, 10);
  for (const row of stored) assert.equal(row.code_hash.length, 32, 'an HMAC, not the code');

  // Regenerating needs a recent second factor: the password-only token of before is refused.
  const stale = await app.inject({
    method: 'POST',
    url: '/users/me/mfa/recovery-codes',
    headers: auth(user.tokens.access_token),
  });
  assert.equal(stale.statusCode, 401);
  assert.equal(stale.json<{ error: string }>().error, 'insufficient_user_authentication');
  assert.match(String(stale.headers['www-authenticate']), /error="insufficient_user_authentication"/);
  const fresh = await app.inject({
    method: 'POST',
    url: '/users/me/mfa/recovery-codes',
    headers: auth(tokens.access_token),
  });
  assert.equal(fresh.statusCode, 200, fresh.body);
  const next = fresh.json<{ recovery_codes: string[] }>().recovery_codes;
  assert.equal(next.length, 10);
  const oldOne = await mfaToken(app, user.email);
  const oldCode = await secondStep(app, {
    mfa_token: oldOne.mfa_token,
    method: 'recovery_code',
    code: recoveryCodes[1]!,
  });
  assert.equal(oldCode.statusCode, 401, 'the old set is gone');
  const newCode = await secondStep(app, { mfa_token: oldOne.mfa_token, method: 'recovery_code', code: next[0]! });
  assert.equal(newCode.statusCode, 200);
});

test('removing a factor needs a recent second factor; without factors the login is one step again', async (t) => {
  const { app } = await mfaApp(t);
  const user = await newUser(app);
  const { secret, id } = await enrolTotp(app, user.tokens.access_token);
  const stale = await app.inject({
    method: 'DELETE',
    url: `/users/me/mfa/${id}`,
    headers: auth(user.tokens.access_token),
  });
  assert.equal(stale.statusCode, 401);
  assert.equal(stale.json<{ error: string }>().error, 'insufficient_user_authentication');

  const pending = await mfaToken(app, user.email);
  const done = await secondStep(app, { mfa_token: pending.mfa_token, method: 'totp', code: totp(secret, 1) });
  const tokens = done.json<Tokens>();
  const other = await newUser(app);
  const notMine = await app.inject({
    method: 'DELETE',
    url: `/users/me/mfa/${id}`,
    headers: auth(other.tokens.access_token),
  });
  assert.equal(notMine.statusCode, 401, "another user's password-only token");
  const removed = await app.inject({
    method: 'DELETE',
    url: `/users/me/mfa/${id}`,
    headers: auth(tokens.access_token),
  });
  assert.equal(removed.statusCode, 204, removed.body);
  const res = await login(app, user.email);
  assert.equal(res.statusCode, 200, 'one step again');
  assert.deepEqual(claims(res.json<Tokens>().access_token).amr, ['pwd']);
  assert.equal(claims(res.json<Tokens>().access_token).acr, 'pwd');
});

test('a database dump holds no TOTP secret and no recovery code in clear', async (t) => {
  const { app, services } = await mfaApp(t);
  const user = await newUser(app);
  const { secret, recoveryCodes } = await enrolTotp(app, user.tokens.access_token);
  // The secret as text and as its bytes (a bytea column dumps as hex; base64 in JSON).
  const raw = base32Decode(secret);
  const needles = [
    secret,
    secret.toLowerCase(),
    raw.toString('hex'),
    raw.toString('base64'),
    ...recoveryCodes,
    ...recoveryCodes.map((c) => c.replace('-', '')),
  ];
  const tables = await services.db.query<{ table_name: string }>(
    `SELECT table_name FROM information_schema.tables WHERE table_schema = 'public' AND table_type = 'BASE TABLE'`,
  );
  assert.ok(tables.some((r) => r.table_name === 'mfa_factors'));
  let rows = 0;
  for (const { table_name } of tables) {
    const dump = await services.db.query<{ row: string }>(`SELECT t::text AS row FROM "${table_name}" t`);
    rows += dump.length;
    for (const { row } of dump)
      for (const needle of needles) assert.ok(!row.includes(needle), `${table_name} holds a secret in clear`);
  }
  assert.ok(rows > 10);
  const [factor] = await services.db.query<{ totp_secret: string }>(
    'SELECT totp_secret FROM mfa_factors WHERE user_id = $1',
    [user.id],
  );
  assert.match(factor!.totp_secret, /^v1\./, 'sealed with the master key');
  // Copied onto another user, the sealed secret does not open: it is bound to its user and factor.
  const other = await newUser(app, uniqueEmail('copy'));
  await services.db.query(
    `INSERT INTO mfa_factors (user_id, kind, label, confirmed_at, totp_secret) VALUES ($1, 'totp', 'copied', now(), $2)`,
    [other.id, factor!.totp_secret],
  );
  const pending = await mfaToken(app, other.email);
  const res = await secondStep(app, { mfa_token: pending.mfa_token, method: 'totp', code: totp(secret, 1) });
  assert.equal(res.statusCode, 401, res.body);
  assert.equal(res.json<{ error: string }>().error, 'invalid_code');
});
