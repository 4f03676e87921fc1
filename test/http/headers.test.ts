// Security headers on every route of the OpenAPI document, for each status class.
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { readFileSync } from 'node:fs';
import { parse } from 'yaml';
import type { LightMyRequestResponse } from 'fastify';
import { build, userWithRoles } from '../helpers/build.js';

const doc = parse(readFileSync(new URL('../../openapi.yaml', import.meta.url), 'utf8')) as {
  paths: Record<string, Record<string, unknown>>;
};
const operations = Object.entries(doc.paths).flatMap(([path, ops]) =>
  Object.keys(ops)
    .filter((m) => ['get', 'post', 'patch', 'delete'].includes(m))
    .map((method) => ({
      method: method.toUpperCase() as 'GET' | 'POST' | 'PATCH' | 'DELETE',
      path,
      url: path.replace(/\{[^}]+\}/g, '00000000-0000-4000-8000-000000000000'),
    })),
);
/** The hosted pages answer HTML (their CSP is checked in test/oidc and test/authorization). */
const HOSTED_PAGES = new Set([
  '/oauth/authorize',
  '/oauth/authorize/login',
  '/oauth/authorize/consent',
  '/oauth/authorize/mfa',
  '/oauth/authorize/passkey',
  '/oauth/authorize/enrol',
  '/oauth/authorize/continue',
  '/oauth/logout',
  '/oauth/logout/confirm',
  '/account/verify-email',
  '/account/password-reset',
  '/account/password-reset/confirm',
]);
/** Public discovery documents and the stylesheet may be cached; everything else must not be. */
const CACHEABLE = new Set([
  '/.well-known/jwks.json',
  '/.well-known/oauth-authorization-server',
  '/.well-known/openid-configuration',
  '/assets/tessera.css',
  '/assets/passkey.js',
]);

function assertHeaders(res: LightMyRequestResponse, path: string, label: string) {
  const h = res.headers;
  const csp = String(h['content-security-policy']);
  assert.match(csp, /default-src 'none'/, `${label}: CSP`);
  assert.match(csp, /frame-ancestors 'none'/, `${label}: frame-ancestors`);
  assert.equal(h['x-content-type-options'], 'nosniff', `${label}: nosniff`);
  // Hosted pages send same-origin, so their own form posts carry a real Origin; the account
  // pages whose URL carries a mail link's token send no-referrer, so the token never leaves.
  const html = String(h['content-type']).startsWith('text/html');
  const tokenInUrl = /^GET \/account\/(verify-email|password-reset\/confirm)\b/.test(label);
  assert.equal(h['referrer-policy'], html && !tokenInUrl ? 'same-origin' : 'no-referrer', `${label}: referrer policy`);
  assert.equal(h['x-powered-by'], undefined, `${label}: no x-powered-by`);
  if (!(CACHEABLE.has(path) && res.statusCode < 400))
    assert.equal(h['cache-control'], 'no-store', `${label}: no-store`);
  // GET /metrics answers Prometheus text, its exposition format; the hosted pages HTML; the
  // stylesheet CSS; everything else JSON.
  const type =
    path === '/metrics' && res.statusCode === 200
      ? /^text\/plain; version=0\.0\.4; charset=utf-8$/
      : HOSTED_PAGES.has(path)
        ? /^text\/html; charset=utf-8$/
        : path === '/assets/tessera.css' && res.statusCode === 200
          ? /^text\/css; charset=utf-8$/
          : path === '/assets/passkey.js' && res.statusCode === 200
            ? /^text\/javascript; charset=utf-8$/
            : /^application\/json; charset=utf-8$/;
  if (res.body.length > 0) assert.match(String(h['content-type']), type, `${label}: JSON with charset`);
}

test(`headers on every documented route (${operations.length} operations), 2xx and 4xx`, async (t) => {
  const built = await build(t);
  const admin = await userWithRoles(built, ['admin']);
  const seen = new Set<number>();
  for (const op of operations) {
    for (const [who, headers] of [
      ['anonymous', {}],
      ['admin', admin.auth],
    ] as const) {
      const res = await built.app.inject({
        method: op.method,
        url: op.url,
        headers,
        ...(op.method === 'POST' || op.method === 'PATCH' ? { payload: {} } : {}),
      });
      assert.ok(res.statusCode < 500, `${op.method} ${op.path} as ${who}: ${res.statusCode}`);
      seen.add(Math.floor(res.statusCode / 100));
      assertHeaders(res, op.path, `${op.method} ${op.path} as ${who} (${res.statusCode})`);
    }
  }
  const notFound = await built.app.inject({ method: 'GET', url: '/definitely/not/here' });
  assertHeaders(notFound, '/definitely/not/here', '404');
  assert.ok(seen.has(2) && seen.has(4));
});

test('headers on a 5xx, and no internals in its body', async (t) => {
  const built = await build(t);
  const user = await userWithRoles(built, ['user']);
  t.mock.method(built.services.db, 'query', async () => {
    throw new Error('relation "users" does not exist at /work/main/src/db/x.ts:1');
  });
  const res = await built.app.inject({ method: 'GET', url: '/userinfo', headers: user.auth });
  assert.equal(res.statusCode, 500);
  assert.deepEqual(res.json(), { error: 'server_error', error_description: 'Internal server error' });
  assertHeaders(res, '/userinfo', '500');
});
