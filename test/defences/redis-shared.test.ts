// With REDIS_URL, instances share rate limits and failure counters (real Redis).
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { randomBytes } from 'node:crypto';
import { build, uniqueEmail } from '../helpers/build.js';
import { startSiteverify } from '../helpers/siteverify-stand-in.js';

const onPostgres = Boolean(process.env.TEST_DATABASE_URL);
const REDIS_URL = process.env.TEST_REDIS_URL ?? 'redis://127.0.0.1:6379';
const skip = !onPostgres && 'two instances in one process need PostgreSQL (TEST_DATABASE_URL)';

async function pair(t: Parameters<typeof build>[0], env: Record<string, string>) {
  const shared = { REDIS_URL, REDIS_PREFIX: `tessera-test-${randomBytes(4).toString('hex')}:`, ...env };
  const { Redis } = await import('ioredis');
  t.after(async () => {
    const redis = new Redis(REDIS_URL, { maxRetriesPerRequest: 1 });
    const keys = await redis.keys(`${shared.REDIS_PREFIX}*`);
    if (keys.length) await redis.del(...keys);
    redis.disconnect();
  });
  const a = await build(t, shared);
  const b = await build(t, shared);
  return [a, b] as const;
}

test('a login limit of N is reached after N attempts spread over two instances', { skip }, async (t) => {
  const [a, b] = await pair(t, { LOGIN_RATE_LIMIT: '6' });
  const statuses: number[] = [];
  for (let i = 0; i < 8; i++) {
    const app = i % 2 ? b.app : a.app;
    statuses.push(
      (
        await app.inject({
          method: 'POST',
          url: '/auth/login',
          payload: { email: uniqueEmail(), password: 'whatever-password' },
        })
      ).statusCode,
    );
  }
  assert.deepEqual(statuses, [401, 401, 401, 401, 401, 401, 429, 429]);
});

test('failure counters are shared: failures on one instance demand a captcha on the other', { skip }, async (t) => {
  const siteverify = await startSiteverify();
  t.after(() => siteverify.close());
  const [a, b] = await pair(t, {
    CAPTCHA_PROVIDER: 'turnstile',
    CAPTCHA_SECRET: 'test-secret',
    CAPTCHA_VERIFY_URL: siteverify.url,
    CAPTCHA_AFTER_FAILURES: '3',
  });
  const email = uniqueEmail('shared');
  const login = (app: typeof a.app) =>
    app.inject({ method: 'POST', url: '/auth/login', payload: { email, password: 'wrong-password-123' } });
  assert.equal((await login(a.app)).json().error, 'invalid_credentials');
  assert.equal((await login(b.app)).json().error, 'invalid_credentials');
  assert.equal((await login(a.app)).json().error, 'invalid_credentials');
  const fourth = await login(b.app);
  assert.equal(fourth.json().error, 'captcha_required');
  assert.equal(fourth.json().captcha_provider, 'turnstile');
  // Nothing was written to PostgreSQL's counter table: Redis holds them.
  const [row] = await a.services.db.query<{ n: number }>('SELECT count(*)::int AS n FROM login_failures');
  assert.equal(row?.n, 0);
});

test('50 parallel attempts in Redis: 50 counted without a limit, exactly the limit with one', async () => {
  const { Redis } = await import('ioredis');
  const { RedisAttemptCounter } = await import('../../src/defences/attempt-counter.js');
  const redis = new Redis(REDIS_URL, { maxRetriesPerRequest: 1 });
  const prefix = `tessera-test-${randomBytes(4).toString('hex')}:`;
  try {
    const counter = new RedisAttemptCounter(redis, 60, prefix);
    const keys = ['acct:parallel', 'ip:127.0.0.1'];
    await Promise.all(Array.from({ length: 50 }, () => counter.reserve(keys, null)));
    assert.deepEqual(await counter.count(keys), [50, 50]);
    const limited = await Promise.all(
      Array.from({ length: 50 }, () => counter.reserve(['acct:limited', 'ip:127.0.0.2'], [3, 100])),
    );
    assert.equal(limited.filter(Boolean).length, 3);
    assert.deepEqual(await counter.count(['acct:limited', 'ip:127.0.0.2']), [3, 3]);
  } finally {
    const left = await redis.keys(`${prefix}*`);
    if (left.length) await redis.del(...left);
    redis.disconnect();
  }
});
