// build(t): a Tessera app on this file's own database, closed after the test.
import { randomBytes } from 'node:crypto';
import type { TestContext } from 'node:test';
import type { FastifyInstance } from 'fastify';
import { loadConfig, type Config } from '../../src/config/config.js';
import { buildServer } from '../../src/server.js';
import { loadSecrets } from '../../src/crypto/secrets.js';
import type { SecretBox } from '../../src/crypto/secret-box.js';
import { testDatabaseEnv } from './database.js';

/** A fixed master key for tests only; never used outside them. */
export const TEST_MASTER_KEY = randomBytes(32).toString('base64');

export async function testConfig(env: Record<string, string> = {}): Promise<Config> {
  return loadConfig({
    NODE_ENV: 'test',
    LOG_LEVEL: 'silent',
    MASTER_KEY: TEST_MASTER_KEY,
    ISSUER: 'http://localhost:3000',
    // Defences off by default so unrelated tests can fail logins and go fast; the
    // defence tests turn them on with their own settings.
    CAPTCHA_PROVIDER: 'none',
    LOGIN_DELAY_MAX_MS: '0',
    LOGIN_RATE_LIMIT: '1000000',
    REGISTRATION_RATE_LIMIT: '1000000',
    TOKEN_RATE_LIMIT: '1000000',
    RATE_LIMIT_MAX: '1000000',
    // Registration logs in at once unless a test is about verification (test/accounts/).
    EMAIL_VERIFICATION: 'off',
    // Admins without a second factor keep their powers unless a test is about the policy (test/mfa/).
    MFA_REQUIRED_ROLES: '',
    ...(await testDatabaseEnv()),
    ...env,
  });
}

/**
 * The app's service decorators under one name, as tests reach them (built.services.db,
 * .syncKeys(), ...), plus the sealing box made from the test's own master key: the app
 * itself never exposes it.
 */
export interface TestServices {
  config: Config;
  db: FastifyInstance['db'];
  box: SecretBox;
  keys: FastifyInstance['keys'];
  keystore: FastifyInstance['keystore'];
  tokens: FastifyInstance['tokens'];
  hasher: FastifyInstance['hasher'];
  redis: FastifyInstance['redis'];
  attempts: FastifyInstance['attempts'];
  credentialGuard: FastifyInstance['credentialGuard'];
  alerts: FastifyInstance['alerts'];
  auditSealer: FastifyInstance['auditSealer'];
  auditKey: FastifyInstance['auditKey'];
  mail: FastifyInstance['mail'];
  mailDelivery: FastifyInstance['mailDelivery'];
  syncKeys(): Promise<void>;
  housekeeping(): Promise<void>;
  /** Closes the app (every plugin closes what it opened); safe to call again. */
  close(): Promise<void>;
}

export function servicesOf(app: FastifyInstance, config: Config): TestServices {
  let closing: Promise<void> | undefined;
  return {
    config,
    get db() {
      return app.db;
    },
    box: loadSecrets(config).box,
    get keys() {
      return app.keys;
    },
    get keystore() {
      return app.keystore;
    },
    get tokens() {
      return app.tokens;
    },
    get hasher() {
      return app.hasher;
    },
    get redis() {
      return app.redis;
    },
    get attempts() {
      return app.attempts;
    },
    get credentialGuard() {
      return app.credentialGuard;
    },
    get alerts() {
      return app.alerts;
    },
    get auditSealer() {
      return app.auditSealer;
    },
    get auditKey() {
      return app.auditKey;
    },
    get mail() {
      return app.mail;
    },
    get mailDelivery() {
      return app.mailDelivery;
    },
    syncKeys: () => app.syncKeys(),
    housekeeping: () => app.housekeeping(),
    close: () => (closing ??= app.close()),
  };
}

export interface Built {
  app: FastifyInstance;
  services: TestServices;
  config: Config;
}

export async function build(
  t: Pick<TestContext, 'after'>,
  env: Record<string, string> = {},
  options: { logger?: unknown } = {},
): Promise<Built> {
  const config = await testConfig(env);
  const app = await buildServer(config, options.logger ? { logger: options.logger as never } : {});
  await app.ready();
  const services = servicesOf(app, config);
  t.after(() => services.close());
  return { app, services, config };
}

let counter = 0;
/** A unique email per call, so tests sharing a file's database never collide. */
export function uniqueEmail(prefix = 'user'): string {
  counter += 1;
  return `${prefix}-${process.pid}-${counter}-${randomBytes(3).toString('hex')}@example.com`;
}

export const GOOD_PASSWORD = 'quiet-lantern-orbit-47';

export async function registerAndLogin(app: FastifyInstance, email = uniqueEmail(), password = GOOD_PASSWORD) {
  const reg = await app.inject({ method: 'POST', url: '/users', payload: { email, password } });
  if (reg.statusCode !== 201) throw new Error(`registration failed: ${reg.statusCode} ${reg.body}`);
  const login = await app.inject({ method: 'POST', url: '/auth/login', payload: { email, password } });
  if (login.statusCode !== 200) throw new Error(`login failed: ${login.statusCode} ${login.body}`);
  return {
    email,
    password,
    tokens: login.json<{ access_token: string; refresh_token: string; scope: string; expires_in: number }>(),
  };
}

export function refresh(app: FastifyInstance, refreshToken: string, extra: Record<string, string> = {}) {
  return app.inject({
    method: 'POST',
    url: '/oauth/token',
    headers: { 'content-type': 'application/x-www-form-urlencoded' },
    payload: new URLSearchParams({ grant_type: 'refresh_token', refresh_token: refreshToken, ...extra }).toString(),
  });
}

/** A user with the given roles, created directly (as `tessera users create` does), logged in. */
export async function userWithRoles(built: Pick<Built, 'app' | 'services'>, roles: ('admin' | 'moderator' | 'user')[]) {
  const { registerUser } = await import('../../src/users/register-user.js');
  const email = uniqueEmail(roles.join('-') || 'none');
  const result = await registerUser(built.services, { email, password: GOOD_PASSWORD, roles });
  if (!result.created) throw new Error('user exists');
  const login = await built.app.inject({
    method: 'POST',
    url: '/auth/login',
    payload: { email, password: GOOD_PASSWORD },
  });
  if (login.statusCode !== 200) throw new Error(`login failed: ${login.body}`);
  const tokens = login.json<{ access_token: string; refresh_token: string }>();
  return { id: result.user.id, email, tokens, auth: { authorization: `Bearer ${tokens.access_token}` } };
}

/** A port free on 127.0.0.1 right now, so ISSUER can name it before the app listens. */
export async function freePort(): Promise<number> {
  const { createServer } = await import('node:net');
  const probe = createServer();
  await new Promise<void>((resolve) => probe.listen(0, '127.0.0.1', resolve));
  const { port } = probe.address() as { port: number };
  await new Promise((resolve) => probe.close(resolve));
  return port;
}
