// Per-IP rate limits: 429 rate_limited with Retry-After and RateLimit headers.
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { build, uniqueEmail } from '../helpers/build.js';

test('login is limited per client IP, and a forged X-Forwarded-For does not reset it', async (t) => {
  const { app } = await build(t, { LOGIN_RATE_LIMIT: '5' });
  const statuses: number[] = [];
  let last: Awaited<ReturnType<typeof app.inject>> | undefined;
  for (let i = 0; i < 7; i++) {
    last = await app.inject({
      method: 'POST',
      url: '/auth/login',
      headers: { 'x-forwarded-for': `203.0.113.${i}` },
      payload: { email: uniqueEmail(), password: 'whatever-password' },
    });
    statuses.push(last.statusCode);
  }
  assert.deepEqual(statuses, [401, 401, 401, 401, 401, 429, 429]);
  assert.equal(last!.json().error, 'rate_limited');
  assert.deepEqual(Object.keys(last!.json()).sort(), ['error', 'error_description']);
  assert.ok(Number(last!.headers['retry-after']) >= 1);
  assert.equal(last!.headers['ratelimit-limit'], '5');
  assert.equal(last!.headers['ratelimit-remaining'], '0');
  // Another client is not affected.
  const other = await app.inject({
    method: 'POST',
    url: '/auth/login',
    remoteAddress: '127.0.0.3',
    payload: { email: uniqueEmail(), password: 'whatever-password' },
  });
  assert.equal(other.statusCode, 401);
});

test('behind a trusted proxy the forwarded client address is used', async (t) => {
  const { app } = await build(t, { LOGIN_RATE_LIMIT: '2', TRUST_PROXY: '127.0.0.1' });
  const from = (ip: string) =>
    app.inject({
      method: 'POST',
      url: '/auth/login',
      headers: { 'x-forwarded-for': ip },
      payload: { email: uniqueEmail(), password: 'whatever-password' },
    });
  assert.equal((await from('198.51.100.1')).statusCode, 401);
  assert.equal((await from('198.51.100.1')).statusCode, 401);
  assert.equal((await from('198.51.100.1')).statusCode, 429);
  assert.equal((await from('198.51.100.2')).statusCode, 401, 'another client behind the proxy has its own budget');
});

test('registration and the token endpoint have their own limits', async (t) => {
  const { app } = await build(t, { REGISTRATION_RATE_LIMIT: '1', TOKEN_RATE_LIMIT: '1' });
  const reg = () => app.inject({ method: 'POST', url: '/users', payload: { email: uniqueEmail(), password: 'x' } });
  assert.equal((await reg()).statusCode, 400);
  assert.equal((await reg()).statusCode, 429);
  const token = () =>
    app.inject({
      method: 'POST',
      url: '/oauth/token',
      headers: { 'content-type': 'application/x-www-form-urlencoded' },
      payload: 'grant_type=password',
    });
  assert.equal((await token()).statusCode, 400);
  assert.equal((await token()).statusCode, 429);
});

test('unknown routes count against the global ceiling like any other', async (t) => {
  const { app } = await build(t, { RATE_LIMIT_MAX: '3' });
  const codes: number[] = [];
  for (let i = 0; i < 4; i++) codes.push((await app.inject({ method: 'GET', url: `/nope-${i}` })).statusCode);
  assert.deepEqual(codes, [404, 404, 404, 429]);
  const health = await app.inject({ method: 'GET', url: '/healthz' });
  assert.equal(health.statusCode, 429, 'the same per-IP budget');
  assert.equal(health.json().error, 'rate_limited');
});
