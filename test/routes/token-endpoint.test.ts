// POST /oauth/token (RFC 6749) as an attacker and a careful client see it: refused
// grants, malformed and forged refresh tokens, dead sessions, token confusion, reuse.
import { randomUUID } from 'node:crypto';
import { describe, it } from 'node:test';
import assert from 'node:assert/strict';
import { SignJWT, decodeJwt, decodeProtectedHeader } from 'jose';
import type { LightMyRequestResponse } from 'fastify';
import { registerAndLogin, refresh } from '../helpers/build.js';
import { createClient } from '../../src/clients/clients.js';
import { FORM, assertErrorResponse, form, suiteApp } from './suite-app.js';

const ISSUER = 'http://localhost:3000';
const API = 'https://api.example.com';

type Tokens = { access_token: string; refresh_token: string; scope: string };

interface SessionState {
  current_jti: string;
  ended_at: Date | null;
  end_reason: string | null;
}

/** Flips one character in the middle of a JWS part (0 header, 1 payload, 2 signature). */
function tamper(token: string, part: 0 | 1 | 2): string {
  const parts = token.split('.');
  const segment = parts[part]!;
  const i = Math.floor(segment.length / 2);
  parts[part] = segment.slice(0, i) + (segment[i] === 'A' ? 'B' : 'A') + segment.slice(i + 1);
  return parts.join('.');
}

const b64 = (value: unknown) => Buffer.from(JSON.stringify(value)).toString('base64url');

describe('POST /oauth/token', () => {
  const ctx = suiteApp({ AUDIENCES: API });
  const token = (payload: string, headers: Record<string, string> = { ...FORM }) =>
    ctx().app.inject({ method: 'POST', url: '/oauth/token', headers, payload });
  const session = async (sid: unknown) => {
    const [row] = await ctx().services.db.query<SessionState>(
      'SELECT current_jti, ended_at, end_reason FROM sessions WHERE id = $1',
      [sid],
    );
    assert.ok(row, 'session exists');
    return row;
  };
  /** The refused request changed nothing: the token is still the live one of a live session. */
  const assertUntouched = async (tokens: Tokens) => {
    const claims = decodeJwt(tokens.refresh_token);
    const row = await session(claims.sid);
    assert.equal(row.ended_at, null, 'the session is still live');
    assert.equal(row.current_jti, claims.jti, 'the presented token was not retired');
  };
  const invalidGrant = (res: LightMyRequestResponse) =>
    assertErrorResponse(res, { status: 400, error: 'invalid_grant' });

  it('refuses the password grant (RFC 9700) and unknown grants with unsupported_grant_type', async () => {
    const { email, password } = await registerAndLogin(ctx().app);
    for (const grantType of [
      'password',
      'client_credentials_x',
      'urn:ietf:params:oauth:grant-type:jwt-bearer',
      'constructor',
      '__proto__',
      'toString',
      'REFRESH_TOKEN',
    ]) {
      const res = await token(form({ grant_type: grantType, username: email, password, scope: 'openid' }));
      assertErrorResponse(res, { status: 400, error: 'unsupported_grant_type' });
      assert.equal(res.headers.pragma, 'no-cache');
    }
  });

  it('answers invalid_request to a missing or empty grant_type and a missing refresh_token', async () => {
    assertErrorResponse(await token(form({ refresh_token: 'x' })), { status: 400, error: 'invalid_request' });
    assertErrorResponse(await token(form({ grant_type: '' })), { status: 400, error: 'invalid_request' });
    assertErrorResponse(await token(''), { status: 400, error: 'invalid_request' });
    assertErrorResponse(await token(form({ grant_type: 'refresh_token' })), { status: 400, error: 'invalid_request' });
  });

  it('takes form bodies only: JSON is 415', async () => {
    const { tokens } = await registerAndLogin(ctx().app);
    const res = await ctx().app.inject({
      method: 'POST',
      url: '/oauth/token',
      payload: { grant_type: 'refresh_token', refresh_token: tokens.refresh_token },
    });
    assertErrorResponse(res, { status: 415, error: 'unsupported_media_type' });
    await assertUntouched(tokens);
  });

  it('refuses a repeated parameter (RFC 6749 3.2) without touching the token', async () => {
    const { tokens } = await registerAndLogin(ctx().app);
    const cases: Array<Array<[string, string]>> = [
      [
        ['grant_type', 'refresh_token'],
        ['grant_type', 'refresh_token'],
        ['refresh_token', tokens.refresh_token],
      ],
      [
        ['grant_type', 'refresh_token'],
        ['refresh_token', tokens.refresh_token],
        ['refresh_token', tokens.refresh_token],
      ],
      [
        ['grant_type', 'refresh_token'],
        ['refresh_token', tokens.refresh_token],
        ['scope', 'openid'],
        ['scope', 'email'],
      ],
    ];
    for (const pairs of cases) assertErrorResponse(await token(form(pairs)), { status: 400, error: 'invalid_request' });
    await assertUntouched(tokens);
  });

  it('ignores unknown parameters (RFC 6749 3.2)', async () => {
    const { tokens } = await registerAndLogin(ctx().app);
    const res = await token(
      form({
        grant_type: 'refresh_token',
        refresh_token: tokens.refresh_token,
        state: 'xyz',
        foo: 'bar',
        client_secret_hint: '',
      }),
    );
    assert.equal(res.statusCode, 200, res.body);
    assert.equal(res.headers['cache-control'], 'no-store');
    assert.deepEqual(Object.keys(res.json()).sort(), [
      'access_token',
      'expires_in',
      'refresh_token',
      'scope',
      'token_type',
    ]);
  });

  it('answers invalid_grant to malformed refresh tokens', async () => {
    const { tokens } = await registerAndLogin(ctx().app);
    const [h, p] = tokens.refresh_token.split('.');
    const malformed = [
      'abc',
      'a.b.c',
      '...',
      `${h}.${p}`,
      `${h}.${p}.`,
      `${tokens.refresh_token}.extra`,
      Buffer.from('{"alg":"none"}').toString('base64url'),
      `${b64({ alg: 'none', typ: 'refresh+jwt' })}.${p}.`,
      `${b64({ alg: 'HS256', typ: 'refresh+jwt', kid: decodeProtectedHeader(tokens.refresh_token).kid })}.${p}.AAAA`,
      'x'.repeat(8192),
    ];
    for (const candidate of malformed) invalidGrant(await refresh(ctx().app, candidate));
    await assertUntouched(tokens);
  });

  it('answers invalid_grant to a tampered header, payload or signature', async () => {
    const { tokens } = await registerAndLogin(ctx().app);
    const other = (await registerAndLogin(ctx().app)).tokens;
    const [h, p, s] = tokens.refresh_token.split('.');
    const [, otherPayload] = other.refresh_token.split('.');
    for (const forged of [
      tamper(tokens.refresh_token, 0),
      tamper(tokens.refresh_token, 1),
      tamper(tokens.refresh_token, 2),
      `${h}.${otherPayload}.${s}`,
      `${h}.${p}.${other.refresh_token.split('.')[2]}`,
    ]) {
      invalidGrant(await refresh(ctx().app, forged));
    }
    await assertUntouched(tokens);
    await assertUntouched(other);
  });

  it('answers invalid_grant to a refresh token past its exp', async () => {
    const { tokens } = await registerAndLogin(ctx().app);
    const claims = decodeJwt(tokens.refresh_token);
    const now = Math.floor(Date.now() / 1000);
    // Correctly signed by the refresh key, naming the live jti, but expired a minute ago.
    const expired = await ctx().services.tokens.issueRefreshToken({
      sub: claims.sub!,
      sid: claims.sid as string,
      jti: claims.jti!,
      iat: now - 3600,
      exp: now - 60,
    });
    invalidGrant(await refresh(ctx().app, expired));
    await assertUntouched(tokens);
  });

  it('answers invalid_grant once the session sat idle too long or reached its absolute end', async () => {
    const idle = (await registerAndLogin(ctx().app)).tokens;
    await ctx().services.db.query(`UPDATE sessions SET last_used_at = now() - interval '8 days' WHERE id = $1`, [
      decodeJwt(idle.refresh_token).sid,
    ]);
    invalidGrant(await refresh(ctx().app, idle.refresh_token));

    const old = (await registerAndLogin(ctx().app)).tokens;
    await ctx().services.db.query(`UPDATE sessions SET expires_at = now() - interval '1 second' WHERE id = $1`, [
      decodeJwt(old.refresh_token).sid,
    ]);
    invalidGrant(await refresh(ctx().app, old.refresh_token));
  });

  it('answers invalid_grant for an ended session, and its access token is refused at once', async () => {
    const { tokens } = await registerAndLogin(ctx().app);
    const sid = decodeJwt(tokens.refresh_token).sid;
    await ctx().services.db.query(`UPDATE sessions SET ended_at = now(), end_reason = 'logout' WHERE id = $1`, [sid]);
    invalidGrant(await refresh(ctx().app, tokens.refresh_token));
    const userinfo = await ctx().app.inject({
      url: '/userinfo',
      headers: { authorization: `Bearer ${tokens.access_token}` },
    });
    assertErrorResponse(userinfo, { status: 401, error: 'invalid_token' });
    const row = await session(sid);
    assert.equal(row.end_reason, 'logout', 'the end reason is kept');
  });

  it('answers invalid_grant when the user is disabled', async () => {
    const { email, tokens } = await registerAndLogin(ctx().app);
    await ctx().services.db.query('UPDATE users SET disabled = true WHERE email = $1', [email]);
    invalidGrant(await refresh(ctx().app, tokens.refresh_token));
  });

  it('keeps access and refresh tokens apart in both directions', async () => {
    const { tokens } = await registerAndLogin(ctx().app);
    // An access token is never a refresh token...
    invalidGrant(await refresh(ctx().app, tokens.access_token));
    // ...not even one signed with the access key that claims to be one.
    const accessKey = ctx().services.keystore.signingKey('access');
    const claims = decodeJwt(tokens.refresh_token);
    const forgedRefresh = await new SignJWT({ sid: claims.sid })
      .setProtectedHeader({ alg: accessKey.alg, kid: accessKey.kid, typ: 'refresh+jwt' })
      .setIssuer(ISSUER)
      .setSubject(claims.sub!)
      .setAudience(ISSUER)
      .setIssuedAt()
      .setExpirationTime('1h')
      .setJti(claims.jti!)
      .sign(accessKey.privateKey);
    invalidGrant(await refresh(ctx().app, forgedRefresh));
    await assertUntouched(tokens);

    // A refresh token is never a bearer access token...
    const asBearer = await ctx().app.inject({
      url: '/userinfo',
      headers: { authorization: `Bearer ${tokens.refresh_token}` },
    });
    assertErrorResponse(asBearer, { status: 401, error: 'invalid_token' });
    assert.match(String(asBearer.headers['www-authenticate']), /^Bearer /);
    // ...not even one signed with the refresh key that claims to be one.
    const refreshKey = ctx().services.keystore.signingKey('refresh');
    const access = decodeJwt(tokens.access_token);
    const forgedAccess = await new SignJWT({ client_id: 'tessera', scope: 'openid', sid: access.sid, roles: ['admin'] })
      .setProtectedHeader({ alg: refreshKey.alg, kid: refreshKey.kid, typ: 'at+jwt' })
      .setIssuer(ISSUER)
      .setSubject(access.sub!)
      .setAudience(ISSUER)
      .setIssuedAt()
      .setNotBefore('0s')
      .setExpirationTime('5m')
      .setJti(randomUUID())
      .sign(refreshKey.privateKey);
    const forged = await ctx().app.inject({ url: '/userinfo', headers: { authorization: `Bearer ${forgedAccess}` } });
    assertErrorResponse(forged, { status: 401, error: 'invalid_token' });
  });

  it('refuses a refresh for another client without retiring the token', async () => {
    const { tokens } = await registerAndLogin(ctx().app);
    const { client: other } = await createClient(ctx().services.db, {
      name: 'another app',
      type: 'public',
      redirectUris: ['https://other.example/cb'],
      scopes: ['openid'],
    });
    invalidGrant(await refresh(ctx().app, tokens.refresh_token, { client_id: other.id }));
    await assertUntouched(tokens);
    const ok = await refresh(ctx().app, tokens.refresh_token, { client_id: 'tessera' });
    assert.equal(ok.statusCode, 200, ok.body);
  });

  it('grants a narrower scope on refresh and keeps the original grant for later refreshes', async () => {
    const { tokens } = await registerAndLogin(ctx().app);
    const narrow = await refresh(ctx().app, tokens.refresh_token, { scope: 'openid' });
    assert.equal(narrow.statusCode, 200, narrow.body);
    assert.equal(narrow.json().scope, 'openid');
    assert.equal(decodeJwt(narrow.json().access_token).scope, 'openid');
    // RFC 6749 section 6: an omitted scope means the scope originally granted.
    const next = await refresh(ctx().app, narrow.json().refresh_token);
    assert.equal(next.statusCode, 200, next.body);
    assert.equal(next.json().scope, 'openid profile email');
  });

  it('refuses a wider scope or another resource with the request error, leaving the token usable', async () => {
    const { tokens } = await registerAndLogin(ctx().app);
    assertErrorResponse(await refresh(ctx().app, tokens.refresh_token, { scope: 'openid admin' }), {
      status: 400,
      error: 'invalid_scope',
    });
    assertErrorResponse(await refresh(ctx().app, tokens.refresh_token, { scope: 'admin' }), {
      status: 400,
      error: 'invalid_scope',
    });
    assertErrorResponse(await refresh(ctx().app, tokens.refresh_token, { resource: API }), {
      status: 400,
      error: 'invalid_target',
    });
    await assertUntouched(tokens);
    const ok = await refresh(ctx().app, tokens.refresh_token);
    assert.equal(ok.statusCode, 200, ok.body);
  });

  it('refuses a NUL in a parameter with invalid_request, never a server error', async () => {
    const { tokens } = await registerAndLogin(ctx().app);
    const extras: Array<Record<string, string>> = [
      { client_id: 'tessera\u0000' },
      { scope: 'openid\u0000' },
      { resource: `${API}\u0000` },
    ];
    for (const extra of extras) {
      assertErrorResponse(await refresh(ctx().app, tokens.refresh_token, extra), {
        status: 400,
        error: 'invalid_request',
      });
    }
    await assertUntouched(tokens);
  });
});

describe('POST /oauth/token with REFRESH_REUSE_GRACE=0', () => {
  const ctx = suiteApp({ REFRESH_REUSE_GRACE: '0' });

  it('ends the session when a retired refresh token comes back, and the successor dies with it', async () => {
    const { email, password, tokens } = await registerAndLogin(ctx().app);
    const otherLogin = await ctx().app.inject({ method: 'POST', url: '/auth/login', payload: { email, password } });
    const otherSession = otherLogin.json<Tokens>();
    const sid = decodeJwt(tokens.refresh_token).sid as string;
    const rotated = await refresh(ctx().app, tokens.refresh_token);
    assert.equal(rotated.statusCode, 200, rotated.body);
    const successor = rotated.json<Tokens>();

    const replay = await refresh(ctx().app, tokens.refresh_token);
    assertErrorResponse(replay, { status: 400, error: 'invalid_grant' });

    const [row] = await ctx().services.db.query<SessionState>(
      'SELECT current_jti, ended_at, end_reason FROM sessions WHERE id = $1',
      [sid],
    );
    assert.ok(row?.ended_at, 'the session is ended');
    assert.equal(row.end_reason, 'refresh_reuse');
    const events = await ctx().services.db.query<{ user_id: string; detail: { jti: string } }>(
      `SELECT user_id, detail FROM security_events WHERE type = 'refresh_reuse' AND session_id = $1`,
      [sid],
    );
    assert.equal(events.length, 1, 'one security event');
    assert.equal(events[0]!.user_id, decodeJwt(tokens.refresh_token).sub);
    assert.equal(events[0]!.detail.jti, decodeJwt(tokens.refresh_token).jti, 'the event names the replayed token');

    assertErrorResponse(await refresh(ctx().app, successor.refresh_token), { status: 400, error: 'invalid_grant' });
    const userinfo = await ctx().app.inject({
      url: '/userinfo',
      headers: { authorization: `Bearer ${successor.access_token}` },
    });
    assertErrorResponse(userinfo, { status: 401, error: 'invalid_token' });
    // The user's other session (another device) is not affected.
    const other = await refresh(ctx().app, otherSession.refresh_token);
    assert.equal(other.statusCode, 200, other.body);
  });

  it('leaves the token usable after a refused wider scope, even without a grace window', async () => {
    const { tokens } = await registerAndLogin(ctx().app);
    assertErrorResponse(await refresh(ctx().app, tokens.refresh_token, { scope: 'openid profile email admin' }), {
      status: 400,
      error: 'invalid_scope',
    });
    const ok = await refresh(ctx().app, tokens.refresh_token);
    assert.equal(ok.statusCode, 200, ok.body);
    const [row] = await ctx().services.db.query<SessionState>(
      'SELECT current_jti, ended_at, end_reason FROM sessions WHERE id = $1',
      [decodeJwt(tokens.refresh_token).sid],
    );
    assert.equal(row?.ended_at, null);
  });

  it('still ends the session when a retired token comes back asking for a wider scope', async () => {
    const { tokens } = await registerAndLogin(ctx().app);
    const successor = (await refresh(ctx().app, tokens.refresh_token)).json<Tokens>();
    assertErrorResponse(await refresh(ctx().app, tokens.refresh_token, { scope: 'openid admin' }), {
      status: 400,
      error: 'invalid_grant',
    });
    const [row] = await ctx().services.db.query<SessionState>(
      'SELECT current_jti, ended_at, end_reason FROM sessions WHERE id = $1',
      [decodeJwt(tokens.refresh_token).sid],
    );
    assert.equal(row?.end_reason, 'refresh_reuse');
    assertErrorResponse(await refresh(ctx().app, successor.refresh_token), { status: 400, error: 'invalid_grant' });
  });
});
