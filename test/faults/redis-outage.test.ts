// A Redis outage (a redis-server this file owns, killed and started again on its port):
// login fails closed with 503 + Retry-After (never 500, never an unlimited check of
// passwords), /readyz names redis, /healthz and the JWKS stay 200, and everything recovers
// without a restart. Redis unreachable at start: `tessera serve` exits 1 with one line
// naming REDIS_URL.
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { randomBytes } from 'node:crypto';
import { build, freePort, GOOD_PASSWORD, registerAndLogin } from '../helpers/build.js';
import { cliEnv, startCli } from '../helpers/cli.js';
import { isRedisUnavailable } from '../../src/plugins/external/redis.js';
import { loggerOptions } from '../../src/logger.js';
import { eventually, logCapture, ownRedis, redisBin } from './processes.js';

const bin = redisBin();
const skip = !bin && 'redis-server is not installed';

test(
  'Redis killed and started again: login answers 503, never 500 or unlimited, then recovers',
  { skip },
  async (t) => {
    const redis = await ownRedis(t, bin!);
    const logs = logCapture();
    const { app, services } = await build(
      t,
      {
        REDIS_URL: redis.url,
        REDIS_PREFIX: `fault-${randomBytes(4).toString('hex')}:`,
        REDIS_TIMEOUT_MS: '500',
        LOGIN_RATE_LIMIT: '1000',
      },
      { logger: loggerOptions('info', { stream: logs.stream }) },
    );
    const { email } = await registerAndLogin(app);
    const login = (password: string) =>
      app.inject({ method: 'POST', url: '/auth/login', payload: { email, password } });
    assert.equal((await login('wrong-password-123')).statusCode, 401);
    assert.equal((await app.inject({ url: '/readyz' })).statusCode, 200);

    await redis.stop();

    const started = Date.now();
    const [wrong, right] = await Promise.all([login('wrong-password-123'), login(GOOD_PASSWORD)]);
    assert.ok(Date.now() - started < 3000, `took ${Date.now() - started} ms`);
    for (const reply of [wrong, right]) {
      assert.equal(reply.statusCode, 503, reply.body);
      assert.equal(reply.headers['retry-after'], '5');
      assert.equal(reply.json().error, 'temporarily_unavailable');
      assert.doesNotMatch(reply.body, /redis|ECONN|offline/i);
    }
    // A guessing burst gets no verdict at all: not one 401 (checked) and not one 500.
    const burst = await Promise.all(Array.from({ length: 30 }, (_, i) => login(`guess-number-${i}-abc`)));
    assert.deepEqual(
      burst.map((r) => r.statusCode),
      burst.map(() => 503),
    );
    // The counters themselves fail at once rather than queueing the command until Redis is back.
    const counterStart = Date.now();
    await assert.rejects(services.attempts.reserve(['acct:x', 'ip:y'], [5, 20]), (e: unknown) => isRedisUnavailable(e));
    assert.ok(Date.now() - counterStart < 1000);

    assert.equal((await app.inject({ url: '/healthz' })).statusCode, 200);
    assert.equal((await app.inject({ url: '/.well-known/jwks.json' })).statusCode, 200);
    const ready = await app.inject({ url: '/readyz' });
    assert.equal(ready.statusCode, 503);
    assert.deepEqual(ready.json(), { status: 'unavailable', detail: 'redis' });

    // One warn line when the connection drops (not one per reconnect attempt), outage lines at
    // warn for the refused requests, no request logged as failed, and no stack on the way.
    const lostLines = () => logs.records().filter((r) => r.msg === 'redis unavailable; reconnecting').length;
    // ioredis may report the closed socket after the first refused commands: wait for it.
    assert.ok(await eventually(async () => lostLines() > 0, 10_000), 'the outage was logged');
    const records = logs.records();
    assert.equal(lostLines(), 1);
    const outage = records.filter((r) => r.msg === 'dependency unavailable');
    assert.ok(outage.length >= 32 && outage.every((r) => r.level === 40), `${outage.length} outage lines`);
    assert.equal(records.filter((r) => r.msg === 'request failed').length, 0);

    await redis.start();

    assert.ok(
      await eventually(async () => (await login(GOOD_PASSWORD)).statusCode === 200, 15_000),
      'login did not recover',
    );
    assert.equal((await login('wrong-password-123')).statusCode, 401);
    assert.equal((await app.inject({ url: '/readyz' })).statusCode, 200);
    assert.equal(logs.records().filter((r) => r.msg === 'redis reconnected').length, 1);
    assert.equal(lostLines(), 1, 'one line per outage, not one per reconnect attempt');
  },
);

test('Redis unreachable at start: serve exits 1 with one line naming REDIS_URL, no stack', { skip }, async () => {
  const port = await freePort(); // nothing listens there
  const secret = `s3cret-${randomBytes(4).toString('hex')}`;
  const child = startCli(
    ['serve'],
    await cliEnv({ REDIS_URL: `redis://:${secret}@127.0.0.1:${port}`, REDIS_TIMEOUT_MS: '1000', PORT: '0' }),
  );
  let stderr = '';
  let stdout = '';
  child.stderr!.setEncoding('utf8').on('data', (chunk: string) => (stderr += chunk));
  child.stdout!.setEncoding('utf8').on('data', (chunk: string) => (stdout += chunk));
  const started = Date.now();
  const code = await new Promise<number | null>((resolve) => child.once('exit', resolve));
  assert.equal(code, 1, stderr);
  assert.ok(Date.now() - started < 30_000);
  const lines = stderr.trim().split('\n');
  assert.equal(lines.length, 1, stderr);
  assert.match(lines[0]!, /^tessera: cannot reach Redis at REDIS_URL within 1000 ms \(ECONNREFUSED\)/);
  assert.doesNotMatch(stderr + stdout, /\n\s+at |ioredis/);
  assert.ok(!(stderr + stdout).includes(secret), 'the URL password leaked');
});
