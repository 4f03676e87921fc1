// ASVS V4 (API and web service): message framing a smuggler could exploit is refused, and
// every answer names its media type with a charset.
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { connect } from 'node:net';
import { build } from '../helpers/build.js';

/** Writes raw bytes and collects everything the server sends until it closes (or 5 s). */
function raw(port: number, bytes: string): Promise<string> {
  return new Promise((resolve, reject) => {
    const socket = connect({ host: '127.0.0.1', port }, () => socket.write(bytes));
    let data = '';
    const timer = setTimeout(() => socket.destroy(), 5000);
    socket.on('data', (chunk) => (data += chunk.toString('latin1')));
    socket.on('close', () => {
      clearTimeout(timer);
      resolve(data);
    });
    socket.on('error', reject);
  });
}

test('a request framed by both Transfer-Encoding and Content-Length is refused, and what it hides never runs', async (t) => {
  const { app } = await build(t);
  await app.listen({ port: 0, host: '127.0.0.1' });
  const port = (app.server.address() as { port: number }).port;
  const hidden = 'GET /.well-known/jwks.json HTTP/1.1\r\nHost: 127.0.0.1\r\n\r\n';
  const body = `0\r\n\r\n${hidden}`;
  for (const framing of [
    `Content-Length: ${body.length}\r\nTransfer-Encoding: chunked\r\n`,
    `Transfer-Encoding: chunked\r\nContent-Length: 3\r\n`,
    `Transfer-Encoding: chunked\r\nTransfer-Encoding: identity\r\n`,
    `Content-Length: 3\r\nContent-Length: ${body.length}\r\n`,
  ]) {
    const answer = await raw(
      port,
      `POST /auth/login HTTP/1.1\r\nHost: 127.0.0.1\r\nContent-Type: application/json\r\n${framing}\r\n${body}`,
    );
    const statuses = [...answer.matchAll(/^HTTP\/1\.1 (\d{3})/gm)].map((m) => m[1]);
    assert.deepEqual(statuses, ['400'], `${JSON.stringify(framing)}: ${answer.slice(0, 200)}`);
    assert.doesNotMatch(answer, /"keys"/, 'the hidden request got no answer');
  }
});

test('every kind of answer names its media type with charset=utf-8 and carries nosniff, a framing-proof CSP and a referrer policy that sends nothing to other sites', async (t) => {
  const { app } = await build(t);
  const json = [
    await app.inject({ method: 'GET', url: '/.well-known/openid-configuration' }),
    await app.inject({ method: 'GET', url: '/users/me' }),
    await app.inject({ method: 'GET', url: '/no/such/route' }),
    await app.inject({ method: 'POST', url: '/auth/login', payload: { email: 'x' } }),
  ];
  for (const res of json) assert.equal(res.headers['content-type'], 'application/json; charset=utf-8', res.body);
  const page = await app.inject({ method: 'GET', url: '/oauth/authorize?client_id=unknown' });
  assert.equal(page.headers['content-type'], 'text/html; charset=utf-8');
  assert.match(page.body, /^<!doctype html>/i);
  const css = await app.inject({ method: 'GET', url: '/assets/tessera.css' });
  assert.equal(css.headers['content-type'], 'text/css; charset=utf-8');
  for (const res of [...json, page, css]) {
    assert.equal(res.headers['x-content-type-options'], 'nosniff');
    // The pages say same-origin so their own form posts keep a real Origin; other sites get nothing.
    assert.equal(res.headers['referrer-policy'], res === page ? 'same-origin' : 'no-referrer');
    const csp = String(res.headers['content-security-policy']);
    const directives = csp.split(';').map((d) => d.trim());
    assert.ok(directives.includes("default-src 'none'"), csp);
    assert.ok(directives.includes("frame-ancestors 'none'"), csp);
  }
});
