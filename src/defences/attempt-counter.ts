// Sliding-window counters of credential attempts, per account name and per client IP: in
// PostgreSQL by default, in Redis when REDIS_URL is set so instances share them. An
// attempt is reserved before the secret is checked, and only while every key is under its
// limit, in one atomic step: a burst of parallel requests sees the attempts still in
// flight, so it gets no more checks than a slow sequence would.
import { createHmac, randomBytes } from 'node:crypto';
import { isIP } from 'node:net';
import type { Redis } from 'ioredis';
import type { Database } from '../db/database.js';
import { normalizeEmail } from '../domain/users/email.js';
import { countAttempts, deleteAttempts, pruneAttempts, reserveAttempt } from '../db/repositories/login-failures.js';

/** One attempt, counted under each of its keys until the window passes or it is released. */
export interface Reservation {
  keys: readonly string[];
  /** The count under each key with this attempt included. */
  counts: number[];
  /** Where this attempt sits under each key (row ids in PostgreSQL, set members in Redis). */
  refs: string[];
}

export interface AttemptCounter {
  /**
   * Reserves one attempt under every key, only if each key's count is below its limit
   * (limits null: unconditionally, e.g. once a captcha was solved). Null when a limit is
   * reached; nothing is counted then.
   */
  reserve(keys: readonly string[], limits: readonly number[] | null): Promise<Reservation | null>;
  /**
   * Takes a reservation back (the attempt succeeded, or never reached a verdict), and with
   * `clear`, also every attempt under that key made before it: a success ends the account
   * name's run of failures, while attempts still in flight after it keep counting.
   */
  release(reservation: Reservation, clear?: string): Promise<void>;
  count(keys: readonly string[]): Promise<number[]>;
  /** Drops entries older than the window (PostgreSQL; Redis expires them itself). */
  prune(): Promise<void>;
}

/**
 * Account names are stored as keyed hashes, never as typed: failed attempts name
 * addresses that may not be ours to keep.
 */
export function attemptKeys(secret: Buffer, email: string, ip: string): { account: string; ip: string } {
  return {
    account: `acct:${createHmac('sha256', secret).update(normalizeEmail(email)).digest('base64url')}`,
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
  const groups = [...left, ...Array<string>(Math.max(0, 8 - left.length - right.length)).fill('0'), ...right];
  return `${groups
    .slice(0, 4)
    .map((g) => (g || '0').toLowerCase().replace(/^0+(?=.)/, ''))
    .join(':')}::/64`;
}

/** Rows of table login_failures (its repository), one per key and attempt. */
export class PostgresAttemptCounter implements AttemptCounter {
  constructor(
    private readonly db: Database,
    private readonly windowSeconds: number,
  ) {}

  async reserve(keys: readonly string[], limits: readonly number[] | null): Promise<Reservation | null> {
    return this.db.transaction(async (tx) => {
      const rows = await reserveAttempt(tx, {
        keys,
        limits: limits ?? keys.map(() => null),
        windowSeconds: this.windowSeconds,
      });
      const byKey = new Map(rows.map((r) => [r.key, r]));
      const refs = keys.map((k) => byKey.get(k)?.id ?? null);
      if (refs.some((id) => id === null)) return null;
      return { keys, counts: keys.map((k) => byKey.get(k)!.n), refs: refs as string[] };
    });
  }

  async release(reservation: Reservation, clear?: string): Promise<void> {
    const at = clear === undefined ? -1 : reservation.keys.indexOf(clear);
    await deleteAttempts(this.db, reservation.refs, at >= 0 ? { key: clear!, before: reservation.refs[at]! } : null);
  }

  async count(keys: readonly string[]): Promise<number[]> {
    const rows = await countAttempts(this.db, keys, this.windowSeconds);
    return keys.map((k) => rows.find((r) => r.key === k)?.n ?? 0);
  }

  async prune(): Promise<void> {
    await pruneAttempts(this.db, this.windowSeconds);
  }
}

// One script, so counting and adding are one step. Redis's own clock (microseconds, the
// member's score), so instances with skewed clocks share one window and one order.
const RESERVE = `
local t = redis.call('TIME')
local now = tonumber(t[1]) * 1000000 + tonumber(t[2])
local window = tonumber(ARGV[1])
local counts = {}
local ok = 1
for i, key in ipairs(KEYS) do
  redis.call('ZREMRANGEBYSCORE', key, '-inf', now - window)
  counts[i] = redis.call('ZCARD', key)
  local limit = tonumber(ARGV[2 + i])
  if limit >= 0 and counts[i] >= limit then ok = 0 end
end
if ok == 0 then return {0} end
local out = {1, tostring(now)}
for i, key in ipairs(KEYS) do
  redis.call('ZADD', key, now, ARGV[2] .. ':' .. i)
  redis.call('PEXPIRE', key, math.ceil(window / 1000))
  out[2 + i] = counts[i] + 1
end
return out`;

const RELEASE = `
for i, key in ipairs(KEYS) do redis.call('ZREM', key, ARGV[i]) end
if ARGV[#KEYS + 1] ~= '' then
  redis.call('ZREMRANGEBYSCORE', KEYS[tonumber(ARGV[#KEYS + 1])], '-inf', '(' .. ARGV[#KEYS + 2])
end
return 1`;

const COUNT = `
local t = redis.call('TIME')
local now = tonumber(t[1]) * 1000000 + tonumber(t[2])
local out = {}
for i, key in ipairs(KEYS) do
  out[i] = redis.call('ZCOUNT', key, now - tonumber(ARGV[1]), '+inf')
end
return out`;

export class RedisAttemptCounter implements AttemptCounter {
  constructor(
    private readonly redis: Redis,
    private readonly windowSeconds: number,
    private readonly prefix = 'tessera:fail:',
  ) {}

  async reserve(keys: readonly string[], limits: readonly number[] | null): Promise<Reservation | null> {
    // A unique member per attempt, so parallel attempts never collapse into one.
    const member = randomBytes(12).toString('base64url');
    const result = (await this.redis.eval(
      RESERVE,
      keys.length,
      ...keys.map((k) => this.prefix + k),
      this.windowSeconds * 1_000_000,
      member,
      ...keys.map((_, i) => limits?.[i] ?? -1),
    )) as (number | string)[];
    if (Number(result[0]) !== 1) return null;
    const score = String(result[1]);
    return { keys, counts: result.slice(2).map(Number), refs: keys.map((_, i) => `${member}:${i + 1}|${score}`) };
  }

  async release(reservation: Reservation, clear?: string): Promise<void> {
    const at = clear === undefined ? -1 : reservation.keys.indexOf(clear);
    const members = reservation.refs.map((ref) => ref.split('|')[0]!);
    const score = at >= 0 ? reservation.refs[at]!.split('|')[1]! : '';
    await this.redis.eval(
      RELEASE,
      reservation.keys.length,
      ...reservation.keys.map((k) => this.prefix + k),
      ...members,
      at >= 0 ? String(at + 1) : '',
      score,
    );
  }

  async count(keys: readonly string[]): Promise<number[]> {
    const result = (await this.redis.eval(
      COUNT,
      keys.length,
      ...keys.map((k) => this.prefix + k),
      this.windowSeconds * 1_000_000,
    )) as number[];
    return result.map(Number);
  }

  async prune(): Promise<void> {
    // Keys carry their own expiry.
  }
}
