// Every setting Tessera reads, as one TypeBox schema checked at boot. An invalid
// value stops the start with a message that names the variable.
import { isIPv4, isIPv6 } from 'node:net';
import { availableParallelism } from 'node:os';
import { join } from 'node:path';
import Type, { type Static } from 'typebox';
import { Value } from 'typebox/value';
import { contextWordsFor } from '../domain/passwords/context-words.js';

const Seconds = (def: number, min = 1, max = 31_536_000) => Type.Integer({ minimum: min, maximum: max, default: def });

const EnvSchema = Type.Object({
  NODE_ENV: Type.Union([Type.Literal('development'), Type.Literal('production'), Type.Literal('test')], {
    default: 'development',
  }),
  PORT: Type.Integer({ minimum: 0, maximum: 65535, default: 3000 }),
  HOST: Type.String({ minLength: 1, maxLength: 255, default: '127.0.0.1' }),
  ISSUER: Type.Optional(Type.String({ pattern: '^https?://[^\\s?#]+$', maxLength: 2048 })),
  DATABASE_URL: Type.Optional(Type.String({ pattern: '^postgres(ql)?://', maxLength: 4096 })),
  // The role that owns the schema and runs the migrations; DATABASE_URL's role gets only data access.
  MIGRATION_DATABASE_URL: Type.Optional(Type.String({ pattern: '^postgres(ql)?://', maxLength: 4096 })),
  DATA_DIR: Type.String({ minLength: 1, maxLength: 4096, default: './data' }),
  DATABASE_POOL_SIZE: Type.Integer({ minimum: 1, maximum: 1000, default: 10 }),
  DATABASE_CONNECT_TIMEOUT_MS: Type.Integer({ minimum: 100, maximum: 60_000, default: 3000 }),
  DATABASE_STATEMENT_TIMEOUT_MS: Type.Integer({ minimum: 100, maximum: 600_000, default: 15_000 }),
  ACCESS_TOKEN_TTL: Seconds(600, 30, 86_400),
  DEFAULT_AUDIENCE: Type.Optional(Type.String({ minLength: 1, maxLength: 2048 })),
  AUDIENCES: Type.String({ maxLength: 16_384, default: '' }),
  REFRESH_TOKEN_TTL: Seconds(2_592_000, 60),
  REFRESH_IDLE_TTL: Seconds(604_800, 60),
  REFRESH_REUSE_GRACE: Type.Integer({ minimum: 0, maximum: 60, default: 10 }),
  SIGNING_ALG: Type.Union(
    [Type.Literal('ES256'), Type.Literal('EdDSA'), Type.Literal('RS256'), Type.Literal('PS256')],
    { default: 'ES256' },
  ),
  JWKS_MAX_AGE: Seconds(300, 0, 86_400),
  KEY_PUBLISH_AHEAD: Type.Optional(Type.Integer({ minimum: 0, maximum: 604_800 })), // no default: unset means JWKS_MAX_AGE
  KEY_ROTATION_INTERVAL: Type.Integer({ minimum: 0, maximum: 31_536_000, default: 0 }),
  KEY_SYNC_INTERVAL: Seconds(5, 1, 300),
  MASTER_KEY: Type.Optional(Type.String({ minLength: 1, maxLength: 256 })),
  MASTER_KEY_FILE: Type.String({ minLength: 1, maxLength: 4096, default: 'keys/master.key' }),
  MASTER_KEY_PREVIOUS: Type.Optional(Type.String({ minLength: 1, maxLength: 256 })),
  TRUST_PROXY: Type.String({ maxLength: 4096, default: 'false' }),
  LOG_LEVEL: Type.Union(
    ['fatal', 'error', 'warn', 'info', 'debug', 'trace', 'silent'].map((l) => Type.Literal(l)),
    { default: 'info' },
  ),
  REGISTRATION: Type.Union([Type.Literal('open'), Type.Literal('closed')], { default: 'open' }),
  PASSWORD_MIN_LENGTH: Type.Integer({ minimum: 8, maximum: 128, default: 12 }),
  // Extra words refused in passwords, comma-separated, beside the built-in ones (context-words.ts).
  PASSWORD_CONTEXT_WORDS: Type.Optional(Type.String({ maxLength: 2048 })),
  // A k-anonymity range API in the Have I Been Pwned format; unset: only the local list.
  BREACHED_PASSWORDS_URL: Type.Optional(Type.String({ pattern: '^https?://[^\\s]+$', maxLength: 2048 })),
  BREACHED_PASSWORDS_TIMEOUT_MS: Type.Integer({ minimum: 100, maximum: 30_000, default: 2000 }),
  MAX_SESSIONS_PER_USER: Type.Integer({ minimum: 1, maximum: 100_000, default: 50 }),
  ARGON2_MEMORY_KIB: Type.Integer({ minimum: 19_456, maximum: 4_194_304, default: 19_456 }),
  ARGON2_ITERATIONS: Type.Integer({ minimum: 2, maximum: 64, default: 2 }),
  ARGON2_PARALLELISM: Type.Integer({ minimum: 1, maximum: 16, default: 1 }),
  // Default: the cores this process may run on (CPU affinity included), see hashConcurrency().
  HASH_CONCURRENCY: Type.Optional(Type.Integer({ minimum: 1, maximum: 64 })),
  HASH_QUEUE: Type.Integer({ minimum: 0, maximum: 10_000, default: 32 }),
  REDIS_URL: Type.Optional(Type.String({ pattern: '^rediss?://', maxLength: 4096 })),
  REDIS_PREFIX: Type.String({ pattern: '^[A-Za-z0-9:_-]{1,64}$', default: 'tessera:' }),
  REDIS_TIMEOUT_MS: Type.Integer({ minimum: 100, maximum: 60_000, default: 2000 }),
  CAPTCHA_PROVIDER: Type.Union(
    [Type.Literal('hcaptcha'), Type.Literal('turnstile'), Type.Literal('recaptcha'), Type.Literal('none')],
    { default: 'hcaptcha' },
  ),
  CAPTCHA_SECRET: Type.Optional(Type.String({ minLength: 1, maxLength: 1024 })),
  CAPTCHA_SITEKEY: Type.Optional(Type.String({ minLength: 1, maxLength: 1024 })),
  CAPTCHA_VERIFY_URL: Type.Optional(Type.String({ pattern: '^https?://[^\\s]+$', maxLength: 2048 })),
  CAPTCHA_AFTER_FAILURES: Type.Integer({ minimum: 1, maximum: 1000, default: 3 }),
  CAPTCHA_AFTER_IP_FAILURES: Type.Integer({ minimum: 1, maximum: 100_000, default: 20 }),
  CAPTCHA_TIMEOUT_MS: Type.Integer({ minimum: 100, maximum: 30_000, default: 3000 }),
  CAPTCHA_HOSTNAMES: Type.Optional(Type.String({ maxLength: 16_384 })), // no default: unset means the ISSUER and CORS_ORIGINS hosts
  CAPTCHA_MIN_SCORE: Type.Number({ minimum: 0, maximum: 1, default: 0.5 }),
  CAPTCHA_SCRIPT_URL: Type.Optional(Type.String({ pattern: '^https?://[^\\s"\'<>;,]+$', maxLength: 2048 })), // no default: the provider's
  // Hosted pages and the authorization code flow.
  SESSION_TTL: Seconds(86_400, 60, 31_536_000),
  AUTH_CODE_TTL: Seconds(60, 5, 60),
  AUTHORIZATION_REQUEST_TTL: Seconds(900, 60, 3600),
  BRAND_NAME: Type.String({ minLength: 1, maxLength: 64, default: 'Tessera' }),
  BRAND_LOGO_URL: Type.Optional(Type.String({ pattern: '^https?://[^\\s"\'<>;,]+$', maxLength: 2048 })),
  LOGIN_FAILURE_WINDOW: Seconds(900, 60, 86_400),
  LOGIN_DELAY_MAX_MS: Type.Integer({ minimum: 0, maximum: 30_000, default: 5000 }),
  LOGIN_RATE_LIMIT: Type.Integer({ minimum: 1, maximum: 1_000_000, default: 30 }),
  REGISTRATION_RATE_LIMIT: Type.Integer({ minimum: 1, maximum: 1_000_000, default: 10 }),
  TOKEN_RATE_LIMIT: Type.Integer({ minimum: 1, maximum: 1_000_000, default: 120 }),
  RATE_LIMIT_MAX: Type.Integer({ minimum: 1, maximum: 10_000_000, default: 600 }),
  CORS_ORIGINS: Type.String({ maxLength: 16_384, default: '' }),
  TLS_CERT_FILE: Type.Optional(Type.String({ minLength: 1, maxLength: 4096 })),
  TLS_KEY_FILE: Type.Optional(Type.String({ minLength: 1, maxLength: 4096 })),
  // The HTTP server: idle keep-alive above the load balancer's idle timeout, a bound on
  // receiving a whole request, and how long a SIGTERM waits for requests in flight.
  KEEP_ALIVE_TIMEOUT: Seconds(72, 1, 3600),
  REQUEST_TIMEOUT: Seconds(30, 1, 600),
  SHUTDOWN_TIMEOUT: Seconds(25, 1, 600),
  SHUTDOWN_DELAY: Seconds(0, 0, 300),
  BODY_LIMIT: Type.Integer({ minimum: 1024, maximum: 1_048_576, default: 16_384 }),
  // Audit log, alerts and metrics.
  AUDIT_RETENTION_DAYS: Type.Integer({ minimum: 0, maximum: 36_500, default: 365 }),
  AUDIT_SEAL_INTERVAL_MS: Type.Integer({ minimum: 50, maximum: 60_000, default: 500 }),
  AUDIT_CHECKPOINT_URL: Type.Optional(Type.String({ pattern: '^https?://[^\\s]+$', maxLength: 2048 })),
  AUDIT_EXPORT_URL: Type.Optional(Type.String({ pattern: '^https?://[^\\s]+$', maxLength: 2048 })),
  ALERT_WEBHOOK_URL: Type.Optional(Type.String({ pattern: '^https?://[^\\s]+$', maxLength: 2048 })),
  ALERT_WEBHOOK_TIMEOUT_MS: Type.Integer({ minimum: 100, maximum: 60_000, default: 3000 }),
  ALERT_WEBHOOK_RETRIES: Type.Integer({ minimum: 0, maximum: 20, default: 8 }),
  // Standard Webhooks: "whsec_" and the base64 of 24 to 64 random bytes.
  ALERT_WEBHOOK_SECRET: Type.Optional(Type.String({ pattern: '^whsec_[A-Za-z0-9+/]{32,88}={0,2}$', maxLength: 100 })),
  ALERT_FAILED_LOGINS_PER_ACCOUNT: Type.Integer({ minimum: 0, maximum: 1_000_000, default: 10 }),
  ALERT_FAILED_LOGINS_PER_IP: Type.Integer({ minimum: 0, maximum: 1_000_000, default: 50 }),
  ALERT_CAPTCHA_FAILURES_PER_IP: Type.Integer({ minimum: 0, maximum: 1_000_000, default: 20 }),
  // Refused requests (403, forged or unknown tokens): at most this many audit events per IP a minute.
  AUDIT_REFUSALS_PER_IP: Type.Integer({ minimum: 1, maximum: 100_000, default: 10 }),
  ALERT_REFUSALS_PER_IP: Type.Integer({ minimum: 0, maximum: 1_000_000, default: 20 }),
  ALERT_WINDOW: Seconds(900, 10, 86_400),
  ALERT_DEDUP_WINDOW: Seconds(3600, 1, 604_800),
  ALERT_CHECK_INTERVAL_MS: Type.Integer({ minimum: 50, maximum: 60_000, default: 1000 }),
  // Mail, and the account and client life cycle.
  SMTP_URL: Type.Optional(Type.String({ pattern: '^smtps?://[^\\s]+$', maxLength: 4096 })),
  MAIL_FROM: Type.Optional(Type.String({ minLength: 3, maxLength: 320 })),
  SMTP_CA_FILE: Type.Optional(Type.String({ minLength: 1, maxLength: 4096 })),
  SMTP_TIMEOUT_MS: Type.Integer({ minimum: 100, maximum: 120_000, default: 10_000 }),
  MAIL_POLL_INTERVAL_MS: Type.Integer({ minimum: 50, maximum: 60_000, default: 1000 }),
  EMAIL_VERIFICATION: Type.Union([Type.Literal('required'), Type.Literal('off')], { default: 'required' }),
  UNVERIFIED_ACCOUNT_TTL: Seconds(86_400, 60, 31_536_000),
  PASSWORD_RESET_TTL: Seconds(1800, 60, 86_400),
  INVITATION_TTL: Seconds(604_800, 60, 2_592_000),
  CLIENT_SECRET_OVERLAP: Seconds(86_400, 0, 31_536_000),
  // Second factors and step-up.
  MFA_REQUIRED_ROLES: Type.String({ pattern: '^[a-z, ]*$', maxLength: 256, default: 'admin' }),
  MFA_REQUIRED: Type.Union([Type.Literal('roles'), Type.Literal('all')], { default: 'roles' }),
  STEP_UP_MAX_AGE: Seconds(300, 10, 86_400),
  MFA_LOGIN_TTL: Seconds(300, 30, 900),
  WEBAUTHN_RP_ID: Type.Optional(Type.String({ pattern: '^[a-z0-9.-]{1,253}$', maxLength: 253 })), // no default: the ISSUER host
  WEBAUTHN_ORIGINS: Type.Optional(Type.String({ maxLength: 16_384 })), // no default: the ISSUER origin
  ALERT_MFA_FAILURES_PER_ACCOUNT: Type.Integer({ minimum: 0, maximum: 1_000_000, default: 5 }),
  METRICS_PORT: Type.Optional(Type.Integer({ minimum: 0, maximum: 65535 })),
  METRICS_HOST: Type.Optional(Type.String({ minLength: 1, maxLength: 255 })),
});
type Env = Static<typeof EnvSchema>;

export type SigningAlg = Env['SIGNING_ALG'];

export interface Config {
  env: Env['NODE_ENV'];
  port: number;
  host: string;
  issuer: string;
  /**
   * PostgreSQL's connections per process (poolSize, DATABASE_POOL_SIZE) and timeouts: connectTimeoutMs bounds both opening a connection and waiting
   * for a free one in the pool; statementTimeoutMs is the server's statement_timeout.
   */
  database:
    | {
        kind: 'postgres';
        url: string;
        /** The schema owner's URL, for migrations (MIGRATION_DATABASE_URL); unset: url. */
        migrationUrl?: string;
        poolSize?: number;
        connectTimeoutMs?: number;
        statementTimeoutMs?: number;
      }
    | { kind: 'pglite'; dataDir: string };
  accessTokenTtl: number;
  defaultAudience: string;
  audiences: string[];
  refreshTokenTtl: number;
  refreshIdleTtl: number;
  refreshReuseGrace: number;
  signingAlg: SigningAlg;
  jwksMaxAge: number;
  keys: { publishAhead: number; rotationInterval: number; syncInterval: number };
  masterKeyPrevious: string | undefined;
  masterKey: { kind: 'value'; value: string } | { kind: 'file'; path: string; explicit: boolean };
  trustProxy: boolean | string[] | number;
  logLevel: Env['LOG_LEVEL'];
  registration: Env['REGISTRATION'];
  password: {
    minLength: number;
    /** Words tied to this service, refused as most of a password: the defaults, BRAND_NAME, the ISSUER host, PASSWORD_CONTEXT_WORDS. */
    contextWords: string[];
    /** HIBP-style range API (BREACHED_PASSWORDS_URL) and how long a lookup may take before the password is accepted. */
    breachedUrl: string | undefined;
    breachedTimeoutMs: number;
  };
  /** A login past this many live sessions of one user ends the least recently used. */
  maxSessionsPerUser: number;
  argon2: { memoryCost: number; timeCost: number; parallelism: number; concurrency: number; queue: number };
  bodyLimit: number;
  /** Seconds: idle keep-alive connections (KEEP_ALIVE_TIMEOUT), receiving a request (REQUEST_TIMEOUT), draining on SIGTERM (SHUTDOWN_TIMEOUT), still accepting after it (SHUTDOWN_DELAY). */
  http: { keepAliveTimeout: number; requestTimeout: number; shutdownTimeout: number; shutdownDelay: number };
  corsOrigins: string[];
  tls: { certFile: string; keyFile: string } | undefined;
  redisUrl: string | undefined;
  redisPrefix: string;
  /** Bounds connecting to Redis (at start and on every reconnect) and every command. */
  redisTimeoutMs: number;
  captcha: {
    provider: Env['CAPTCHA_PROVIDER'];
    secret: string | undefined;
    sitekey: string | undefined;
    verifyUrl: string | undefined;
    timeoutMs: number;
    afterFailures: number;
    afterIpFailures: number;
    /** Hosts an answer may have been solved on (siteverify's `hostname`), lower case. */
    hostnames: string[];
    /** reCAPTCHA v3 only: the lowest score that passes (1.0: very likely a human). */
    minScore: number;
    /** The widget's script on the hosted login page (empty for provider none). */
    scriptUrl: string;
  };
  /** Browser session lifetime at the hosted pages (single sign-on), seconds. */
  sessionTtl: number;
  /** Authorization code lifetime, seconds (at most 60). */
  authCodeTtl: number;
  /** How long a pending authorization request waits for the user at the login page, seconds. */
  authorizationRequestTtl: number;
  pages: { brandName: string; logoUrl: string | undefined };
  loginDefence: { windowSeconds: number; maxDelayMs: number };
  rateLimits: { login: number; registration: number; token: number; global: number };
  audit: {
    retentionDays: number;
    sealIntervalMs: number;
    /** Refusal events (403, forged tokens) recorded per IP per minute; the rest are counted, not recorded. */
    refusalsPerIp: number;
    /** Where each new signed checkpoint is POSTed; may carry a secret path, never logged. */
    checkpointUrl: string | undefined;
    /** Where sealed events are POSTed in leaf order, in batches; may carry a secret path, never logged. */
    exportUrl: string | undefined;
  };
  alerts: {
    webhookUrl: string | undefined;
    webhookTimeoutMs: number;
    webhookRetries: number;
    /** Standard Webhooks signing key (the bytes after "whsec_", decoded); unset: deliveries are unsigned. */
    webhookSecret: Buffer | undefined;
    failedLoginsPerAccount: number;
    failedLoginsPerIp: number;
    captchaFailuresPerIp: number;
    mfaFailuresPerAccount: number;
    refusalsPerIp: number;
    windowSeconds: number;
    dedupWindowSeconds: number;
    checkIntervalMs: number;
  };
  /** Where GET /metrics is served without auth; unset: on the main port, admins only. */
  metrics: { port: number | undefined; host: string };
  mail: {
    /** nodemailer's SMTP URL (may carry credentials: never logged); unset: .eml files in `dir` (not in production). */
    smtpUrl: string | undefined;
    from: string;
    /** PEM of the private CA(s) the SMTP server's certificate is checked against, instead of the system CAs. */
    caFile: string | undefined;
    timeoutMs: number;
    pollIntervalMs: number;
    /** Where mails are written as .eml files when there is no SMTP_URL: DATA_DIR/mail. */
    dir: string;
  };
  accounts: {
    emailVerification: Env['EMAIL_VERIFICATION'];
    /** Seconds an unverified account waits for its owner before it is deleted. */
    unverifiedTtl: number;
    passwordResetTtl: number;
    invitationTtl: number;
    /** Whether self-service password reset works: it needs a way to send mail. */
    selfServiceReset: boolean;
  };
  /** Seconds a client's previous secret keeps working after a rotation. */
  clientSecretOverlap: number;
  mfa: {
    /** Roles whose holders must use a second factor; `all`: every account. */
    requiredRoles: string[];
    requiredForAll: boolean;
    /** How recent auth_time must be for step-up actions, seconds. */
    stepUpMaxAge: number;
    /** How long an mfa_token waits for its second step, seconds. */
    loginTtl: number;
    /** WebAuthn relying party id (a registrable domain) and the origins ceremonies may come from. */
    rpId: string;
    origins: string[];
  };
}

export class ConfigError extends Error {
  constructor(
    readonly variable: string,
    detail: string,
  ) {
    super(`Invalid setting ${variable}: ${detail}`);
    this.name = 'ConfigError';
  }
}

const KEYS = Object.keys(EnvSchema.properties) as (keyof Env)[];

/** Reads the process environment (or a given map) into a checked Config. */
export function loadConfig(source: Record<string, string | undefined> = process.env): Config {
  const raw: Record<string, string> = {};
  for (const key of KEYS) {
    const value = source[key];
    if (value !== undefined && value !== '') raw[key] = value;
  }
  // Set but empty means no role (every other empty setting means its default).
  if (source.MFA_REQUIRED_ROLES === '') raw.MFA_REQUIRED_ROLES = 'none';
  // Only whole decimal numbers: Value.Convert would also take "1e3" or "0x10".
  for (const key of KEYS) {
    const schema = EnvSchema.properties[key] as { type?: string };
    const value = raw[key];
    if (schema.type === 'integer' && value !== undefined && !/^\d{1,10}$/.test(value)) {
      throw new ConfigError(key, 'must be a whole number');
    }
    if (schema.type === 'number' && value !== undefined && !/^\d{1,3}(\.\d{1,6})?$/.test(value)) {
      throw new ConfigError(key, 'must be a decimal number like 0.5');
    }
  }
  const env = Value.Default(EnvSchema, Value.Convert(EnvSchema, { ...raw })) as Env;
  const firstError = [...Value.Errors(EnvSchema, env)][0];
  if (firstError) {
    const variable = firstError.instancePath.replace(/^\//, '') || 'environment';
    throw new ConfigError(variable, firstError.message);
  }
  return toConfig(env, raw.MASTER_KEY_FILE !== undefined);
}

function toConfig(env: Env, masterKeyFileExplicit: boolean): Config {
  const issuer = (env.ISSUER ?? `http://localhost:${env.PORT}`).replace(/\/+$/, '');
  if (!isAbsoluteUrl(issuer)) throw new ConfigError('ISSUER', 'must be an absolute http(s) URL');
  const audiences = env.AUDIENCES.split(',')
    .map((a) => a.trim())
    .filter(Boolean);
  for (const audience of audiences) {
    if (!isAbsoluteUri(audience)) throw new ConfigError('AUDIENCES', `"${audience}" is not an absolute URI (RFC 8707)`);
  }
  if (env.REFRESH_IDLE_TTL > env.REFRESH_TOKEN_TTL) {
    throw new ConfigError('REFRESH_IDLE_TTL', 'must not exceed REFRESH_TOKEN_TTL');
  }
  // A key must be in every cached JWKS before it signs: publish it at least one max-age ahead.
  const publishAhead = env.KEY_PUBLISH_AHEAD ?? env.JWKS_MAX_AGE;
  if (publishAhead < env.JWKS_MAX_AGE) throw new ConfigError('KEY_PUBLISH_AHEAD', 'must be at least JWKS_MAX_AGE');
  if (env.KEY_ROTATION_INTERVAL > 0 && env.KEY_ROTATION_INTERVAL <= publishAhead) {
    throw new ConfigError('KEY_ROTATION_INTERVAL', 'must be 0 (manual) or longer than KEY_PUBLISH_AHEAD');
  }
  if (env.MIGRATION_DATABASE_URL && !env.DATABASE_URL) {
    // The embedded database has one role: there is nothing to split.
    throw new ConfigError('MIGRATION_DATABASE_URL', 'is only used with DATABASE_URL');
  }
  const corsOrigins = parseOrigins(env.CORS_ORIGINS);
  const config: Config = {
    env: env.NODE_ENV,
    port: env.PORT,
    host: env.HOST,
    issuer,
    database: env.DATABASE_URL
      ? {
          kind: 'postgres',
          url: env.DATABASE_URL,
          migrationUrl: env.MIGRATION_DATABASE_URL,
          poolSize: env.DATABASE_POOL_SIZE,
          connectTimeoutMs: env.DATABASE_CONNECT_TIMEOUT_MS,
          statementTimeoutMs: env.DATABASE_STATEMENT_TIMEOUT_MS,
        }
      : { kind: 'pglite', dataDir: env.DATA_DIR },
    accessTokenTtl: env.ACCESS_TOKEN_TTL,
    defaultAudience: env.DEFAULT_AUDIENCE ?? issuer,
    audiences,
    refreshTokenTtl: env.REFRESH_TOKEN_TTL,
    refreshIdleTtl: env.REFRESH_IDLE_TTL,
    refreshReuseGrace: env.REFRESH_REUSE_GRACE,
    signingAlg: env.SIGNING_ALG,
    jwksMaxAge: env.JWKS_MAX_AGE,
    keys: { publishAhead, rotationInterval: env.KEY_ROTATION_INTERVAL, syncInterval: env.KEY_SYNC_INTERVAL },
    masterKeyPrevious: env.MASTER_KEY_PREVIOUS,
    masterKey: env.MASTER_KEY
      ? { kind: 'value', value: env.MASTER_KEY }
      : { kind: 'file', path: env.MASTER_KEY_FILE, explicit: masterKeyFileExplicit },
    trustProxy: parseTrustProxy(env.TRUST_PROXY),
    logLevel: env.LOG_LEVEL,
    registration: env.REGISTRATION,
    password: {
      minLength: env.PASSWORD_MIN_LENGTH,
      contextWords: contextWordsFor({ brandName: env.BRAND_NAME, issuer, extra: env.PASSWORD_CONTEXT_WORDS }),
      breachedUrl: webhookUrl(env.BREACHED_PASSWORDS_URL, 'BREACHED_PASSWORDS_URL'),
      breachedTimeoutMs: env.BREACHED_PASSWORDS_TIMEOUT_MS,
    },
    maxSessionsPerUser: env.MAX_SESSIONS_PER_USER,
    argon2: {
      memoryCost: env.ARGON2_MEMORY_KIB,
      timeCost: env.ARGON2_ITERATIONS,
      parallelism: env.ARGON2_PARALLELISM,
      concurrency: env.HASH_CONCURRENCY ?? hashConcurrency(),
      queue: env.HASH_QUEUE,
    },
    bodyLimit: env.BODY_LIMIT,
    http: {
      keepAliveTimeout: env.KEEP_ALIVE_TIMEOUT,
      requestTimeout: env.REQUEST_TIMEOUT,
      shutdownTimeout: env.SHUTDOWN_TIMEOUT,
      shutdownDelay: env.SHUTDOWN_DELAY,
    },
    corsOrigins,
    tls: tlsFiles(env.TLS_CERT_FILE, env.TLS_KEY_FILE),
    redisUrl: env.REDIS_URL,
    redisPrefix: env.REDIS_PREFIX,
    redisTimeoutMs: env.REDIS_TIMEOUT_MS,
    captcha: {
      provider: env.CAPTCHA_PROVIDER,
      secret: env.CAPTCHA_SECRET,
      sitekey: env.CAPTCHA_SITEKEY,
      verifyUrl: env.CAPTCHA_VERIFY_URL,
      timeoutMs: env.CAPTCHA_TIMEOUT_MS,
      afterFailures: env.CAPTCHA_AFTER_FAILURES,
      afterIpFailures: env.CAPTCHA_AFTER_IP_FAILURES,
      hostnames: captchaHostnames(env.CAPTCHA_HOSTNAMES, issuer, corsOrigins),
      minScore: env.CAPTCHA_MIN_SCORE,
      scriptUrl: env.CAPTCHA_SCRIPT_URL ?? DEFAULT_SCRIPT_URLS[env.CAPTCHA_PROVIDER],
    },
    sessionTtl: env.SESSION_TTL,
    authCodeTtl: env.AUTH_CODE_TTL,
    authorizationRequestTtl: env.AUTHORIZATION_REQUEST_TTL,
    pages: { brandName: env.BRAND_NAME, logoUrl: env.BRAND_LOGO_URL },
    loginDefence: { windowSeconds: env.LOGIN_FAILURE_WINDOW, maxDelayMs: env.LOGIN_DELAY_MAX_MS },
    rateLimits: {
      login: env.LOGIN_RATE_LIMIT,
      registration: env.REGISTRATION_RATE_LIMIT,
      token: env.TOKEN_RATE_LIMIT,
      global: env.RATE_LIMIT_MAX,
    },
    audit: {
      retentionDays: env.AUDIT_RETENTION_DAYS,
      sealIntervalMs: env.AUDIT_SEAL_INTERVAL_MS,
      refusalsPerIp: env.AUDIT_REFUSALS_PER_IP,
      checkpointUrl: webhookUrl(env.AUDIT_CHECKPOINT_URL, 'AUDIT_CHECKPOINT_URL'),
      exportUrl: webhookUrl(env.AUDIT_EXPORT_URL, 'AUDIT_EXPORT_URL'),
    },
    alerts: {
      webhookUrl: webhookUrl(env.ALERT_WEBHOOK_URL),
      webhookTimeoutMs: env.ALERT_WEBHOOK_TIMEOUT_MS,
      webhookRetries: env.ALERT_WEBHOOK_RETRIES,
      webhookSecret: webhookSecret(env.ALERT_WEBHOOK_SECRET),
      failedLoginsPerAccount: env.ALERT_FAILED_LOGINS_PER_ACCOUNT,
      failedLoginsPerIp: env.ALERT_FAILED_LOGINS_PER_IP,
      captchaFailuresPerIp: env.ALERT_CAPTCHA_FAILURES_PER_IP,
      mfaFailuresPerAccount: env.ALERT_MFA_FAILURES_PER_ACCOUNT,
      refusalsPerIp: env.ALERT_REFUSALS_PER_IP,
      windowSeconds: env.ALERT_WINDOW,
      dedupWindowSeconds: env.ALERT_DEDUP_WINDOW,
      checkIntervalMs: env.ALERT_CHECK_INTERVAL_MS,
    },
    metrics: { port: metricsPort(env.METRICS_PORT, env.PORT), host: env.METRICS_HOST ?? env.HOST },
    mail: {
      smtpUrl: smtpUrl(env.SMTP_URL),
      from: mailFrom(env.MAIL_FROM, issuer, env.BRAND_NAME),
      caFile: smtpCaFile(env.SMTP_CA_FILE, env.SMTP_URL),
      timeoutMs: env.SMTP_TIMEOUT_MS,
      pollIntervalMs: env.MAIL_POLL_INTERVAL_MS,
      dir: join(env.DATA_DIR, 'mail'),
    },
    accounts: {
      emailVerification: env.EMAIL_VERIFICATION,
      unverifiedTtl: env.UNVERIFIED_ACCOUNT_TTL,
      passwordResetTtl: env.PASSWORD_RESET_TTL,
      invitationTtl: env.INVITATION_TTL,
      // Outside production mails without SMTP_URL land in DATA_DIR/mail; in production only SMTP delivers.
      selfServiceReset: env.NODE_ENV !== 'production' || env.SMTP_URL !== undefined,
    },
    clientSecretOverlap: env.CLIENT_SECRET_OVERLAP,
    mfa: {
      requiredRoles: mfaRoles(env.MFA_REQUIRED_ROLES),
      requiredForAll: env.MFA_REQUIRED === 'all',
      stepUpMaxAge: env.STEP_UP_MAX_AGE,
      loginTtl: env.MFA_LOGIN_TTL,
      ...webauthnParty(env.WEBAUTHN_RP_ID, env.WEBAUTHN_ORIGINS, issuer),
    },
  };
  checkProduction(config);
  return config;
}

/** Where each provider serves its widget script. */
const DEFAULT_SCRIPT_URLS: Record<Env['CAPTCHA_PROVIDER'], string> = {
  hcaptcha: 'https://js.hcaptcha.com/1/api.js',
  turnstile: 'https://challenges.cloudflare.com/turnstile/v0/api.js',
  recaptcha: 'https://www.google.com/recaptcha/api.js',
  none: '',
};

function isAbsoluteUrl(value: string): boolean {
  try {
    const url = new URL(value);
    return (url.protocol === 'https:' || url.protocol === 'http:') && !url.hash && !url.username && !url.password;
  } catch {
    return false;
  }
}

/** RFC 8707: a resource is an absolute URI without a fragment (https:, urn:, ...). */
function isAbsoluteUri(value: string): boolean {
  try {
    const url = new URL(value);
    return /^[a-z][a-z0-9+.-]*:$/.test(url.protocol) && !url.hash && !value.includes('#') && !/\s/.test(value);
  } catch {
    return false;
  }
}

/** CORS_ORIGINS: exact origins (scheme://host[:port]); never "null" or a wildcard. */
function parseOrigins(value: string): string[] {
  const origins = value
    .split(',')
    .map((o) => o.trim())
    .filter(Boolean);
  for (const origin of origins) {
    let ok: boolean;
    try {
      const url = new URL(origin);
      ok = (url.protocol === 'https:' || url.protocol === 'http:') && url.origin === origin;
    } catch {
      ok = false;
    }
    if (!ok) throw new ConfigError('CORS_ORIGINS', `"${origin}" is not an exact origin like https://app.example.com`);
  }
  return [...new Set(origins)];
}

const HOSTNAME = /^(?=.{1,253}$)[a-z0-9](?:[a-z0-9-]{0,61}[a-z0-9])?(?:\.[a-z0-9](?:[a-z0-9-]{0,61}[a-z0-9])?)*$/;

/**
 * CAPTCHA_HOSTNAMES: bare host names, matched exactly (a sitekey may be allowed on other
 * sites too). Unset: the issuer's host and every CORS origin's, since a first-party app
 * may render the widget on its own origin.
 */
function captchaHostnames(value: string | undefined, issuer: string, corsOrigins: string[]): string[] {
  if (value === undefined) return [...new Set([issuer, ...corsOrigins].map((u) => new URL(u).hostname))];
  const hosts = value
    .split(',')
    .map((h) => h.trim())
    .filter(Boolean);
  if (hosts.length === 0) throw new ConfigError('CAPTCHA_HOSTNAMES', 'must name at least one host');
  for (const host of hosts) {
    if (!HOSTNAME.test(host.toLowerCase())) {
      throw new ConfigError(
        'CAPTCHA_HOSTNAMES',
        `"${host}" is not a host name like app.example.com (no scheme, port, path or wildcard)`,
      );
    }
  }
  return [...new Set(hosts.map((h) => h.toLowerCase()))];
}

/** MFA_REQUIRED_ROLES: role names, comma- or space-separated; `none` (or set but empty): no role. */
function mfaRoles(value: string): string[] {
  if (value.trim() === 'none') return [];
  const roles = [...new Set(value.split(/[\s,]+/).filter(Boolean))];
  for (const role of roles) {
    if (!['admin', 'moderator', 'user'].includes(role))
      throw new ConfigError('MFA_REQUIRED_ROLES', `"${role}" is not a role (admin, moderator, user)`);
  }
  return roles;
}

/**
 * WEBAUTHN_RP_ID: the domain passkeys are bound to, the issuer's host or a registrable
 * suffix of it; WEBAUTHN_ORIGINS: the exact origins ceremonies may run on (default: the
 * issuer's). Each origin's host must be the RP ID or under it (WebAuthn 5.1.4.1).
 */
function webauthnParty(rpId: string | undefined, origins: string | undefined, issuer: string) {
  const party = rpId ?? new URL(issuer).hostname;
  // Unset: the issuer's own origin, as it is (browsers allow ceremonies on https and localhost only).
  if (rpId === undefined && origins === undefined) return { rpId: party, origins: [new URL(issuer).origin] };
  const list = (origins ?? new URL(issuer).origin)
    .split(',')
    .map((o) => o.trim())
    .filter(Boolean);
  if (list.length === 0) throw new ConfigError('WEBAUTHN_ORIGINS', 'must name at least one origin');
  for (const origin of list) {
    let url: URL;
    try {
      url = new URL(origin);
    } catch {
      throw new ConfigError('WEBAUTHN_ORIGINS', `"${origin}" is not an origin like https://id.example.com`);
    }
    if (url.origin !== origin || (url.protocol !== 'https:' && url.hostname !== 'localhost'))
      throw new ConfigError('WEBAUTHN_ORIGINS', `"${origin}" is not an https origin (or http://localhost)`);
    if (url.hostname !== party && !url.hostname.endsWith(`.${party}`))
      throw new ConfigError('WEBAUTHN_ORIGINS', `"${origin}" is not on the relying party id ${party}`);
  }
  return { rpId: party, origins: list };
}

/**
 * Hashes at once by default: one per core this process may run on (os.availableParallelism
 * honours taskset and cgroup-free affinity masks). More threads than cores add no login
 * throughput and take the event loop's share of the CPU: every other request waits.
 */
function hashConcurrency(): number {
  return Math.max(1, Math.min(64, availableParallelism()));
}

function tlsFiles(certFile: string | undefined, keyFile: string | undefined): Config['tls'] {
  if (!certFile && !keyFile) return undefined;
  if (!certFile) throw new ConfigError('TLS_CERT_FILE', 'is needed with TLS_KEY_FILE');
  if (!keyFile) throw new ConfigError('TLS_KEY_FILE', 'is needed with TLS_CERT_FILE');
  return { certFile, keyFile };
}

/** ALERT_WEBHOOK_SECRET: whsec_ and base64 of 24 to 64 bytes (Standard Webhooks). */
function webhookSecret(value: string | undefined): Buffer | undefined {
  if (value === undefined) return undefined;
  const key = Buffer.from(value.slice('whsec_'.length), 'base64');
  if (key.length < 24 || key.length > 64)
    throw new ConfigError('ALERT_WEBHOOK_SECRET', 'must be whsec_ and the base64 of 24 to 64 random bytes');
  return key;
}

/** ALERT_WEBHOOK_URL, AUDIT_CHECKPOINT_URL, AUDIT_EXPORT_URL: absolute http(s) URLs (they may carry a secret path; never logged). */
function webhookUrl(value: string | undefined, name = 'ALERT_WEBHOOK_URL'): string | undefined {
  if (value === undefined) return undefined;
  try {
    const url = new URL(value);
    if (url.protocol === 'https:' || url.protocol === 'http:') return value;
  } catch {
    // reported below
  }
  throw new ConfigError(name, 'must be an absolute http(s) URL');
}

/** SMTP_URL: smtp:// (STARTTLS when offered) or smtps:// (implicit TLS), as nodemailer reads it. */
function smtpUrl(value: string | undefined): string | undefined {
  if (value === undefined) return undefined;
  try {
    const url = new URL(value);
    if ((url.protocol === 'smtp:' || url.protocol === 'smtps:') && url.hostname) return value;
  } catch {
    // reported below
  }
  throw new ConfigError('SMTP_URL', 'must be an smtp:// or smtps:// URL like smtps://user:pass@mail.example.com:465');
}

/** SMTP_CA_FILE: only with SMTP_URL (read when the transport is made). */
function smtpCaFile(value: string | undefined, url: string | undefined): string | undefined {
  if (value !== undefined && url === undefined) throw new ConfigError('SMTP_CA_FILE', 'is only used with SMTP_URL');
  return value;
}

/** MAIL_FROM: an address, or `Name <address>`; default no-reply at the issuer's host. */
function mailFrom(value: string | undefined, issuer: string, brand: string): string {
  if (value === undefined) return `"${brand.replace(/["\\\r\n]/g, '')}" <no-reply@${new URL(issuer).hostname}>`;
  const address = /^(?:[^<>\r\n]{0,200}<)?([^\s@<>]{1,64}@[^\s@<>]+\.[^\s@<>]+)>?$/.exec(value.trim());
  if (!address || /[\r\n]/.test(value))
    throw new ConfigError('MAIL_FROM', 'must be an address like no-reply@example.com or "Name <no-reply@example.com>"');
  return value.trim();
}

function metricsPort(port: number | undefined, mainPort: number): number | undefined {
  if (port !== undefined && port !== 0 && port === mainPort)
    throw new ConfigError('METRICS_PORT', 'must differ from PORT');
  return port;
}

/** Whether any proxy is trusted at all. */
function trustsAProxy(trustProxy: Config['trustProxy']): boolean {
  return (
    trustProxy === true ||
    (typeof trustProxy === 'number' && trustProxy > 0) ||
    (Array.isArray(trustProxy) && trustProxy.length > 0)
  );
}

/** Fastify trustProxy: false, true, a hop count, or a list of addresses/CIDRs. */
function parseTrustProxy(value: string): boolean | string[] | number {
  const v = value.trim().toLowerCase();
  if (v === 'false' || v === '') return false;
  if (v === 'true') return true;
  if (/^\d{1,2}$/.test(v)) return Number(v);
  const list = value
    .split(',')
    .map((s) => s.trim())
    .filter(Boolean);
  const cidr = /^(?:loopback|linklocal|uniquelocal|[0-9a-fA-F:.]+(?:\/\d{1,3})?)$/;
  for (const entry of list) {
    if (!cidr.test(entry))
      throw new ConfigError('TRUST_PROXY', `"${entry}" is not an address, CIDR, true, false or a hop count`);
  }
  return list;
}

/** NODE_ENV=production refuses settings that are only fit for a laptop. */
function checkProduction(config: Config): void {
  if (config.env !== 'production') return;
  if (config.masterKey.kind === 'file' && !config.masterKey.explicit) {
    throw new ConfigError('MASTER_KEY', 'production needs MASTER_KEY or MASTER_KEY_FILE set explicitly');
  }
  if (config.database.kind === 'pglite') {
    throw new ConfigError('DATABASE_URL', 'production needs PostgreSQL; the embedded database is for development');
  }
  if (config.captcha.provider !== 'none' && !config.captcha.secret) {
    throw new ConfigError('CAPTCHA_SECRET', 'production needs the captcha secret while CAPTCHA_PROVIDER is not none');
  }
  if (config.captcha.provider !== 'none' && !config.captcha.sitekey) {
    // Without it the login page's widget cannot render, and a due captcha could never pass.
    throw new ConfigError(
      'CAPTCHA_SITEKEY',
      'production needs the captcha site key while CAPTCHA_PROVIDER is not none',
    );
  }
  if (config.registration === 'open' && !config.mail.smtpUrl) {
    // Verification links and reset mails must reach people; files on the server reach no one.
    throw new ConfigError(
      'SMTP_URL',
      'production with REGISTRATION=open needs SMTP_URL (verification and password reset mails); set it, or REGISTRATION=closed',
    );
  }
  if (config.trustProxy === true) {
    // Believing every X-Forwarded-For would let any client pick its own address (dodging
    // the per-IP limits and captcha, forging the audit log) and its own protocol.
    throw new ConfigError(
      'TRUST_PROXY',
      'production needs the proxy addresses or CIDRs (e.g. 10.0.0.0/8) or a hop count, not true',
    );
  }
  if (config.issuer.startsWith('http:') && !trustsAProxy(config.trustProxy)) {
    throw new ConfigError(
      'ISSUER',
      'production needs an https: issuer, or TRUST_PROXY naming the TLS-terminating proxy',
    );
  }
  if (config.logLevel === 'trace') {
    // Trace lines may carry request details (headers, bodies) that the redaction list does not know.
    throw new ConfigError('LOG_LEVEL', 'production refuses trace (it may log request details); use debug or info');
  }
  checkBackendTls(config);
}

/**
 * NODE_ENV=production: every backend is reached over TLS that verifies its certificate,
 * unless it is on this machine (loopback, or PostgreSQL's Unix socket). The messages name
 * the variable and never the URL, which may carry a password.
 */
function checkBackendTls(config: Config): void {
  if (config.database.kind === 'postgres') {
    checkPostgresTls(config.database.url, 'DATABASE_URL');
    if (config.database.migrationUrl) checkPostgresTls(config.database.migrationUrl, 'MIGRATION_DATABASE_URL');
  }
  if (config.redisUrl) {
    const url = parseUrl(config.redisUrl, 'REDIS_URL');
    // ioredis takes a `host` query parameter (the last one) only when the URL itself has no host.
    const host = url.hostname || url.searchParams.getAll('host').at(-1) || '';
    if (url.protocol !== 'rediss:' && !isLoopbackHost(host))
      throw new ConfigError('REDIS_URL', 'production needs rediss:// (Redis over TLS) unless Redis is on loopback');
  }
  const httpsUrls: [string, string | undefined][] = [
    ['CAPTCHA_VERIFY_URL', config.captcha.verifyUrl],
    ['ALERT_WEBHOOK_URL', config.alerts.webhookUrl],
    ['AUDIT_CHECKPOINT_URL', config.audit.checkpointUrl],
    ['AUDIT_EXPORT_URL', config.audit.exportUrl],
    ['BREACHED_PASSWORDS_URL', config.password.breachedUrl],
  ];
  for (const [variable, value] of httpsUrls) {
    if (value === undefined) continue;
    const url = parseUrl(value, variable);
    if (url.protocol !== 'https:' && !isLoopbackHost(url.hostname))
      throw new ConfigError(variable, 'production needs an https:// URL unless the service is on loopback');
  }
  if (config.mail.smtpUrl) {
    const url = parseUrl(config.mail.smtpUrl, 'SMTP_URL');
    // nodemailer reads repeated query keys as a list; only one plain requireTLS=true counts here.
    const startTlsRequired = url.searchParams.getAll('requireTLS').join(',') === 'true';
    if (url.protocol !== 'smtps:' && !startTlsRequired && !isLoopbackHost(url.hostname))
      throw new ConfigError(
        'SMTP_URL',
        'production needs smtps:// (implicit TLS) or smtp:// with ?requireTLS=true (STARTTLS required) unless the mail server is on loopback',
      );
  }
}

function parseUrl(value: string, variable: string): URL {
  try {
    return new URL(value);
  } catch {
    throw new ConfigError(variable, 'is not a valid URL');
  }
}

/**
 * DATABASE_URL, MIGRATION_DATABASE_URL as pg-connection-string reads them: the last of a
 * repeated query parameter wins, a `host` parameter overrides the URL's host, a host
 * starting with / is a Unix socket. Without uselibpqcompat, verify-ca is an alias of
 * verify-full (chain and host name checked); with uselibpqcompat=true it checks the chain
 * against sslrootcert only, which must then be given.
 */
function checkPostgresTls(value: string, variable: string): void {
  const target = postgresTarget(value);
  if (!target) throw new ConfigError(variable, 'is not a URL node-postgres reads the same way');
  const { host, params } = target;
  if (host.startsWith('/') || isLoopbackHost(host)) return;
  const last = (key: string) => params.getAll(key).at(-1);
  const sslmode = last('sslmode');
  if (sslmode !== 'verify-full' && sslmode !== 'verify-ca')
    throw new ConfigError(
      variable,
      'production needs ?sslmode=verify-full (or verify-ca) so the server certificate is verified, unless PostgreSQL is on loopback or a Unix socket',
    );
  if (sslmode === 'verify-ca' && last('uselibpqcompat') === 'true' && !last('sslrootcert'))
    throw new ConfigError(variable, 'sslmode=verify-ca with uselibpqcompat=true needs sslrootcert (the private CA)');
}

/** The host pg connects to and the query parameters, parsed the way pg-connection-string 2.x does. */
function postgresTarget(value: string): { host: string; params: URLSearchParams } | undefined {
  let str = value;
  if (/ |%[^a-f0-9]|%[a-f0-9][^a-f0-9]/i.test(str)) str = encodeURI(str).replace(/%25(\d\d)/g, '%$1');
  let url: URL;
  let dummyHost = false;
  try {
    url = new URL(str);
  } catch {
    try {
      url = new URL(str.replace('@/', '@___DUMMY___/'));
      dummyHost = true;
    } catch {
      return undefined;
    }
  }
  const params = url.searchParams;
  const queryHost = params.getAll('host').at(-1);
  if (queryHost) return { host: queryHost, params };
  try {
    const host = decodeURIComponent(dummyHost ? '' : url.hostname).replace(/^\[(.+)\]$/, '$1');
    return { host, params };
  } catch {
    return undefined;
  }
}

/**
 * localhost, 127.0.0.0/8 and ::1, written exactly so (no 127.1 or hex forms, which some
 * resolvers take and others do not). An empty host is not loopback: pg and ioredis would
 * fall back to environment defaults.
 */
function isLoopbackHost(value: string): boolean {
  const host = value.toLowerCase().replace(/^\[(.+)\]$/, '$1');
  if (host === 'localhost') return true;
  if (isIPv4(host)) return host.startsWith('127.');
  if (isIPv6(host)) return new URL(`http://[${host}]/`).hostname === '[::1]';
  return false;
}
