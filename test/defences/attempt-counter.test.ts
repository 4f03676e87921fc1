// The attempt counters on each store (this file's database engine, and Redis): a
// reservation is all-or-nothing, holds under parallel callers, and a success clears only
// what came before it.
import { test, type TestContext } from 'node:test';
import assert from 'node:assert/strict';
import { randomBytes } from 'node:crypto';
import { Redis } from 'ioredis';
import { Database } from '../../src/db/database.js';
import {
  PostgresAttemptCounter,
  RedisAttemptCounter,
  type AttemptCounter,
} from '../../src/defences/attempt-counter.js';
import { testConfig } from '../helpers/build.js';

const REDIS_URL = process.env.TEST_REDIS_URL ?? 'redis://127.0.0.1:6379';
const engine = process.env.TEST_DATABASE_URL ? 'PostgreSQL' : 'PGlite';

type Store = { name: string; counter: AttemptCounter };

async function stores(t: TestContext): Promise<Store[]> {
  const config = await testConfig();
  const db = await Database.connect(config.database);
  await db.migrate();
  const redis = new Redis(REDIS_URL, { maxRetriesPerRequest: 1 });
  const prefix = `tessera-test-${randomBytes(4).toString('hex')}:`;
  t.after(async () => {
    const left = await redis.keys(`${prefix}*`);
    if (left.length) await redis.del(...left);
    redis.disconnect();
    await db.close();
  });
  return [
    { name: engine, counter: new PostgresAttemptCounter(db, 60) },
    { name: 'Redis', counter: new RedisAttemptCounter(redis, 60, prefix) },
  ];
}

const unique = (label: string) => `${label}:${randomBytes(6).toString('hex')}`;

test('50 parallel reservations under a limit of 3: exactly 3 are granted, on every store', async (t) => {
  for (const { name, counter } of await stores(t)) {
    const keys = [unique('acct'), unique('ip')];
    const granted = (await Promise.all(Array.from({ length: 50 }, () => counter.reserve(keys, [3, 1000])))).filter(
      (r) => r !== null,
    );
    assert.equal(granted.length, 3, `${name}: granted`);
    assert.deepEqual(granted.map((r) => r.counts[0]).sort(), [1, 2, 3], `${name}: each saw the ones before it`);
    assert.deepEqual(await counter.count(keys), [3, 3], `${name}: refused attempts are not counted`);
    // Without a limit (a solved captcha) an attempt is always granted, and counted.
    assert.ok(await counter.reserve(keys, null), `${name}: unconditional`);
    assert.deepEqual(await counter.count(keys), [4, 4]);
  }
});

test('a reservation is all or nothing: one key at its limit refuses it under every key', async (t) => {
  for (const { name, counter } of await stores(t)) {
    const ip = unique('ip');
    for (let i = 0; i < 2; i++) assert.ok(await counter.reserve([unique('acct'), ip], [5, 2]));
    const account = unique('acct');
    assert.equal(await counter.reserve([account, ip], [5, 2]), null, `${name}: the IP's share is used up`);
    assert.deepEqual(await counter.count([account, ip]), [0, 2], `${name}: nothing counted for the account`);
  }
});

test('release: a success takes its own attempt back and clears the earlier ones, not the later ones', async (t) => {
  for (const { name, counter } of await stores(t)) {
    const [account, ip] = [unique('acct'), unique('ip')];
    for (let i = 0; i < 2; i++) await counter.reserve([account, ip], null);
    const success = (await counter.reserve([account, ip], null))!;
    const later = (await counter.reserve([account, ip], null))!;
    assert.deepEqual(await counter.count([account, ip]), [4, 4]);
    await counter.release(success, account);
    assert.deepEqual(
      await counter.count([account, ip]),
      [1, 3],
      `${name}: the account keeps only the attempt after the success; the IP keeps its failures`,
    );
    await counter.release(later);
    assert.deepEqual(
      await counter.count([account, ip]),
      [0, 2],
      `${name}: a plain release takes back one attempt under each key`,
    );
  }
});

test('parallel reservations on two keys that overlap in reverse order do not deadlock', async (t) => {
  for (const { name, counter } of await stores(t)) {
    const [a, b] = [unique('k'), unique('k')];
    const results = await Promise.all(
      Array.from({ length: 40 }, (_, i) => counter.reserve(i % 2 ? [a, b] : [b, a], [100, 100])),
    );
    assert.equal(results.filter(Boolean).length, 40, name);
    assert.deepEqual(await counter.count([a, b]), [40, 40]);
  }
});
