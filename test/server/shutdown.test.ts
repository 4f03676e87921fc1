// What close() does to connections, over real sockets: idle keep-alive connections end at
// once, the listener refuses new ones, a request in flight completes with its 200 and
// `Connection: close`, and /readyz answers 503 from then on.
import assert from 'node:assert/strict';
import { test } from 'node:test';
import type { AddressInfo } from 'node:net';
import { setTimeout as sleep } from 'node:timers/promises';
import { build, registerAndLogin } from '../helpers/build.js';
import { openConnection, requestHead, untilRefused } from './raw-http.js';

test('close(): idle connections end, in-flight requests finish with connection: close, /readyz 503', async (t) => {
  const { app } = await build(t);
  const { email, password } = await registerAndLogin(app);
  await app.listen({ port: 0, host: '127.0.0.1' });
  const { port } = app.server.address() as AddressInfo;

  const idle = await openConnection(port);
  idle.write('GET /readyz HTTP/1.1\r\nHost: 127.0.0.1\r\n\r\n');
  const ready = await idle.response();
  assert.equal(ready.status, 200);
  assert.equal(ready.headers.connection, 'keep-alive');

  // A login whose body has not all arrived (routed already, its handler not run yet), and a
  // readiness check whose head has not all arrived (not routed yet).
  const body = JSON.stringify({ email, password });
  const login = await openConnection(port);
  login.write(requestHead('POST', '/auth/login', { 'content-type': 'application/json' }, body.length));
  login.write(body.slice(0, 10));
  const readiness = await openConnection(port);
  readiness.write('GET /readyz HTTP/1.1\r\nHost: 127.0.0.1\r\n');
  // Let the server read those bytes: a connection it has read nothing from counts as idle.
  await sleep(300);

  const closing = app.close();
  await idle.closed;
  await untilRefused(port);

  readiness.write('\r\n');
  const notReady = await readiness.response();
  assert.equal(notReady.status, 503);
  assert.deepEqual(JSON.parse(notReady.body), { status: 'closing' });
  assert.equal(notReady.headers.connection, 'close');

  login.write(body.slice(10));
  const res = await login.response();
  assert.equal(res.status, 200, res.body);
  assert.ok((JSON.parse(res.body) as { access_token?: string }).access_token);
  assert.equal(res.headers.connection, 'close', 'the client is told not to send another request on it');
  await Promise.all([login.closed, readiness.closed]);
  await closing;
});
