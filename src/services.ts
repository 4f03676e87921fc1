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
import { PostgresCaptchaReplay, RedisCaptchaReplay, type CaptchaReplayStore } from './defences/captcha-replay.js';
import { PostgresAttemptCounter, RedisAttemptCounter, type AttemptCounter } from './defences/attempt-counter.js';
import { CredentialGuard } from './defences/credential-guard.js';
import type { Logger } from 'pino';
import { createLogger } from './logger.js';
import { AlertEngine } from './audit/alert-engine.js';
import { pruneAuditLog, recordSecurityEvent } from './db/repositories/security-events.js';
import { pruneAlerts } from './db/repositories/alerts.js';

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
  attempts: AttemptCounter;
  /** Guards every check of a password or other secret. */
  credentialGuard: CredentialGuard;
  /** For work outside requests (alerts, housekeeping): JSON lines like the app's. */
  log: Logger;
  /** Evaluates alert rules over the audit log (in the background on servers). */
  alerts: AlertEngine;
  /** Promotes due keys and reloads this instance's keys, read after the call (also runs every KEY_SYNC_INTERVAL). */
  syncKeys(): Promise<void>;
  close(): Promise<void>;
}

/** Margin on top of token lifetimes before a retired key is dropped: clock skew and sync lag. */
const RETENTION_MARGIN = 60;

export function rotationSettings(config: Config): RotationSettings {
  const margin = RETENTION_MARGIN + config.keys.syncInterval;
  return {
    // The key reaches each instance's JWKS only at that instance's next sync: add one
    // sync interval so it is published everywhere a full KEY_PUBLISH_AHEAD before it signs.
    publishAhead: config.keys.publishAhead + config.keys.syncInterval,
    rotationInterval: config.keys.rotationInterval,
    retention: { access: config.accessTokenTtl + margin, refresh: config.refreshTokenTtl + margin },
  };
}

export interface StartOptions {
  migrate?: boolean;
  /** Run the periodic key sync (servers do; one-shot CLI commands do not). */
  keySync?: boolean;
  onSyncError?: (error: unknown) => void;
  /** Run the alert rules in the background (default: as keySync). */
  alerts?: boolean;
  logger?: Logger;
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
    const attempts: AttemptCounter = redis ? new RedisAttemptCounter(redis, window, `${config.redisPrefix}fail:`) : new PostgresAttemptCounter(database, window);
    const captchaReplay: CaptchaReplayStore = redis ? new RedisCaptchaReplay(redis, `${config.redisPrefix}captcha:`) : new PostgresCaptchaReplay(database);
    const captcha = new CaptchaVerifier(config.captcha, captchaReplay);
    const credentialGuard = new CredentialGuard(
      attempts,
      captcha,
      { afterFailures: config.captcha.afterFailures, afterIpFailures: config.captcha.afterIpFailures, maxDelayMs: config.loginDefence.maxDelayMs },
      counterSecret,
      (e) =>
        recordSecurityEvent(database, {
          type: e.type,
          userId: e.userId,
          ip: e.ip,
          ...(e.type.startsWith('captcha_') ? { target: null } : {}),
          detail: { account: e.account, step: e.step, ...(e.reason ? { reason: e.reason } : {}), ...(e.verdict ? { verdict: e.verdict } : {}) },
        }),
    );
    const log = options.logger ?? createLogger(config.logLevel);
    const alerts = new AlertEngine(
      database,
      {
        failedLoginsPerAccount: config.alerts.failedLoginsPerAccount,
        failedLoginsPerIp: config.alerts.failedLoginsPerIp,
        captchaFailuresPerIp: config.alerts.captchaFailuresPerIp,
        windowSeconds: config.alerts.windowSeconds,
        dedupWindowSeconds: config.alerts.dedupWindowSeconds,
        checkIntervalMs: config.alerts.checkIntervalMs,
        webhook: { url: config.alerts.webhookUrl, timeoutMs: config.alerts.webhookTimeoutMs, retries: config.alerts.webhookRetries, maxInFlight: 100 },
        issuer: config.issuer,
      },
      log,
    );
    if (options.alerts ?? options.keySync !== false) alerts.start();
    const sharedRedis = redis;

    let syncing: Promise<void> | undefined;
    let queued: Promise<void> | undefined;
    let ticks = 0;
    const syncKeys = (): Promise<void> => {
      if (syncing) {
        // One sync at a time. The one in flight may have read the keys before the caller's
        // change (a rotation or revocation just committed), so the caller gets the next one,
        // started after it and shared by everyone who arrives meanwhile.
        queued ??= syncing
          .catch(() => undefined)
          .then(() => {
            queued = undefined;
            return syncKeys();
          });
        return queued;
      }
      syncing = (async () => {
        try {
          await keys.tick();
          await keystore.reload();
          // Housekeeping about once a minute.
          if (++ticks % Math.max(1, Math.round(60 / config.keys.syncInterval)) === 0) await Promise.all([attempts.prune(), captchaReplay.prune()]);
          // Audit retention about once an hour (and once soon after start).
          if (ticks % Math.max(1, Math.round(3600 / config.keys.syncInterval)) === 2) {
            await pruneAuditLog(database, config.audit.retentionDays);
            await pruneAlerts(database, config.audit.retentionDays);
          }
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
      attempts,
      credentialGuard,
      log,
      alerts,
      syncKeys,
      async close() {
        if (timer) clearInterval(timer);
        await alerts.close();
        await (queued ?? syncing)?.catch(() => undefined);
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
