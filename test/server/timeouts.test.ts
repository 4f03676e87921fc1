// KEEP_ALIVE_TIMEOUT and REQUEST_TIMEOUT reach Node's HTTP server: its settings, what the
// responses announce, and over real sockets what an idle connection and a slow request get.
import assert from 'node:assert/strict';
import { test } from 'node:test';
import type { AddressInfo } from 'node:net';
import { setTimeout as sleep } from 'node:timers/promises';
import type { FastifyInstance } from 'fastify';
import { build } from '../helpers/build.js';
import { openConnection, requestHead } from './raw-http.js';

async function listen(app: FastifyInstance): Promise<number> {
  await app.listen({ port: 0, host: '127.0.0.1' });
  return (app.server.address() as AddressInfo).port;
}

const HEALTHZ = 'GET /healthz HTTP/1.1\r\nHost: 127.0.0.1\r\n\r\n';

test('the defaults: idle connections kept 72 s (and announced), a request must arrive within 30 s', async (t) => {
  const { app } = await build(t);
  assert.equal(app.server.keepAliveTimeout, 72_000);
  assert.equal(app.server.requestTimeout, 30_000);
  // Node refuses a headers limit above the request's; the whole request includes its headers.
  assert.equal(app.server.headersTimeout, 30_000);
  const connection = await openConnection(await listen(app));
  connection.write(HEALTHZ);
  const res = await connection.response();
  assert.equal(res.status, 200);
  assert.equal(res.headers.connection, 'keep-alive');
  assert.equal(res.headers['keep-alive'], 'timeout=72');
  connection.destroy();
});

test('the settings are taken: KEEP_ALIVE_TIMEOUT and REQUEST_TIMEOUT in seconds', async (t) => {
  const { app } = await build(t, { KEEP_ALIVE_TIMEOUT: '95', REQUEST_TIMEOUT: '12' });
  assert.equal(app.server.keepAliveTimeout, 95_000);
  assert.equal(app.server.requestTimeout, 12_000);
  assert.equal(app.server.headersTimeout, 12_000);
  const connection = await openConnection(await listen(app));
  connection.write(HEALTHZ);
  assert.equal((await connection.response()).headers['keep-alive'], 'timeout=95');
  connection.destroy();
});

test('KEEP_ALIVE_TIMEOUT: the server closes a connection idle that long', { timeout: 60_000 }, async (t) => {
  const { app } = await build(t, { KEEP_ALIVE_TIMEOUT: '1' });
  const connection = await openConnection(await listen(app));
  connection.write(HEALTHZ);
  assert.equal((await connection.response()).headers['keep-alive'], 'timeout=1');
  // This side sends nothing more and never closes: only the server's timer ends it.
  await connection.closed;
});

test(
  'REQUEST_TIMEOUT: a body that trickles is cut with a 408; an idle kept-alive connection outlives it',
  { timeout: 60_000 },
  async (t) => {
    const { app } = await build(t, { REQUEST_TIMEOUT: '1', KEEP_ALIVE_TIMEOUT: '600' });
    const port = await listen(app);
    const idle = await openConnection(port);
    idle.write(HEALTHZ);
    assert.equal((await idle.response()).status, 200);

    const slow = await openConnection(port);
    slow.write(requestHead('POST', '/auth/login', { 'content-type': 'application/json' }, 1000));
    const trickle = setInterval(() => slow.write(' '), 100);
    t.after(() => clearInterval(trickle));
    // Node looks for late requests every second here (every 30 s by default, which would let
    // this one run half a minute); 20 s is a bound only a stalled machine could reach.
    const limit = new AbortController();
    const res = await Promise.race([
      slow.response(),
      sleep(20_000, undefined, { signal: limit.signal }).then(() => assert.fail('not cut within 20 s')),
    ]).finally(() => limit.abort());
    clearInterval(trickle);
    assert.equal(res.status, 408);
    assert.equal(JSON.parse(res.body).error, 'request_timeout');
    await slow.closed;

    // Node checks both limits every second; two more checks leave the idle connection open:
    // the headers timer runs only while a request arrives, not between requests.
    await sleep(2_500);
    assert.equal(idle.isClosed(), false, 'an idle connection is not cut by the headers or request timeout');
    idle.write(HEALTHZ);
    assert.equal((await idle.response()).status, 200);
    idle.destroy();
  },
);
