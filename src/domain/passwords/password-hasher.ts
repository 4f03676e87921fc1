// argon2id hashing on the libuv pool, bounded: at most `concurrency` hashes at once and
// a short queue; past that callers get Busy at once instead of piling up memory.
import argon2 from 'argon2';
import { normalizePassword, withinHashLimit } from './password-policy.js';

export interface HasherOptions {
  memoryCost: number;
  timeCost: number;
  parallelism: number;
  concurrency: number;
  queue: number;
}

export class HasherBusyError extends Error {
  constructor() {
    super('password hashing queue is full');
    this.name = 'HasherBusyError';
  }
}

export class PasswordHasher {
  private running = 0;
  private readonly waiting: Array<() => void> = [];
  private dummyHash: Promise<string> | undefined;

  constructor(private readonly options: HasherOptions) {}

  get depth(): { running: number; queued: number } {
    return { running: this.running, queued: this.waiting.length };
  }

  async hash(password: string): Promise<string> {
    return this.slot(() =>
      argon2.hash(normalizePassword(password), {
        type: argon2.argon2id,
        memoryCost: this.options.memoryCost,
        timeCost: this.options.timeCost,
        parallelism: this.options.parallelism,
      }),
    );
  }

  /** Verifies exactly the given password; an oversized one is false without hashing. */
  async verify(hash: string, password: string): Promise<boolean> {
    if (!withinHashLimit(password)) return false;
    return this.slot(async () => {
      try {
        return await argon2.verify(hash, normalizePassword(password));
      } catch {
        return false;
      }
    });
  }

  /** Computes the dummy hash ahead, so the first unknown-account login is not slower. */
  async warm(): Promise<void> {
    this.dummyHash ??= this.hash('tessera-dummy-password-for-timing');
    await this.dummyHash;
  }

  /** Same cost as a real verify, for unknown accounts, so timing reveals nothing. */
  async verifyDummy(password: string): Promise<false> {
    this.dummyHash ??= this.hash('tessera-dummy-password-for-timing');
    await this.verify(await this.dummyHash, password);
    return false;
  }

  /** Whether a stored hash was made with weaker parameters than configured now. */
  needsRehash(hash: string): boolean {
    try {
      return argon2.needsRehash(hash, {
        memoryCost: this.options.memoryCost,
        timeCost: this.options.timeCost,
        parallelism: this.options.parallelism,
      });
    } catch {
      return true;
    }
  }

  private async slot<T>(work: () => Promise<T>): Promise<T> {
    if (this.running >= this.options.concurrency) {
      if (this.waiting.length >= this.options.queue) throw new HasherBusyError();
      await new Promise<void>((resolve) => this.waiting.push(resolve));
    } else {
      this.running++;
    }
    try {
      return await work();
    } finally {
      const next = this.waiting.shift();
      if (next) next();
      else this.running--;
    }
  }
}
