// Builds the long-lived parts of Tessera from a Config: database, keys, tokens, hasher,
// and the loop that keeps this instance's keys in step with the database.
import type { Config } from './config/config.js';
import { loadMasterKey, loadPreviousMasterKeys } from './crypto/master-key.js';
import { SecretBox } from './crypto/secret-box.js';
import { Database } from './db/database.js';
import { acquireEmbeddedLock, type EmbeddedLock } from './db/embedded-lock.js';
import { PasswordHasher } from './domain/passwords/password-hasher.js';
import type { RotationSettings } from './domain/keys/key-states.js';
import { KeyManager } from './keys/key-manager.js';
import { Keystore } from './keys/keystore.js';
import { TokenService } from './tokens/token-service.js';
import { hkdfSync } from 'node:crypto';
import { Redis } from 'ioredis';
import { CaptchaVerifier } from './defences/captcha.js';
import { PostgresFailureCounter, RedisFailureCounter, type FailureCounter } from './defences/failure-counter.js';
import { LoginGuard } from './defences/login-guard.js';

export interface Services {
  config: Config;
  db: Database;
  box: SecretBox;
  keystore: Keystore;
  keys: KeyManager;
  tokens: TokenService;
  hasher: PasswordHasher;
  /** Shared store for counters and rate limits across instances, when REDIS_URL is set. */
  redis: Redis | undefined;
  failures: FailureCounter;
  loginGuard: LoginGuard;
  /** Promotes due keys and reloads this instance's keys now (also runs every KEY_SYNC_INTERVAL). */
  syncKeys(): Promise<void>;
  close(): Promise<void>;
}

/** Margin on top of token lifetimes before a retired key is dropped: clock skew and sync lag. */
const RETENTION_MARGIN = 60;

export function rotationSettings(config: Config): RotationSettings {
  const margin = RETENTION_MARGIN + config.keys.syncInterval;
  return {
    publishAhead: config.keys.publishAhead,
    rotationInterval: config.keys.rotationInterval,
    retention: { access: config.accessTokenTtl + margin, refresh: config.refreshTokenTtl + margin },
  };
}

export interface StartOptions {
  migrate?: boolean;
  /** Run the periodic key sync (servers do; one-shot CLI commands do not). */
  keySync?: boolean;
  onSyncError?: (error: unknown) => void;
}

/** Connects, migrates, makes sure signing keys exist and loads them. */
export async function startServices(config: Config, options: StartOptions = {}): Promise<Services> {
  const masterKey = loadMasterKey(config);
  const box = SecretBox.fromKey(masterKey, loadPreviousMasterKeys(config));
  // A key of its own for hashing account names in the failure counters.
  const counterSecret = Buffer.from(hkdfSync('sha256', masterKey, Buffer.alloc(0), 'tessera login failure keys', 32));
  const lock: EmbeddedLock | undefined = config.database.kind === 'pglite' ? acquireEmbeddedLock(config.database.dataDir) : undefined;
  let db: Database | undefined;
  let redis: Redis | undefined;
  try {
    db = await Database.connect(config.database);
    if (options.migrate !== false) await db.migrate();
    const keys = new KeyManager(db, box, { signingAlg: config.signingAlg, rotation: rotationSettings(config) });
    const keystore = new Keystore(db, box);
    await keys.ensureKeys();
    await keys.tick();
    await keystore.reload();
    const hasher = new PasswordHasher(config.argon2);
    await hasher.warm();
    const tokens = new TokenService(keystore, config);
    const database = db;
    if (config.redisUrl) {
      redis = new Redis(config.redisUrl, { maxRetriesPerRequest: 1, connectTimeout: 5000, lazyConnect: true });
      await redis.connect();
    }
    const window = config.loginDefence.windowSeconds;
    const failures: FailureCounter = redis ? new RedisFailureCounter(redis, window, `${config.redisPrefix}fail:`) : new PostgresFailureCounter(database, window);
    const captcha = new CaptchaVerifier(config.captcha);
    const loginGuard = new LoginGuard(
      failures,
      captcha,
      { afterFailures: config.captcha.afterFailures, afterIpFailures: config.captcha.afterIpFailures, maxDelayMs: config.loginDefence.maxDelayMs },
      counterSecret,
    );
    const sharedRedis = redis;

    let syncing: Promise<void> | undefined;
    let ticks = 0;
    const syncKeys = () => {
      // One sync at a time; a caller arriving mid-sync waits for that one.
      syncing ??= (async () => {
        try {
          await keys.tick();
          await keystore.reload();
          // Housekeeping about once a minute.
          if (++ticks % Math.max(1, Math.round(60 / config.keys.syncInterval)) === 0) await failures.prune();
        } finally {
          syncing = undefined;
        }
      })();
      return syncing;
    };
    const timer =
      options.keySync === false
        ? undefined
        : setInterval(() => {
            syncKeys().catch((error: unknown) => options.onSyncError?.(error));
          }, config.keys.syncInterval * 1000);
    timer?.unref();

    return {
      config,
      db: database,
      box,
      keystore,
      keys,
      tokens,
      hasher,
      redis: sharedRedis,
      failures,
      loginGuard,
      syncKeys,
      async close() {
        if (timer) clearInterval(timer);
        await syncing?.catch(() => undefined);
        await sharedRedis?.quit().catch(() => undefined);
        await database.close();
        lock?.release();
      },
    };
  } catch (error) {
    redis?.disconnect();
    await db?.close().catch(() => undefined);
    lock?.release();
    throw error;
  }
}
