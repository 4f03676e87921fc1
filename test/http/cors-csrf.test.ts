// CORS from the exact allow-list, and CSRF defences of the browser (cookie) mode.
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { build, uniqueEmail, GOOD_PASSWORD, type Built } from '../helpers/build.js';
import { REFRESH_COOKIE } from '../../src/lib/refresh-cookie.js';

const APP_ORIGIN = 'https://app.example.com';
const FORM = { 'content-type': 'application/x-www-form-urlencoded' };

test('CORS: allowed origin, other origin, null, credentials and preflights', async (t) => {
  const { app } = await build(t, { CORS_ORIGINS: `${APP_ORIGIN},https://admin.example.com` });
  const allowed = await app.inject({ method: 'GET', url: '/.well-known/jwks.json', headers: { origin: APP_ORIGIN } });
  assert.equal(allowed.headers['access-control-allow-origin'], APP_ORIGIN);
  assert.equal(allowed.headers['access-control-allow-credentials'], 'true');
  assert.match(String(allowed.headers.vary), /origin/i);

  for (const origin of [
    'https://evil.example.com',
    'null',
    'https://app.example.com.evil.com',
    'http://app.example.com',
    'https://APP.example.com',
  ]) {
    const res = await app.inject({ method: 'GET', url: '/.well-known/jwks.json', headers: { origin } });
    assert.equal(res.headers['access-control-allow-origin'], undefined, origin);
    assert.equal(res.headers['access-control-allow-credentials'], undefined, origin);
  }

  const preflight = await app.inject({
    method: 'OPTIONS',
    url: '/oauth/token',
    headers: {
      origin: APP_ORIGIN,
      'access-control-request-method': 'POST',
      'access-control-request-headers': 'content-type,x-tessera-csrf',
    },
  });
  assert.equal(preflight.statusCode, 204);
  assert.equal(preflight.headers['access-control-allow-origin'], APP_ORIGIN);
  assert.match(String(preflight.headers['access-control-allow-headers']), /x-tessera-csrf/i);

  const noRoute = await app.inject({
    method: 'OPTIONS',
    url: '/no/such/route',
    headers: { origin: APP_ORIGIN, 'access-control-request-method': 'POST' },
  });
  assert.equal(noRoute.statusCode, 404, 'no preflight for a route that does not exist');
  const wrongMethod = await app.inject({
    method: 'OPTIONS',
    url: '/oauth/token',
    headers: { origin: APP_ORIGIN, 'access-control-request-method': 'DELETE' },
  });
  assert.equal(wrongMethod.statusCode, 404, 'nor for a method the route does not have');
  const evil = await app.inject({
    method: 'OPTIONS',
    url: '/oauth/token',
    headers: { origin: 'https://evil.example.com', 'access-control-request-method': 'POST' },
  });
  assert.equal(evil.headers['access-control-allow-origin'], undefined);
});

test('CORS: with no CORS_ORIGINS nothing cross-origin is allowed', async (t) => {
  const { app } = await build(t);
  const res = await app.inject({ method: 'GET', url: '/healthz', headers: { origin: APP_ORIGIN } });
  assert.equal(res.headers['access-control-allow-origin'], undefined);
});

async function cookieLogin(built: Built) {
  const email = uniqueEmail('browser');
  await built.app.inject({ method: 'POST', url: '/users', payload: { email, password: GOOD_PASSWORD } });
  const login = await built.app.inject({
    method: 'POST',
    url: '/auth/login',
    payload: { email, password: GOOD_PASSWORD, refresh_token_mode: 'cookie' },
  });
  assert.equal(login.statusCode, 200, login.body);
  const cookie = login.cookies.find((c) => c.name === REFRESH_COOKIE)!;
  return { login, cookie };
}

const currentJti = async (built: Built, token: string) => {
  const sid = JSON.parse(Buffer.from(token.split('.')[1]!, 'base64url').toString()).sid as string;
  const [row] = await built.services.db.query<{ current_jti: string; ended_at: Date | null }>(
    'SELECT current_jti, ended_at FROM sessions WHERE id = $1',
    [sid],
  );
  return row!;
};

test('browser mode: the refresh token is a __Host-, HttpOnly, Secure, SameSite=Strict cookie, never in the body', async (t) => {
  const built = await build(t, { CORS_ORIGINS: APP_ORIGIN });
  const { login, cookie } = await cookieLogin(built);
  assert.equal(login.json().refresh_token, undefined);
  assert.ok(login.json().access_token);
  assert.equal(cookie.httpOnly, true);
  assert.equal(cookie.secure, true);
  assert.equal(cookie.sameSite, 'Strict');
  assert.equal(cookie.path, '/', '__Host- cookies have Path=/');
  assert.equal(cookie.name, '__Host-tessera-refresh');
  assert.equal(cookie.domain, undefined, 'no Domain: this host only');
  assert.ok(Number(cookie.maxAge) > 0);

  const ok = await built.app.inject({
    method: 'POST',
    url: '/oauth/token',
    headers: { ...FORM, origin: APP_ORIGIN, 'x-tessera-csrf': '1' },
    cookies: { [REFRESH_COOKIE]: cookie.value },
    payload: 'grant_type=refresh_token',
  });
  assert.equal(ok.statusCode, 200, ok.body);
  assert.equal(ok.json().refresh_token, undefined);
  const next = ok.cookies.find((c) => c.name === REFRESH_COOKIE)!;
  assert.ok(next.value && next.value !== cookie.value, 'a rotated cookie');
});

test('CSRF: cross-site Origin, missing header and a text/plain body are refused and change nothing', async (t) => {
  const built = await build(t, { CORS_ORIGINS: APP_ORIGIN });
  const { cookie } = await cookieLogin(built);
  const before = await currentJti(built, cookie.value);
  const attempts = [
    {
      name: 'cross-site origin',
      headers: { ...FORM, origin: 'https://evil.example.com', 'x-tessera-csrf': '1' },
      payload: 'grant_type=refresh_token',
      status: 403,
    },
    {
      name: 'missing header',
      headers: { ...FORM, origin: APP_ORIGIN },
      payload: 'grant_type=refresh_token',
      status: 403,
    },
    {
      name: 'cross-site fetch without origin',
      headers: { ...FORM, 'sec-fetch-site': 'cross-site', 'x-tessera-csrf': '1' },
      payload: 'grant_type=refresh_token',
      status: 403,
    },
    {
      name: 'text/plain body',
      headers: { 'content-type': 'text/plain', origin: APP_ORIGIN, 'x-tessera-csrf': '1' },
      payload: 'grant_type=refresh_token',
      status: 415,
    },
  ];
  for (const attempt of attempts) {
    for (const url of ['/oauth/token', '/oauth/revoke']) {
      const res = await built.app.inject({
        method: 'POST',
        url,
        headers: attempt.headers,
        cookies: { [REFRESH_COOKIE]: cookie.value },
        payload: attempt.payload,
      });
      assert.equal(res.statusCode, attempt.status, `${attempt.name} at ${url}: ${res.body}`);
      assert.equal(res.cookies.length, 0, 'no cookie set or cleared');
    }
  }
  const after = await currentJti(built, cookie.value);
  assert.equal(after.current_jti, before.current_jti, 'the session did not rotate');
  assert.equal(after.ended_at, null, 'the session did not end');
});

test('browser mode logout clears the cookie and ends the session', async (t) => {
  const built = await build(t, { CORS_ORIGINS: APP_ORIGIN });
  const { cookie } = await cookieLogin(built);
  const res = await built.app.inject({
    method: 'POST',
    url: '/oauth/revoke',
    headers: { ...FORM, origin: APP_ORIGIN, 'x-tessera-csrf': '1' },
    cookies: { [REFRESH_COOKIE]: cookie.value },
    payload: '',
  });
  assert.equal(res.statusCode, 200, res.body);
  const cleared = res.cookies.find((c) => c.name === REFRESH_COOKIE)!;
  assert.equal(cleared.value, '');
  assert.equal(Number(cleared.maxAge), 0);
  assert.ok((await currentJti(built, cookie.value)).ended_at);
});
