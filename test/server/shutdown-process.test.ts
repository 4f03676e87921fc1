// `tessera serve` on signals, as a real process: SIGTERM lets a request in flight finish and
// exits 0 logging 'closing' and 'closed'; SHUTDOWN_TIMEOUT cuts a client that trickles its
// body and the process exits 1 saying so; a second signal exits at once.
import assert from 'node:assert/strict';
import { test } from 'node:test';
import { uniqueEmail, GOOD_PASSWORD } from '../helpers/build.js';
import { createUser, instanceEnv, startInstance, type Instance } from '../helpers/instances.js';
import { openConnection, requestHead, untilRefused, type RawConnection } from './raw-http.js';

const JSON_TYPE = { 'content-type': 'application/json' };

/** A login whose head is sent and whose body then comes one byte every 100 ms, never whole. */
async function trickle(instance: Instance, t: { after(fn: () => void): void }): Promise<RawConnection> {
  const connection = await openConnection(instance.port);
  connection.write(requestHead('POST', '/auth/login', JSON_TYPE, 3000));
  const timer = setInterval(() => connection.write(' '), 100);
  void connection.closed.then(() => clearInterval(timer));
  t.after(() => {
    clearInterval(timer);
    connection.destroy();
  });
  return connection;
}

function logged(instance: Instance, msg: string): Record<string, unknown> | undefined {
  return instance.records().find((r) => r.msg === msg);
}

async function untilLogged(instance: Instance, msg: string): Promise<void> {
  while (!logged(instance, msg)) await new Promise((resolve) => setTimeout(resolve, 50));
}

test('SIGTERM: a request in flight completes with 200 and connection: close, then exit 0', async (t) => {
  const env = await instanceEnv();
  const email = uniqueEmail('shutdown');
  await createUser(env, email);
  const instance = await startInstance(t, env);

  const body = JSON.stringify({ email, password: GOOD_PASSWORD });
  const login = await openConnection(instance.port);
  login.write(requestHead('POST', '/auth/login', JSON_TYPE, body.length));
  login.write(body.slice(0, 10));
  await new Promise((resolve) => setTimeout(resolve, 300));

  const exited = instance.stop('SIGTERM');
  await untilRefused(instance.port);
  login.write(body.slice(10));
  const res = await login.response();
  assert.equal(res.status, 200, res.body);
  assert.equal(res.headers.connection, 'close');
  assert.equal(await exited, 0);

  assert.deepEqual(logged(instance, 'closing')?.signal, 'SIGTERM');
  assert.equal(typeof logged(instance, 'closed')?.ms, 'number');
});

test(
  'SHUTDOWN_TIMEOUT: a body still trickling in is cut and the process exits 1 saying so',
  { timeout: 120_000 },
  async (t) => {
    // REQUEST_TIMEOUT far above: only the shutdown limit can end the slow request.
    const instance = await startInstance(t, await instanceEnv({ SHUTDOWN_TIMEOUT: '2', REQUEST_TIMEOUT: '600' }));
    const slow = await trickle(instance, t);
    await new Promise((resolve) => setTimeout(resolve, 300));
    assert.equal(await instance.stop('SIGTERM'), 1);
    await assert.rejects(slow.response(), /closed without a whole response/, 'cut, not answered');
    const line = logged(instance, 'not closed within SHUTDOWN_TIMEOUT: cutting what is left, exiting 1');
    assert.ok(line, instance.output());
    assert.equal(line.shutdownTimeout, 2);
    assert.equal(line.connections, 1, 'the trickling client was what was left');
    // Not before SHUTDOWN_TIMEOUT (its timer starts just before the 'closing' line is
    // written, hence the 100 ms); the upper bound is ten times over, for a loaded machine.
    const waited = Date.parse(String(line.time)) - Date.parse(String(logged(instance, 'closing')?.time));
    assert.ok(waited >= 1_900 && waited < 20_000, `cut ${waited} ms after the signal`);
    assert.equal(logged(instance, 'closed'), undefined);
  },
);

test('a second signal while closing exits 1 at once', { timeout: 120_000 }, async (t) => {
  // Without the second signal this would wait SHUTDOWN_TIMEOUT, past the test's timeout.
  const instance = await startInstance(t, await instanceEnv({ SHUTDOWN_TIMEOUT: '600', REQUEST_TIMEOUT: '600' }));
  await trickle(instance, t);
  await new Promise((resolve) => setTimeout(resolve, 300));
  const exited = instance.stop('SIGTERM');
  await untilLogged(instance, 'closing');
  void instance.stop('SIGINT');
  assert.equal(await exited, 1);
  assert.equal(logged(instance, 'second signal while closing: exiting 1 at once')?.signal, 'SIGINT');
});

test('SHUTDOWN_DELAY: after SIGTERM it still accepts, fails readiness and closes each connection, then exits 0', async (t) => {
  const instance = await startInstance(t, await instanceEnv({ SHUTDOWN_DELAY: '3' }));
  // A kept-alive connection opened before the signal, as a balancer holds them.
  const kept = await openConnection(instance.port);
  const exited = instance.stop('SIGTERM');
  await untilLogged(instance, 'closing');
  assert.equal(logged(instance, 'closing')?.shutdownDelay, 3);

  // A new connection is still accepted and served; readiness says closing.
  const ready = await fetch(`${instance.url}/readyz`);
  assert.equal(ready.status, 503);
  assert.deepEqual(await ready.json(), { status: 'closing' });
  assert.equal(ready.headers.get('connection'), 'close');
  const jwks = await fetch(`${instance.url}/.well-known/jwks.json`);
  assert.equal(jwks.status, 200);
  assert.equal(jwks.headers.get('connection'), 'close');
  // The connection held from before is answered, then closed by the server.
  kept.write(requestHead('GET', '/healthz', {}, 0));
  const res = await kept.response();
  assert.equal(res.status, 200);
  assert.equal(res.headers.connection, 'close');
  await kept.closed;
  assert.equal(logged(instance, 'closed'), undefined, 'not closed during the delay');

  assert.equal(await exited, 0);
  const waited =
    Date.parse(String(logged(instance, 'closed')?.time)) - Date.parse(String(logged(instance, 'closing')?.time));
  assert.ok(waited >= 2_900, `closed ${waited} ms after the signal`);
});
