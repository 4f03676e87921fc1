// Discovery (RFC 8414), the JWKS (RFC 7517) and /userinfo, as a resource service and a
// client see them; then end to end over a real socket with jose's remote key set.
import { describe, it } from 'node:test';
import assert from 'node:assert/strict';
import {
  calculateJwkThumbprint,
  createRemoteJWKSet,
  decodeJwt,
  decodeProtectedHeader,
  jwtVerify,
  type JWK,
} from 'jose';
import { GOOD_PASSWORD, build, registerAndLogin, uniqueEmail, freePort } from '../helpers/build.js';
import { WITHOUT_LIMITS, assertErrorResponse, suiteApp } from './suite-app.js';

const ISSUER = 'http://localhost:3000';
const PUBLIC_MEMBERS = new Set(['kty', 'kid', 'alg', 'use', 'crv', 'x', 'y', 'n', 'e']);
const PRIVATE_MEMBERS = ['d', 'p', 'q', 'dp', 'dq', 'qi', 'k', 'oth'];

describe('discovery, JWKS and userinfo', () => {
  const ctx = suiteApp();
  const get = (url: string, headers: Record<string, string> = {}) => ctx().app.inject({ method: 'GET', url, headers });

  it('serves the JWKS cacheable, with an ETag, public members only and no refresh key', async () => {
    const { tokens } = await registerAndLogin(ctx().app);
    const res = await get('/.well-known/jwks.json');
    assert.equal(res.statusCode, 200);
    assert.equal(res.headers['cache-control'], 'public, max-age=300');
    assert.match(res.headers['content-type'] as string, /^application\/json/);
    assert.match(String(res.headers.etag), /^"[^"]+"$/);
    const { keys } = res.json<{ keys: JWK[] }>();
    assert.ok(keys.length >= 1);
    for (const key of keys) {
      for (const member of Object.keys(key)) assert.ok(PUBLIC_MEMBERS.has(member), `unexpected member ${member}`);
      for (const member of PRIVATE_MEMBERS)
        assert.equal((key as Record<string, unknown>)[member], undefined, `private member ${member}`);
      assert.equal(key.use, 'sig');
      assert.equal(key.kid, await calculateJwkThumbprint(key, 'sha256'), 'kid is the RFC 7638 thumbprint');
    }
    const kids = keys.map((k) => k.kid);
    assert.ok(kids.includes(decodeProtectedHeader(tokens.access_token).kid), 'the access key is published');
    assert.ok(!kids.includes(decodeProtectedHeader(tokens.refresh_token).kid), 'the refresh key is not');
    const refreshKids = await ctx().services.db.query<{ kid: string }>(
      `SELECT kid FROM signing_keys WHERE purpose = 'refresh'`,
    );
    assert.ok(refreshKids.length >= 1);
    for (const { kid } of refreshKids) assert.ok(!kids.includes(kid), `refresh key ${kid} is not published`);
  });

  it('answers a conditional GET with 304 and no body', async () => {
    const first = await get('/.well-known/jwks.json');
    const etag = String(first.headers.etag);
    for (const ifNoneMatch of [etag, `W/${etag}`, `"something-else", ${etag}`]) {
      const res = await get('/.well-known/jwks.json', { 'if-none-match': ifNoneMatch });
      assert.equal(res.statusCode, 304, ifNoneMatch);
      assert.equal(res.body, '');
      assert.equal(res.headers.etag, etag);
      assert.equal(res.headers['cache-control'], 'public, max-age=300');
      // RFC 9110 8.6: no Content-Length unless it is the length of the 200 body.
      const length = res.headers['content-length'];
      assert.ok(length === undefined || Number(length) === Buffer.byteLength(first.body), `content-length ${length}`);
    }
    const changed = await get('/.well-known/jwks.json', { 'if-none-match': '"stale"' });
    assert.equal(changed.statusCode, 200);
    assert.equal(changed.body, first.body);
  });

  it('publishes the same RFC 8414 metadata on both well-known paths', async () => {
    const a = await get('/.well-known/oauth-authorization-server');
    const b = await get('/.well-known/openid-configuration');
    for (const res of [a, b]) {
      assert.equal(res.statusCode, 200);
      const m = res.json();
      assert.equal(m.issuer, ISSUER);
      assert.equal(m.token_endpoint, `${ISSUER}/oauth/token`);
      assert.equal(m.jwks_uri, `${ISSUER}/.well-known/jwks.json`);
      assert.equal(m.userinfo_endpoint, `${ISSUER}/userinfo`);
      assert.ok(Array.isArray(m.grant_types_supported) && m.grant_types_supported.includes('refresh_token'));
      assert.ok(!m.grant_types_supported.includes('password'), 'the password grant is not advertised');
      assert.ok(
        Array.isArray(m.token_endpoint_auth_methods_supported) && m.token_endpoint_auth_methods_supported.length > 0,
      );
      assert.ok(Array.isArray(m.response_types_supported));
    }
    assert.deepEqual(a.json(), b.json());
  });

  it('answers /userinfo with sub, roles and the claims of the granted scopes', async () => {
    const { email, tokens } = await registerAndLogin(ctx().app);
    const [user] = await ctx().services.db.query<{ id: string; updated_at: Date }>(
      'SELECT id, updated_at FROM users WHERE email = $1',
      [email],
    );
    const updatedAt = Math.floor(new Date(user!.updated_at).getTime() / 1000);
    for (const scheme of ['Bearer', 'bearer']) {
      const res = await get('/userinfo', { authorization: `${scheme} ${tokens.access_token}` });
      assert.equal(res.statusCode, 200, res.body);
      // The default first-party scope is openid profile email.
      assert.deepEqual(res.json(), {
        sub: user!.id,
        roles: ['user'],
        email,
        email_verified: false,
        updated_at: updatedAt,
      });
      assert.equal(res.headers['cache-control'], 'no-store');
    }
  });

  it('refuses /userinfo without a token, with a tampered one or another scheme, with a Bearer challenge', async () => {
    const { tokens } = await registerAndLogin(ctx().app);
    const none = await get('/userinfo');
    assertErrorResponse(none, { status: 401, error: 'invalid_token' });
    assert.match(String(none.headers['www-authenticate']), /^Bearer realm="/);

    const [h, p, s] = tokens.access_token.split('.');
    const claims = decodeJwt(tokens.access_token);
    const elevated = Buffer.from(JSON.stringify({ ...claims, roles: ['admin'] })).toString('base64url');
    const cases = [
      `Bearer ${h}.${elevated}.${s}`,
      `Bearer ${h}.${p}.${s!.slice(0, -4)}AAAA`,
      `Bearer ${Buffer.from('{"alg":"none","typ":"at+jwt"}').toString('base64url')}.${p}.`,
      `Bearer ${tokens.access_token}x`,
      `Basic ${Buffer.from('user:pass').toString('base64')}`,
      `Bearer  ${tokens.access_token}`,
      'Bearer',
      `${tokens.access_token}`,
    ];
    for (const authorization of cases) {
      const res = await get('/userinfo', { authorization });
      assertErrorResponse(res, { status: 401, error: 'invalid_token' });
      assert.match(String(res.headers['www-authenticate']), /^Bearer /, authorization);
    }
    const tampered = await get('/userinfo', { authorization: `Bearer ${h}.${elevated}.${s}` });
    assert.match(String(tampered.headers['www-authenticate']), /error="invalid_token"/);
  });

  it('answers /healthz and /readyz', async () => {
    const health = await get('/healthz');
    assert.equal(health.statusCode, 200);
    assert.deepEqual(health.json(), { status: 'ok' });
    const ready = await get('/readyz');
    assert.equal(ready.statusCode, 200);
    assert.deepEqual(ready.json(), { status: 'ready' });
  });
});

describe('end to end over a real socket', () => {
  it('lets a resource service verify access tokens from the published keys, never refresh tokens', async (t) => {
    // The ISSUER must be the address the app really listens on, so the port comes first.
    const port = await freePort();
    const issuer = `http://127.0.0.1:${port}`;
    const { app } = await build(t, { ...WITHOUT_LIMITS, ISSUER: issuer, JWKS_MAX_AGE: '120' });
    await app.listen({ port, host: '127.0.0.1' });

    const metadata = (await (await fetch(`${issuer}/.well-known/openid-configuration`)).json()) as Record<
      string,
      string
    >;
    assert.equal(metadata.issuer, issuer);
    assert.equal(metadata.token_endpoint, `${issuer}/oauth/token`);
    assert.equal(metadata.userinfo_endpoint, `${issuer}/userinfo`);
    assert.equal(metadata.jwks_uri, `${issuer}/.well-known/jwks.json`);
    const jwksResponse = await fetch(metadata.jwks_uri);
    assert.equal(jwksResponse.status, 200);
    assert.equal(jwksResponse.headers.get('cache-control'), 'public, max-age=120');
    const etag = jwksResponse.headers.get('etag');
    assert.ok(etag);
    const conditional = await fetch(metadata.jwks_uri, { headers: { 'if-none-match': etag } });
    assert.equal(conditional.status, 304);
    assert.equal(await conditional.text(), '');

    const email = uniqueEmail('socket');
    const reg = await fetch(`${issuer}/users`, {
      method: 'POST',
      headers: { 'content-type': 'application/json' },
      body: JSON.stringify({ email, password: GOOD_PASSWORD }),
    });
    assert.equal(reg.status, 201);
    const login = await fetch(`${issuer}/auth/login`, {
      method: 'POST',
      headers: { 'content-type': 'application/json' },
      body: JSON.stringify({ email, password: GOOD_PASSWORD }),
    });
    assert.equal(login.status, 200);
    assert.equal(login.headers.get('cache-control'), 'no-store');
    const tokens = (await login.json()) as { access_token: string; refresh_token: string };

    // What a resource service does: keys from jwks_uri, then check iss, aud and typ.
    const jwks = createRemoteJWKSet(new URL(metadata.jwks_uri));
    const { payload, protectedHeader } = await jwtVerify(tokens.access_token, jwks, {
      issuer,
      audience: issuer,
      typ: 'at+jwt',
    });
    assert.equal(protectedHeader.typ, 'at+jwt');
    assert.equal(payload.iss, issuer);
    assert.equal(payload.client_id, 'tessera');
    await assert.rejects(
      jwtVerify(tokens.refresh_token, jwks, { issuer }),
      (error: { code?: string }) => error.code === 'ERR_JWKS_NO_MATCHING_KEY',
    );
    await assert.rejects(jwtVerify(tokens.refresh_token, jwks, { issuer, audience: issuer, typ: 'at+jwt' }));

    const userinfo = await fetch(metadata.userinfo_endpoint, {
      headers: { authorization: `Bearer ${tokens.access_token}` },
    });
    assert.equal(userinfo.status, 200);
    const info = (await userinfo.json()) as { sub: string; email: string; roles: string[] };
    assert.deepEqual(
      { sub: info.sub, email: info.email, roles: info.roles },
      { sub: payload.sub, email, roles: ['user'] },
    );

    const anonymous = await fetch(metadata.userinfo_endpoint);
    assert.equal(anonymous.status, 401);
    assert.match(anonymous.headers.get('www-authenticate') ?? '', /^Bearer /);

    const refreshed = await fetch(metadata.token_endpoint, {
      method: 'POST',
      headers: { 'content-type': 'application/x-www-form-urlencoded' },
      body: new URLSearchParams({ grant_type: 'refresh_token', refresh_token: tokens.refresh_token }),
    });
    assert.equal(refreshed.status, 200);
    const next = (await refreshed.json()) as { access_token: string };
    await jwtVerify(next.access_token, jwks, { issuer, audience: issuer, typ: 'at+jwt' });
  });
});
