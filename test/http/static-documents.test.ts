// The JWKS and the discovery documents answered from precomputed bytes in the first hook
// (src/routes/well-known/static-documents.ts): the same security headers as every other
// answer, the same bytes as the full route, a new body and ETag when the keys change, and
// the requests it must not answer itself left to the full chain.
import { test } from 'node:test';
import assert from 'node:assert/strict';
import type { LightMyRequestResponse } from 'fastify';
import { build, userWithRoles } from '../helpers/build.js';
import { securityHeaders } from '../../src/lib/security-headers.js';

const JWKS = '/.well-known/jwks.json';
const METADATA = ['/.well-known/openid-configuration', '/.well-known/oauth-authorization-server'];
/** Every header the security set names, Cache-Control aside (the documents may be cached). */
const SECURITY = Object.keys(securityHeaders(true)).filter((name) => name !== 'cache-control');

const securityOf = (res: LightMyRequestResponse) =>
  Object.fromEntries(SECURITY.flatMap((name) => (res.headers[name] === undefined ? [] : [[name, res.headers[name]]])));

/** What a cache or a client sees of an answer: all headers but those of the connection. */
function answerOf(res: LightMyRequestResponse) {
  const { date: _date, connection: _connection, 'keep-alive': _keepAlive, ...headers } = res.headers;
  return { status: res.statusCode, headers, body: res.body };
}

test('the documents carry exactly the security headers of other answers, HSTS included', async (t) => {
  for (const issuer of ['http://localhost:3000', 'https://id.example.com']) {
    const { app } = await build(t, { ISSUER: issuer });
    // A 404, an error from the token endpoint and a 200 from the full chain.
    const others = [
      await app.inject({ method: 'GET', url: '/definitely/not/here' }),
      await app.inject({ method: 'POST', url: '/oauth/token', payload: 'grant_type=nope', headers: form }),
      await app.inject({ method: 'GET', url: '/healthz' }),
    ];
    const reference = securityOf(others[0]!);
    // Not vacuous: the set is there, HSTS exactly when the issuer is https.
    assert.equal(reference['content-security-policy'], "default-src 'none';base-uri 'none';frame-ancestors 'none'");
    assert.equal(reference['strict-transport-security'] !== undefined, issuer.startsWith('https:'), issuer);
    for (const other of others) assert.deepEqual(securityOf(other), reference, `${issuer}: ${other.statusCode}`);
    for (const url of [JWKS, ...METADATA]) {
      const res = await app.inject({ method: 'GET', url });
      assert.equal(res.statusCode, 200, url);
      assert.deepEqual(securityOf(res), reference, `${issuer} ${url}`);
      assert.equal(res.headers.vary, 'Origin', `${url}: caches keep cross-origin answers apart`);
    }
    const etag = String((await app.inject({ method: 'GET', url: JWKS })).headers.etag);
    const notModified = await app.inject({ method: 'GET', url: JWKS, headers: { 'if-none-match': etag } });
    assert.equal(notModified.statusCode, 304);
    assert.deepEqual(securityOf(notModified), reference, `${issuer}: 304`);
  }
});

const form = { 'content-type': 'application/x-www-form-urlencoded' };

test('the precomputed answer and the full route send the same bytes and headers', async (t) => {
  const { app } = await build(t, { CORS_ORIGINS: 'https://app.example.com' });
  for (const url of [JWKS, ...METADATA]) {
    const fast = answerOf(await app.inject({ method: 'GET', url }));
    // A query string is left to the route, which ignores it.
    const full = answerOf(await app.inject({ method: 'GET', url: `${url}?via=route` }));
    assert.deepEqual(fast, full, url);
    assert.ok(JSON.parse(fast.body), url);
    // A cross-origin request goes through CORS: the same answer, plus what CORS adds.
    const cors = await app.inject({ method: 'GET', url, headers: { origin: 'https://app.example.com' } });
    assert.equal(cors.headers['access-control-allow-origin'], 'https://app.example.com', url);
    assert.equal(cors.body, fast.body, url);
    assert.equal(cors.headers.etag, fast.headers.etag, url);
    const unlisted = await app.inject({ method: 'GET', url, headers: { origin: 'https://evil.example' } });
    assert.equal(unlisted.headers['access-control-allow-origin'], undefined, url);
    // HEAD: the route's headers, no body.
    const head = await app.inject({ method: 'HEAD', url });
    assert.equal(head.statusCode, 200);
    assert.equal(head.body, '');
    assert.equal(head.headers.etag, fast.headers.etag, url);
    assert.equal(head.headers['cache-control'], fast.headers['cache-control'], url);
  }
  // The metadata has no ETag, so If-None-Match changes nothing there.
  const metadata = await app.inject({ method: 'GET', url: METADATA[0]!, headers: { 'if-none-match': '*' } });
  assert.equal(metadata.statusCode, 200);
  assert.equal(metadata.headers.etag, undefined);
});

test('a key rotation or revocation changes the served JWKS and its ETag at the next key sync', async (t) => {
  const built = await build(t, { KEY_PUBLISH_AHEAD: '300' });
  const { app, services } = built;
  const kids = (res: LightMyRequestResponse) => res.json<{ keys: { kid: string }[] }>().keys.map((k) => k.kid);
  const before = await app.inject({ method: 'GET', url: JWKS });
  const etag = String(before.headers.etag);
  assert.equal((await app.inject({ method: 'GET', url: JWKS, headers: { 'if-none-match': etag } })).statusCode, 304);

  const { kid: next } = await services.keys.rotate('access');
  // Until this instance syncs, it serves what it holds (the full route would too).
  assert.equal((await app.inject({ method: 'GET', url: JWKS })).body, before.body);
  await services.syncKeys();
  const after = await app.inject({ method: 'GET', url: JWKS, headers: { 'if-none-match': etag } });
  assert.equal(after.statusCode, 200, 'the old ETag no longer matches');
  assert.notEqual(after.headers.etag, etag);
  assert.deepEqual(kids(after).sort(), [...kids(before), next].sort(), 'the next key is published ahead');
  assert.equal(after.headers['content-length'], String(Buffer.byteLength(after.body)));
  assert.deepEqual(answerOf(after), answerOf(await app.inject({ method: 'GET', url: `${JWKS}?full` })));
  const newEtag = String(after.headers.etag);
  assert.equal((await app.inject({ method: 'GET', url: JWKS, headers: { 'if-none-match': newEtag } })).statusCode, 304);

  await services.keys.revoke(next);
  await services.syncKeys();
  const revoked = await app.inject({ method: 'GET', url: JWKS });
  assert.ok(!kids(revoked).includes(next), 'a revoked key leaves the JWKS at once');
  assert.notEqual(revoked.headers.etag, newEtag);
});

test('not rate limited; everything else still is', async (t) => {
  const { app } = await build(t, { RATE_LIMIT_MAX: '3' });
  for (let i = 0; i < 6; i++) {
    for (const url of [JWKS, `${JWKS}?full`, ...METADATA]) {
      const res = await app.inject({ method: 'GET', url });
      assert.equal(res.statusCode, 200, `${url} #${i}`);
      assert.equal(res.headers['ratelimit-limit'], undefined, url);
    }
  }
  const statuses = [];
  for (let i = 0; i < 5; i++) statuses.push((await app.inject({ method: 'GET', url: '/healthz' })).statusCode);
  assert.deepEqual(statuses, [200, 200, 200, 429, 429]);
});

test('answers from the first hook are still timed in the metrics', async (t) => {
  const built = await build(t);
  const { app } = built;
  for (let i = 0; i < 3; i++) assert.equal((await app.inject({ method: 'GET', url: JWKS })).statusCode, 200);
  const etag = String((await app.inject({ method: 'GET', url: JWKS })).headers.etag);
  await app.inject({ method: 'GET', url: JWKS, headers: { 'if-none-match': etag } });
  const admin = await userWithRoles(built, ['admin']);
  const metrics = await app.inject({ method: 'GET', url: '/metrics', headers: admin.auth });
  assert.equal(metrics.statusCode, 200);
  const count = (status: number) => {
    const prefix = `tessera_http_request_duration_seconds_count{method="GET",route="${JWKS}",status="${status}"}`;
    return Number(
      metrics.body
        .split('\n')
        .find((l) => l.startsWith(prefix))
        ?.split(' ')[1],
    );
  };
  assert.equal(count(200), 4);
  assert.equal(count(304), 1);
});

test(
  'plain HTTP in production is refused for the documents too; over HTTPS they are served',
  { skip: !process.env.TEST_DATABASE_URL && 'production needs PostgreSQL' },
  async (t) => {
    const { app } = await build(t, {
      NODE_ENV: 'production',
      // Production with open registration needs a mail server; nothing is sent to it here.
      SMTP_URL: 'smtp://127.0.0.1:9',
      ISSUER: 'https://id.example.com',
      TRUST_PROXY: '127.0.0.1',
      CAPTCHA_SECRET: 'test-secret',
    });
    for (const url of [JWKS, ...METADATA]) {
      const plain = await app.inject({ method: 'GET', url });
      assert.equal(plain.statusCode, 403, url);
      assert.equal(plain.headers['cache-control'], 'no-store', url);
      const proxied = await app.inject({ method: 'GET', url, headers: { 'x-forwarded-proto': 'https' } });
      assert.equal(proxied.statusCode, 200, url);
      assert.match(String(proxied.headers['strict-transport-security']), /includeSubDomains/);
    }
  },
);
