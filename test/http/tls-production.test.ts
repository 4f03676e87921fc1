// HTTPS served directly (TLS 1.2+), HSTS, and plain HTTP refused in production.
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { readFileSync } from 'node:fs';
import { request as httpsRequest } from 'node:https';
import { connect } from 'node:tls';
import { build } from '../helpers/build.js';
import { selfSigned } from '../helpers/tls.js';

test('TLS_CERT_FILE/TLS_KEY_FILE serve HTTPS with HSTS; TLS 1.1 is refused', async (t) => {
  const { cert, key } = selfSigned();
  const { app } = await build(t, { TLS_CERT_FILE: cert, TLS_KEY_FILE: key, ISSUER: 'https://127.0.0.1:3443' });
  await app.listen({ port: 0, host: '127.0.0.1' });
  const port = (app.server.address() as { port: number }).port;
  const ca = readFileSync(cert);
  const res = await new Promise<{ status: number; headers: Record<string, unknown>; body: string }>(
    (resolve, reject) => {
      const req = httpsRequest({ host: '127.0.0.1', port, path: '/.well-known/jwks.json', ca }, (r) => {
        let body = '';
        r.on('data', (c) => (body += c));
        r.on('end', () => resolve({ status: r.statusCode!, headers: r.headers, body }));
      });
      req.on('error', reject);
      req.end();
    },
  );
  assert.equal(res.status, 200);
  assert.match(String(res.headers['strict-transport-security']), /max-age=\d{8,}; includeSubDomains/);
  assert.ok(JSON.parse(res.body).keys.length >= 1);

  const oldTls = await new Promise<string>((resolve) => {
    const socket = connect({ host: '127.0.0.1', port, ca, maxVersion: 'TLSv1.1', minVersion: 'TLSv1' }, () =>
      resolve('connected'),
    );
    socket.on('error', (e) => resolve(`refused: ${(e as NodeJS.ErrnoException).code}`));
  });
  assert.match(oldTls, /^refused/);
});

test('no HSTS over plain HTTP with an http issuer', async (t) => {
  const { app } = await build(t);
  const res = await app.inject({ method: 'GET', url: '/healthz' });
  assert.equal(res.headers['strict-transport-security'], undefined);
});

test(
  'production refuses API calls over plain HTTP instead of redirecting',
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
    const plain = await app.inject({
      method: 'POST',
      url: '/auth/login',
      payload: { email: 'a@example.com', password: 'whatever-password' },
    });
    assert.equal(plain.statusCode, 403);
    assert.deepEqual(plain.json(), { error: 'invalid_request', error_description: 'HTTPS is required' });
    assert.equal(plain.headers.location, undefined);
    const proxied = await app.inject({
      method: 'GET',
      url: '/.well-known/jwks.json',
      headers: { 'x-forwarded-proto': 'https' },
    });
    assert.equal(proxied.statusCode, 200, 'HTTPS terminated at a trusted proxy is fine');
    assert.match(String(proxied.headers['strict-transport-security']), /includeSubDomains/);
    assert.equal(
      (await app.inject({ method: 'GET', url: '/healthz' })).statusCode,
      200,
      'health probes may use plain HTTP',
    );
  },
);
