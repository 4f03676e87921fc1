// POST /auth/login: the token response and access token the contract fixes, one answer
// for every kind of failed login, email normalization, scope and resource (RFC 8707).
import { describe, it, before } from 'node:test';
import assert from 'node:assert/strict';
import { performance } from 'node:perf_hooks';
import { createLocalJWKSet, decodeJwt, decodeProtectedHeader, jwtVerify, type JSONWebKeySet } from 'jose';
import { GOOD_PASSWORD, uniqueEmail } from '../helpers/build.js';
import { assertErrorResponse, comparableHeaders, suiteApp } from './suite-app.js';

const ISSUER = 'http://localhost:3000';
const API = 'https://api.example.com';
const BILLING = 'https://billing.example.com';
const TTL = 900;
const UUID = /^[0-9a-f]{8}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{12}$/;

describe('POST /auth/login', () => {
  const ctx = suiteApp({ AUDIENCES: `${API},${BILLING}`, ACCESS_TOKEN_TTL: String(TTL) });
  const email = uniqueEmail('login');
  let userId: string;

  const login = (payload: Record<string, unknown>, headers: Record<string, string> = {}) =>
    ctx().app.inject({ method: 'POST', url: '/auth/login', payload, headers });
  const failures = async () =>
    (
      await ctx().services.db.query<{ n: number }>(
        `SELECT count(*)::int AS n FROM security_events WHERE type = 'login_failure'`,
      )
    )[0]!.n;
  const sessionsOf = async (id: string) =>
    (
      await ctx().services.db.query<{ n: number }>('SELECT count(*)::int AS n FROM sessions WHERE user_id = $1', [id])
    )[0]!.n;

  before(async () => {
    const reg = await ctx().app.inject({ method: 'POST', url: '/users', payload: { email, password: GOOD_PASSWORD } });
    assert.equal(reg.statusCode, 201);
    const [row] = await ctx().services.db.query<{ id: string }>('SELECT id FROM users WHERE email = $1', [email]);
    userId = row!.id;
  });

  it('answers the contract token response with an RFC 9068 access token', async () => {
    const before = Math.floor(Date.now() / 1000);
    const res = await login({ email, password: GOOD_PASSWORD }, { 'user-agent': 'login-test/1.0' });
    assert.equal(res.statusCode, 200, res.body);
    assert.equal(res.headers['cache-control'], 'no-store');
    const body = res.json();
    assert.deepEqual(Object.keys(body).sort(), ['access_token', 'expires_in', 'refresh_token', 'scope', 'token_type']);
    assert.equal(body.token_type, 'Bearer');
    assert.equal(body.expires_in, TTL);
    assert.equal(body.scope, 'openid profile email');

    const jwks = (await ctx().app.inject({ url: '/.well-known/jwks.json' })).json<JSONWebKeySet>();
    const header = decodeProtectedHeader(body.access_token);
    assert.equal(header.typ, 'at+jwt');
    assert.equal(header.alg, 'ES256');
    assert.ok(
      jwks.keys.some((k) => k.kid === header.kid),
      'the access token kid is published',
    );
    // A verifier holding only the published keys accepts it.
    const { payload } = await jwtVerify(body.access_token, createLocalJWKSet(jwks), {
      issuer: ISSUER,
      audience: ISSUER,
      typ: 'at+jwt',
    });
    assert.equal(payload.iss, ISSUER);
    assert.equal(payload.sub, userId, 'sub is the immutable user id, not the email');
    assert.notEqual(payload.sub, email);
    assert.equal(payload.aud, ISSUER, 'aud defaults to the issuer');
    assert.equal(typeof payload.iat, 'number');
    assert.ok(payload.iat! >= before - 1 && payload.iat! <= before + 5);
    assert.equal(payload.nbf, payload.iat);
    assert.equal(payload.exp, payload.iat! + TTL);
    assert.match(String(payload.jti), UUID);
    assert.equal(payload.client_id, 'tessera');
    assert.equal(payload.scope, 'openid profile email');
    assert.deepEqual(payload.roles, ['user']);
    assert.equal(typeof payload.auth_time, 'number');
    assert.ok((payload.auth_time as number) <= payload.iat!);
    assert.match(String(payload.sid), UUID);

    const [session] = await ctx().services.db.query<{
      user_id: string;
      client_id: string;
      scope: string;
      audience: string;
      current_jti: string;
      ended_at: Date | null;
      user_agent: string;
    }>('SELECT user_id, client_id, scope, audience, current_jti, ended_at, user_agent FROM sessions WHERE id = $1', [
      payload.sid,
    ]);
    assert.ok(session, 'sid names a stored session');
    assert.equal(session.user_id, userId);
    assert.equal(session.client_id, 'tessera');
    assert.equal(session.scope, 'openid profile email');
    assert.equal(session.audience, ISSUER);
    assert.equal(session.ended_at, null);
    assert.equal(session.user_agent, 'login-test/1.0');

    const refreshHeader = decodeProtectedHeader(body.refresh_token);
    const refreshClaims = decodeJwt(body.refresh_token);
    assert.equal(refreshHeader.typ, 'refresh+jwt');
    assert.ok(!jwks.keys.some((k) => k.kid === refreshHeader.kid), 'the refresh key is never published');
    assert.equal(refreshClaims.aud, ISSUER);
    assert.equal(refreshClaims.sub, userId);
    assert.equal(refreshClaims.sid, payload.sid);
    assert.equal(refreshClaims.jti, session.current_jti, 'the refresh token is the live one of its session');
    assert.ok(refreshClaims.exp! > refreshClaims.iat!);
  });

  it('answers wrong password, unknown email and disabled account alike', async () => {
    const disabledEmail = uniqueEmail('disabled');
    const reg = await ctx().app.inject({
      method: 'POST',
      url: '/users',
      payload: { email: disabledEmail, password: GOOD_PASSWORD },
    });
    assert.equal(reg.statusCode, 201);
    // A token obtained before the account is disabled stops working too.
    const earlier = await login({ email: disabledEmail, password: GOOD_PASSWORD });
    assert.equal(earlier.statusCode, 200);
    await ctx().services.db.query('UPDATE users SET disabled = true WHERE email = $1', [disabledEmail]);
    const [disabled] = await ctx().services.db.query<{ id: string }>('SELECT id FROM users WHERE email = $1', [
      disabledEmail,
    ]);
    const sessionsBefore = await sessionsOf(userId);
    const disabledSessionsBefore = await sessionsOf(disabled!.id);
    const failuresBefore = await failures();

    const attempts = {
      wrongPassword: await login({ email, password: `${GOOD_PASSWORD}x` }),
      unknownEmail: await login({ email: uniqueEmail('nobody'), password: GOOD_PASSWORD }),
      disabledRightPassword: await login({ email: disabledEmail, password: GOOD_PASSWORD }),
      disabledWrongPassword: await login({ email: disabledEmail, password: 'not-the-password-at-all' }),
    };
    const reference = attempts.wrongPassword;
    for (const [name, res] of Object.entries(attempts)) {
      assertErrorResponse(res, { status: 401, error: 'invalid_credentials' });
      assert.equal(res.body, '{"error":"invalid_credentials","error_description":"Invalid credentials"}', name);
      assert.deepEqual(
        comparableHeaders(res.headers),
        comparableHeaders(reference.headers),
        `${name}: same headers as a wrong password`,
      );
    }

    assert.equal(await sessionsOf(userId), sessionsBefore, 'no session for a failed login');
    assert.equal(await sessionsOf(disabled!.id), disabledSessionsBefore);
    assert.equal(await failures(), failuresBefore + 4, 'each failure is recorded');
    const events = await ctx().services.db.query<{ user_id: string | null; detail: { reason: string } }>(
      `SELECT user_id, detail FROM security_events WHERE type = 'login_failure' ORDER BY id DESC LIMIT 4`,
    );
    assert.deepEqual(
      events.reverse().map((e) => [e.user_id, e.detail.reason]),
      [
        [userId, 'wrong_password'],
        [null, 'unknown_account'],
        [disabled!.id, 'disabled'],
        [disabled!.id, 'wrong_password'],
      ],
    );

    const userinfo = await ctx().app.inject({
      url: '/userinfo',
      headers: { authorization: `Bearer ${earlier.json().access_token}` },
    });
    assertErrorResponse(userinfo, { status: 401, error: 'invalid_token' });
  });

  it('records the socket address, not a forged X-Forwarded-For (TRUST_PROXY unset)', async () => {
    const forged = { 'x-forwarded-for': '203.0.113.9', 'x-real-ip': '203.0.113.9' };
    const failed = await login({ email, password: 'not-the-right-one-7' }, forged);
    assert.equal(failed.statusCode, 401);
    const [event] = await ctx().services.db.query<{ ip: string }>(
      `SELECT ip FROM security_events WHERE type = 'login_failure' ORDER BY id DESC LIMIT 1`,
    );
    assert.equal(event?.ip, '127.0.0.1');
    const ok = await login({ email, password: GOOD_PASSWORD }, forged);
    assert.equal(ok.statusCode, 200);
    const [session] = await ctx().services.db.query<{ ip: string }>('SELECT ip FROM sessions WHERE id = $1', [
      decodeJwt(ok.json().access_token).sid,
    ]);
    assert.equal(session?.ip, '127.0.0.1');
  });

  it('costs an unknown email about as much time as a wrong password', async () => {
    const timed = async (payload: Record<string, unknown>) => {
      const start = performance.now();
      const res = await login(payload);
      assert.equal(res.statusCode, 401);
      return performance.now() - start;
    };
    const median = (xs: number[]) => xs.sort((a, b) => a - b)[Math.floor(xs.length / 2)]!;
    const known: number[] = [];
    const unknown: number[] = [];
    for (let i = 0; i < 3; i++) {
      known.push(await timed({ email, password: `wrong-${i}-password` }));
      unknown.push(await timed({ email: uniqueEmail('ghost'), password: `wrong-${i}-password` }));
    }
    // Without the dummy hash an unknown email answers in a small fraction of the time.
    assert.ok(median(unknown) > median(known) * 0.4, `unknown ${median(unknown)} ms vs known ${median(known)} ms`);
  });

  it('matches the email after trimming and lower-casing it', async () => {
    const res = await login({ email: `  ${email.toUpperCase()}\t`, password: GOOD_PASSWORD });
    assert.equal(res.statusCode, 200, res.body);
    assert.equal(decodeJwt(res.json().access_token).sub, userId);
  });

  it('never matches on the password case or on a trimmed password', async () => {
    for (const password of [GOOD_PASSWORD.toUpperCase(), ` ${GOOD_PASSWORD}`]) {
      assertErrorResponse(await login({ email, password }), { status: 401, error: 'invalid_credentials' });
    }
  });

  it('sets aud from a configured resource (RFC 8707) and refuses any other', async () => {
    const res = await login({ email, password: GOOD_PASSWORD, resource: API });
    assert.equal(res.statusCode, 200, res.body);
    const claims = decodeJwt(res.json().access_token);
    assert.equal(claims.aud, API);
    const [session] = await ctx().services.db.query<{ audience: string }>(
      'SELECT audience FROM sessions WHERE id = $1',
      [claims.sid],
    );
    assert.equal(session?.audience, API);
    // The refresh token stays addressed to the issuer whatever the resource.
    assert.equal(decodeJwt(res.json().refresh_token).aud, ISSUER);

    const sessionsBefore = await sessionsOf(userId);
    for (const resource of ['https://evil.example.com', `${API}/`, API.toUpperCase(), 'not a uri']) {
      assertErrorResponse(await login({ email, password: GOOD_PASSWORD, resource }), {
        status: 400,
        error: 'invalid_target',
      });
    }
    assert.equal(await sessionsOf(userId), sessionsBefore, 'a refused resource opens no session');
  });

  it('grants a requested subset of the scopes and refuses anything else', async () => {
    const narrow = await login({ email, password: GOOD_PASSWORD, scope: 'openid email' });
    assert.equal(narrow.statusCode, 200, narrow.body);
    assert.equal(narrow.json().scope, 'openid email');
    assert.equal(decodeJwt(narrow.json().access_token).scope, 'openid email');

    const sessionsBefore = await sessionsOf(userId);
    for (const scope of ['openid admin', 'admin', 'openid  email', ' openid', 'OPENID']) {
      assertErrorResponse(await login({ email, password: GOOD_PASSWORD, scope }), {
        status: 400,
        error: 'invalid_scope',
      });
    }
    assert.equal(await sessionsOf(userId), sessionsBefore, 'a refused scope opens no session');
  });

  it('refuses a client other than the first-party one without issuing tokens', async () => {
    const res = await login({ email, password: GOOD_PASSWORD, client_id: 'someone-else' });
    assert.ok(res.statusCode === 400 || res.statusCode === 401, res.body);
    assert.equal(res.json().access_token, undefined);
    const ok = await login({ email, password: GOOD_PASSWORD, client_id: 'tessera' });
    assert.equal(ok.statusCode, 200);
  });

  it('opens a new session per login, each with its own refresh family', async () => {
    const a = (await login({ email, password: GOOD_PASSWORD })).json();
    const b = (await login({ email, password: GOOD_PASSWORD })).json();
    assert.notEqual(decodeJwt(a.access_token).sid, decodeJwt(b.access_token).sid);
    assert.notEqual(decodeJwt(a.access_token).jti, decodeJwt(b.access_token).jti);
  });
});
