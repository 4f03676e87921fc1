// Sliding-window counters of failed logins, per account name and per client IP: in
// PostgreSQL by default, in Redis when REDIS_URL is set so instances share them.
// Recording is one atomic step, so a burst of N parallel failures counts N.
import { createHmac } from 'node:crypto';
import { isIP } from 'node:net';
import type { Redis } from 'ioredis';
import type { Queryable } from '../db/database.js';

export interface FailureCounter {
  /** Records one failure under each key; returns the counts in the window after it. */
  record(keys: readonly string[]): Promise<number[]>;
  count(keys: readonly string[]): Promise<number[]>;
  reset(key: string): Promise<void>;
  /** Drops entries older than the window (PostgreSQL; Redis expires them itself). */
  prune(): Promise<void>;
}

/**
 * Account names are stored as keyed hashes, never as typed: failed attempts name
 * addresses that may not be ours to keep.
 */
export function failureKeys(secret: Buffer, email: string, ip: string): { account: string; ip: string } {
  const name = email.normalize('NFC').trim().toLowerCase();
  return {
    account: `acct:${createHmac('sha256', secret).update(name).digest('base64url')}`,
    ip: `ip:${ipBucket(ip)}`,
  };
}

/** IPv6 clients are counted per /64, the block one subscriber usually holds. */
export function ipBucket(ip: string): string {
  const mapped = /^::ffff:(\d+\.\d+\.\d+\.\d+)$/i.exec(ip);
  if (mapped) return mapped[1]!;
  if (isIP(ip) !== 6) return ip;
  const [head = '', tail = ''] = ip.split('::');
  const left = head ? head.split(':') : [];
  const right = tail ? tail.split(':') : [];
  const groups = [...left, ...Array(Math.max(0, 8 - left.length - right.length)).fill('0'), ...right];
  return `${groups.slice(0, 4).map((g) => (g || '0').toLowerCase().replace(/^0+(?=.)/, '')).join(':')}::/64`;
}

export class PostgresFailureCounter implements FailureCounter {
  constructor(
    private readonly db: Queryable,
    private readonly windowSeconds: number,
  ) {}

  async record(keys: readonly string[]): Promise<number[]> {
    // The insert and the count are one statement; the CTE's own row is not visible
    // to the count, hence + 1.
    const rows = await this.db.query<{ key: string; n: number }>(
      `WITH added AS (INSERT INTO login_failures (key) SELECT unnest($1::text[]) RETURNING key)
       SELECT k AS key, (SELECT count(*)::int FROM login_failures f WHERE f.key = k AND f.at > clock_timestamp() - make_interval(secs => $2::int)) + 1 AS n
         FROM unnest($1::text[]) AS k`,
      [keys, this.windowSeconds],
    );
    return keys.map((k) => rows.find((r) => r.key === k)?.n ?? 1);
  }

  async count(keys: readonly string[]): Promise<number[]> {
    const rows = await this.db.query<{ key: string; n: number }>(
      `SELECT key, count(*)::int AS n FROM login_failures
        WHERE key = ANY($1::text[]) AND at > clock_timestamp() - make_interval(secs => $2::int) GROUP BY key`,
      [keys, this.windowSeconds],
    );
    return keys.map((k) => rows.find((r) => r.key === k)?.n ?? 0);
  }

  async reset(key: string): Promise<void> {
    await this.db.query('DELETE FROM login_failures WHERE key = $1', [key]);
  }

  async prune(): Promise<void> {
    await this.db.query('DELETE FROM login_failures WHERE at <= clock_timestamp() - make_interval(secs => $1::int)', [this.windowSeconds]);
  }
}

// Redis's own clock, so instances with skewed clocks share one window.
const RECORD = `
local t = redis.call('TIME')
local now = tonumber(t[1]) * 1000 + math.floor(tonumber(t[2]) / 1000)
local window = tonumber(ARGV[1])
local out = {}
for i, key in ipairs(KEYS) do
  redis.call('ZREMRANGEBYSCORE', key, '-inf', now - window)
  redis.call('ZADD', key, now, ARGV[2] .. ':' .. i)
  redis.call('PEXPIRE', key, window)
  out[i] = redis.call('ZCARD', key)
end
return out`;

const COUNT = `
local t = redis.call('TIME')
local now = tonumber(t[1]) * 1000 + math.floor(tonumber(t[2]) / 1000)
local out = {}
for i, key in ipairs(KEYS) do
  out[i] = redis.call('ZCOUNT', key, now - tonumber(ARGV[1]), '+inf')
end
return out`;

export class RedisFailureCounter implements FailureCounter {
  private sequence = 0;

  constructor(
    private readonly redis: Redis,
    private readonly windowSeconds: number,
    private readonly prefix = 'tessera:fail:',
  ) {}

  async record(keys: readonly string[]): Promise<number[]> {
    // A unique member per attempt, so parallel failures never collapse into one.
    const member = `${process.pid}:${Date.now()}:${++this.sequence}:${Math.random().toString(36).slice(2)}`;
    const result = (await this.redis.eval(RECORD, keys.length, ...keys.map((k) => this.prefix + k), this.windowSeconds * 1000, member)) as number[];
    return result.map(Number);
  }

  async count(keys: readonly string[]): Promise<number[]> {
    const result = (await this.redis.eval(COUNT, keys.length, ...keys.map((k) => this.prefix + k), this.windowSeconds * 1000)) as number[];
    return result.map(Number);
  }

  async reset(key: string): Promise<void> {
    await this.redis.del(this.prefix + key);
  }

  async prune(): Promise<void> {
    // Keys carry their own expiry.
  }
}
