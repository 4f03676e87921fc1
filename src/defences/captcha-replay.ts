// Refuses a captcha answer presented twice, on any instance: each answer is claimed once,
// atomically, before siteverify sees it. In PostgreSQL by default, in Redis when REDIS_URL
// is set. Only a SHA-256 of the answer is kept, and only for REPLAY_TTL_SECONDS.
import { createHash } from 'node:crypto';
import type { Redis } from 'ioredis';
import type { Queryable } from '../db/database.js';
import { claimAnswer, pruneAnswers } from '../db/repositories/captcha-answers.js';

/** Longer than any provider lets an answer live (reCAPTCHA 2 min, Turnstile 5 min). */
const REPLAY_TTL_SECONDS = 600;

export interface CaptchaReplayStore {
  /** True for the first claim of an answer within the TTL; false for every later one. */
  claim(token: string): Promise<boolean>;
  /** Drops expired claims (PostgreSQL; Redis expires them itself). */
  prune(): Promise<void>;
}

/** What is stored for an answer: its SHA-256, hex. */
export function answerHash(token: string): string {
  return createHash('sha256').update(token, 'utf8').digest('hex');
}

export class PostgresCaptchaReplay implements CaptchaReplayStore {
  constructor(
    private readonly db: Queryable,
    private readonly ttlSeconds = REPLAY_TTL_SECONDS,
  ) {}

  async claim(token: string): Promise<boolean> {
    return claimAnswer(this.db, answerHash(token), this.ttlSeconds);
  }

  async prune(): Promise<void> {
    await pruneAnswers(this.db);
  }
}

export class RedisCaptchaReplay implements CaptchaReplayStore {
  constructor(
    private readonly redis: Redis,
    private readonly prefix: string,
    private readonly ttlSeconds = REPLAY_TTL_SECONDS,
  ) {}

  async claim(token: string): Promise<boolean> {
    return (await this.redis.set(this.prefix + answerHash(token), '1', 'PX', this.ttlSeconds * 1000, 'NX')) === 'OK';
  }

  async prune(): Promise<void> {
    // Keys carry their own expiry.
  }
}
