// loadConfig: contract defaults, and hostile values that must stop the start naming the variable.
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { ConfigError, loadConfig } from '../../src/config/config.js';

/** Asserts loadConfig refuses env with a ConfigError that names `variable`. */
function assertRefused(env: Record<string, string>, variable: string): void {
  assert.throws(
    () => loadConfig(env),
    (error: unknown) => {
      assert.ok(error instanceof ConfigError, `expected a ConfigError, got ${String(error)}`);
      assert.equal(error.variable, variable);
      assert.match(error.message, new RegExp(`\\b${variable}\\b`), 'the message names the variable');
      return true;
    },
  );
}

/** Settings under which production starts, so each refusal test changes one thing. */
const PRODUCTION_OK: Record<string, string> = {
  NODE_ENV: 'production',
  MASTER_KEY_FILE: '/run/secrets/tessera-master.key',
  DATABASE_URL: 'postgres://tessera@db.internal:5432/tessera?sslmode=verify-full',
  ISSUER: 'https://id.example.com',
  CAPTCHA_SECRET: 'placeholder-captcha-secret',
  CAPTCHA_SITEKEY: 'placeholder-site-key',
  SMTP_URL: 'smtps://mailer:placeholder@smtp.example.com:465',
};

test('an empty environment gives the contract defaults', () => {
  const config = loadConfig({});
  assert.equal(config.env, 'development');
  assert.equal(config.port, 3000);
  assert.equal(config.host, '127.0.0.1');
  assert.equal(config.issuer, 'http://localhost:3000');
  assert.equal(config.defaultAudience, 'http://localhost:3000');
  assert.deepEqual(config.audiences, []);
  assert.equal(config.accessTokenTtl, 600);
  assert.equal(config.refreshTokenTtl, 2_592_000);
  assert.equal(config.refreshIdleTtl, 604_800);
  assert.equal(config.refreshReuseGrace, 10);
  assert.equal(config.signingAlg, 'ES256');
  assert.equal(config.jwksMaxAge, 300);
  assert.equal(config.registration, 'open');
  assert.equal(config.trustProxy, false);
  assert.equal(config.logLevel, 'info');
  assert.equal(config.password.minLength, 12);
  assert.deepEqual(config.database, { kind: 'pglite', dataDir: './data' });
  assert.deepEqual(config.masterKey, { kind: 'file', path: 'keys/master.key', explicit: false });
  assert.ok(config.argon2.memoryCost >= 19_456);
  assert.ok(config.argon2.timeCost >= 2);
});

test('the default issuer follows PORT, and empty strings count as unset', () => {
  assert.equal(loadConfig({ PORT: '8080' }).issuer, 'http://localhost:8080');
  const config = loadConfig({ PORT: '', ISSUER: '', DATABASE_URL: '' });
  assert.equal(config.port, 3000);
  assert.equal(config.issuer, 'http://localhost:3000');
  assert.equal(config.database.kind, 'pglite');
});

test('loadConfig reads only the map it is given', () => {
  const saved = process.env.PORT;
  process.env.PORT = '4444';
  try {
    assert.equal(loadConfig({}).port, 3000);
  } finally {
    if (saved === undefined) delete process.env.PORT;
    else process.env.PORT = saved;
  }
});

test('explicit settings are taken', () => {
  const config = loadConfig({
    PORT: '8443',
    HOST: '0.0.0.0',
    ISSUER: 'https://id.example.com/',
    DATABASE_URL: 'postgresql://u:p@db:5432/tessera',
    AUDIENCES: 'https://api.example.com, https://billing.example.com',
    DEFAULT_AUDIENCE: 'https://api.example.com',
    ACCESS_TOKEN_TTL: '300',
    REFRESH_REUSE_GRACE: '0',
    SIGNING_ALG: 'EdDSA',
    REGISTRATION: 'closed',
    MASTER_KEY: 'AAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAA=',
  });
  assert.equal(config.port, 8443);
  assert.equal(config.host, '0.0.0.0');
  assert.equal(config.issuer, 'https://id.example.com', 'a trailing slash is dropped');
  assert.deepEqual(config.database, {
    kind: 'postgres',
    url: 'postgresql://u:p@db:5432/tessera',
    migrationUrl: undefined,
    poolSize: 10,
    connectTimeoutMs: 3000,
    statementTimeoutMs: 15_000,
  });
  assert.deepEqual(config.audiences, ['https://api.example.com', 'https://billing.example.com']);
  assert.equal(config.defaultAudience, 'https://api.example.com');
  assert.equal(config.accessTokenTtl, 300);
  assert.equal(config.refreshReuseGrace, 0);
  assert.equal(config.signingAlg, 'EdDSA');
  assert.equal(config.registration, 'closed');
  assert.equal(config.masterKey.kind, 'value');
});

test('the HTTP timeouts, the pool size and the alert signing key', () => {
  const defaults = loadConfig({ DATABASE_URL: 'postgres://db/tessera' });
  assert.deepEqual(defaults.http, { keepAliveTimeout: 72, requestTimeout: 30, shutdownTimeout: 25, shutdownDelay: 0 });
  assert.equal(defaults.database.kind === 'postgres' && defaults.database.poolSize, 10);
  assert.equal(defaults.alerts.webhookSecret, undefined);
  const key = Buffer.alloc(32, 7);
  const set = loadConfig({
    DATABASE_URL: 'postgres://db/tessera',
    DATABASE_POOL_SIZE: '40',
    KEEP_ALIVE_TIMEOUT: '120',
    REQUEST_TIMEOUT: '10',
    SHUTDOWN_TIMEOUT: '50',
    SHUTDOWN_DELAY: '5',
    ALERT_WEBHOOK_SECRET: `whsec_${key.toString('base64')}`,
  });
  assert.deepEqual(set.http, { keepAliveTimeout: 120, requestTimeout: 10, shutdownTimeout: 50, shutdownDelay: 5 });
  assert.equal(set.database.kind === 'postgres' && set.database.poolSize, 40);
  assert.deepEqual(set.alerts.webhookSecret, key);
  for (const [name, value] of [
    ['ALERT_WEBHOOK_SECRET', 'not-a-secret'],
    ['ALERT_WEBHOOK_SECRET', `whsec_${Buffer.alloc(16).toString('base64')}`],
    ['DATABASE_POOL_SIZE', '0'],
    ['KEEP_ALIVE_TIMEOUT', '0'],
    ['SHUTDOWN_TIMEOUT', 'soon'],
  ] as const) {
    assert.throws(
      () => loadConfig({ [name]: value }),
      (e: Error) => e.message.includes(name),
      `${name}=${value}`,
    );
  }
});

test('every supported signing algorithm is accepted', () => {
  for (const alg of ['ES256', 'EdDSA', 'RS256', 'PS256']) {
    assert.equal(loadConfig({ SIGNING_ALG: alg }).signingAlg, alg);
  }
});

const hostile: Array<[string, Record<string, string>, string]> = [
  ['PORT above 65535', { PORT: '99999' }, 'PORT'],
  ['PORT in exponent notation', { PORT: '1e3' }, 'PORT'],
  ['PORT in hex', { PORT: '0x10' }, 'PORT'],
  ['negative PORT', { PORT: '-1' }, 'PORT'],
  ['PORT with a fraction', { PORT: '3000.5' }, 'PORT'],
  ['PORT with trailing junk', { PORT: '3000abc' }, 'PORT'],
  ['REFRESH_REUSE_GRACE above 60', { REFRESH_REUSE_GRACE: '61' }, 'REFRESH_REUSE_GRACE'],
  ['an HMAC signing algorithm', { SIGNING_ALG: 'HS256' }, 'SIGNING_ALG'],
  ['the none algorithm', { SIGNING_ALG: 'none' }, 'SIGNING_ALG'],
  ['a lower-case algorithm name', { SIGNING_ALG: 'es256' }, 'SIGNING_ALG'],
  ['a javascript: issuer', { ISSUER: 'javascript:alert(1)' }, 'ISSUER'],
  ['an issuer with a fragment', { ISSUER: 'https://id.example.com/#frag' }, 'ISSUER'],
  ['an issuer with a query', { ISSUER: 'https://id.example.com/?a=b' }, 'ISSUER'],
  ['an issuer with credentials', { ISSUER: 'https://user:pw@id.example.com' }, 'ISSUER'],
  ['a relative audience', { AUDIENCES: 'https://api.example.com,/relative' }, 'AUDIENCES'],
  ['an audience with a fragment', { AUDIENCES: 'https://api.example.com/#x' }, 'AUDIENCES'],
  ['REGISTRATION neither open nor closed', { REGISTRATION: 'maybe' }, 'REGISTRATION'],
  ['TRUST_PROXY with shell junk', { TRUST_PROXY: 'garbage;rm' }, 'TRUST_PROXY'],
  ['TRUST_PROXY with one bad entry in a list', { TRUST_PROXY: '10.0.0.0/8,evil host' }, 'TRUST_PROXY'],
  [
    'an idle lifetime above the absolute one',
    { REFRESH_TOKEN_TTL: '3600', REFRESH_IDLE_TTL: '7200' },
    'REFRESH_IDLE_TTL',
  ],
  ['a MySQL DATABASE_URL', { DATABASE_URL: 'mysql://u:p@db/tessera' }, 'DATABASE_URL'],
  ['argon2 memory below 19 MiB', { ARGON2_MEMORY_KIB: '19455' }, 'ARGON2_MEMORY_KIB'],
  ['a single argon2 iteration', { ARGON2_ITERATIONS: '1' }, 'ARGON2_ITERATIONS'],
  ['a 7-character password minimum', { PASSWORD_MIN_LENGTH: '7' }, 'PASSWORD_MIN_LENGTH'],
  ['an access token lifetime of 0', { ACCESS_TOKEN_TTL: '0' }, 'ACCESS_TOKEN_TTL'],
  ['an unknown NODE_ENV', { NODE_ENV: 'staging' }, 'NODE_ENV'],
  ['an unknown LOG_LEVEL', { LOG_LEVEL: 'verbose' }, 'LOG_LEVEL'],
  ['a captcha host with a scheme', { CAPTCHA_HOSTNAMES: 'https://id.example.com' }, 'CAPTCHA_HOSTNAMES'],
  ['a captcha host with a port', { CAPTCHA_HOSTNAMES: 'id.example.com:443' }, 'CAPTCHA_HOSTNAMES'],
  ['a captcha host with a path', { CAPTCHA_HOSTNAMES: 'id.example.com/login' }, 'CAPTCHA_HOSTNAMES'],
  ['a wildcard captcha host', { CAPTCHA_HOSTNAMES: '*.example.com' }, 'CAPTCHA_HOSTNAMES'],
  ['a captcha host with an empty label', { CAPTCHA_HOSTNAMES: 'id..example.com' }, 'CAPTCHA_HOSTNAMES'],
  [
    'a captcha host with a space inside',
    { CAPTCHA_HOSTNAMES: 'id.example.com, evil example.com' },
    'CAPTCHA_HOSTNAMES',
  ],
  ['a captcha host with credentials', { CAPTCHA_HOSTNAMES: 'user@id.example.com' }, 'CAPTCHA_HOSTNAMES'],
  ['captcha hosts that are only commas', { CAPTCHA_HOSTNAMES: ' , ,' }, 'CAPTCHA_HOSTNAMES'],
  ['a captcha score above 1', { CAPTCHA_MIN_SCORE: '1.5' }, 'CAPTCHA_MIN_SCORE'],
  ['a negative captcha score', { CAPTCHA_MIN_SCORE: '-0.1' }, 'CAPTCHA_MIN_SCORE'],
  ['a captcha score in exponent notation', { CAPTCHA_MIN_SCORE: '5e-1' }, 'CAPTCHA_MIN_SCORE'],
  ['a captcha score in hex', { CAPTCHA_MIN_SCORE: '0x1' }, 'CAPTCHA_MIN_SCORE'],
  ['a captcha score of NaN', { CAPTCHA_MIN_SCORE: 'NaN' }, 'CAPTCHA_MIN_SCORE'],
  ['a captcha score of Infinity', { CAPTCHA_MIN_SCORE: 'Infinity' }, 'CAPTCHA_MIN_SCORE'],
  ['a captcha score with trailing junk', { CAPTCHA_MIN_SCORE: '0.5abc' }, 'CAPTCHA_MIN_SCORE'],
  ['a captcha score with a comma', { CAPTCHA_MIN_SCORE: '0,5' }, 'CAPTCHA_MIN_SCORE'],
];

for (const [name, env, variable] of hostile) {
  test(`refuses ${name}, naming ${variable}`, () => assertRefused(env, variable));
}

test('bounds are inclusive: REFRESH_REUSE_GRACE 60, PORT 65535, PASSWORD_MIN_LENGTH 8, equal TTLs', () => {
  assert.equal(loadConfig({ REFRESH_REUSE_GRACE: '60' }).refreshReuseGrace, 60);
  assert.equal(loadConfig({ PORT: '65535' }).port, 65535);
  assert.equal(loadConfig({ PASSWORD_MIN_LENGTH: '8' }).password.minLength, 8);
  const config = loadConfig({ REFRESH_TOKEN_TTL: '3600', REFRESH_IDLE_TTL: '3600' });
  assert.equal(config.refreshIdleTtl, config.refreshTokenTtl);
});

test('key rotation settings: manual by default, published at least one JWKS max-age ahead', () => {
  const config = loadConfig({});
  assert.equal(config.keys.rotationInterval, 0, 'KEY_ROTATION_INTERVAL defaults to manual only');
  assert.equal(config.keys.publishAhead, 300, 'KEY_PUBLISH_AHEAD defaults to JWKS_MAX_AGE');
  assert.equal(loadConfig({ JWKS_MAX_AGE: '600' }).keys.publishAhead, 600);
  assert.equal(loadConfig({ JWKS_MAX_AGE: '600', KEY_PUBLISH_AHEAD: '900' }).keys.publishAhead, 900);
  assertRefused({ JWKS_MAX_AGE: '600', KEY_PUBLISH_AHEAD: '300' }, 'KEY_PUBLISH_AHEAD');
  assertRefused({ KEY_PUBLISH_AHEAD: '1e3' }, 'KEY_PUBLISH_AHEAD');
  assertRefused({ KEY_ROTATION_INTERVAL: '300' }, 'KEY_ROTATION_INTERVAL');
  assert.equal(loadConfig({ KEY_ROTATION_INTERVAL: '86400' }).keys.rotationInterval, 86_400);
});

test('TRUST_PROXY: false, true, a hop count, or a list of addresses and CIDRs', () => {
  assert.equal(loadConfig({}).trustProxy, false);
  assert.equal(loadConfig({ TRUST_PROXY: 'false' }).trustProxy, false);
  assert.equal(loadConfig({ TRUST_PROXY: 'FALSE' }).trustProxy, false);
  assert.equal(loadConfig({ TRUST_PROXY: 'true' }).trustProxy, true);
  assert.equal(loadConfig({ TRUST_PROXY: 'True' }).trustProxy, true);
  assert.equal(loadConfig({ TRUST_PROXY: '2' }).trustProxy, 2);
  assert.deepEqual(loadConfig({ TRUST_PROXY: '127.0.0.1' }).trustProxy, ['127.0.0.1']);
  assert.deepEqual(loadConfig({ TRUST_PROXY: ' 10.0.0.0/8 , 192.168.1.0/24,::1 ' }).trustProxy, [
    '10.0.0.0/8',
    '192.168.1.0/24',
    '::1',
  ]);
  assert.deepEqual(loadConfig({ TRUST_PROXY: 'loopback,uniquelocal' }).trustProxy, ['loopback', 'uniquelocal']);
  assert.deepEqual(loadConfig({ TRUST_PROXY: 'fd00::/8' }).trustProxy, ['fd00::/8']);
});

test('production starts with an explicit master key, PostgreSQL and an https issuer', () => {
  const config = loadConfig(PRODUCTION_OK);
  assert.equal(config.env, 'production');
  assert.deepEqual(config.masterKey, { kind: 'file', path: '/run/secrets/tessera-master.key', explicit: true });
  assert.equal(
    loadConfig({ ...PRODUCTION_OK, MASTER_KEY_FILE: '', MASTER_KEY: 'AAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAA=' })
      .masterKey.kind,
    'value',
  );
});

test('production refuses the implicit master key file', () => {
  assertRefused({ ...PRODUCTION_OK, MASTER_KEY_FILE: '' }, 'MASTER_KEY');
  assert.throws(
    () => loadConfig({ ...PRODUCTION_OK, MASTER_KEY_FILE: '' }),
    /MASTER_KEY_FILE/,
    'the message also offers MASTER_KEY_FILE',
  );
});

test('production refuses the embedded database', () => {
  assertRefused({ ...PRODUCTION_OK, DATABASE_URL: '' }, 'DATABASE_URL');
});

test('production refuses an http issuer unless TRUST_PROXY names the TLS proxy', () => {
  assertRefused({ ...PRODUCTION_OK, ISSUER: 'http://id.example.com' }, 'ISSUER');
  assertRefused({ ...PRODUCTION_OK, ISSUER: '' }, 'ISSUER');
  assertRefused({ ...PRODUCTION_OK, ISSUER: 'http://id.example.com', TRUST_PROXY: 'false' }, 'ISSUER');
  const config = loadConfig({ ...PRODUCTION_OK, ISSUER: 'http://id.example.com', TRUST_PROXY: '10.0.0.0/8' });
  assert.equal(config.issuer, 'http://id.example.com');
});

test('production refuses TRUST_PROXY=true; a list of proxies or a hop count is taken', () => {
  assertRefused({ ...PRODUCTION_OK, TRUST_PROXY: 'true' }, 'TRUST_PROXY');
  assertRefused({ ...PRODUCTION_OK, TRUST_PROXY: 'TRUE' }, 'TRUST_PROXY');
  assert.throws(
    () => loadConfig({ ...PRODUCTION_OK, TRUST_PROXY: 'true' }),
    /addresses or CIDRs/,
    'the message says what to set instead',
  );
  assert.deepEqual(loadConfig({ ...PRODUCTION_OK, TRUST_PROXY: '10.0.0.5,10.1.0.0/16' }).trustProxy, [
    '10.0.0.5',
    '10.1.0.0/16',
  ]);
  assert.equal(loadConfig({ ...PRODUCTION_OK, TRUST_PROXY: '1' }).trustProxy, 1);
  assert.equal(
    loadConfig({ NODE_ENV: 'development', TRUST_PROXY: 'true' }).trustProxy,
    true,
    'still allowed outside production',
  );
});

test('production refuses a missing captcha secret while captcha is on', () => {
  assertRefused({ ...PRODUCTION_OK, CAPTCHA_SECRET: '' }, 'CAPTCHA_SECRET');
  assertRefused({ ...PRODUCTION_OK, CAPTCHA_SITEKEY: '' }, 'CAPTCHA_SITEKEY');
  assert.equal(loadConfig({ ...PRODUCTION_OK, CAPTCHA_SECRET: '', CAPTCHA_PROVIDER: 'none' }).captcha.provider, 'none');
});

test('the same unsafe settings are allowed outside production', () => {
  for (const env of ['development', 'test']) {
    const config = loadConfig({ NODE_ENV: env, ISSUER: 'http://id.example.com' });
    assert.equal(config.database.kind, 'pglite');
    assert.equal(config.masterKey.kind, 'file');
  }
});

test('CAPTCHA_HOSTNAMES: by default the hosts of ISSUER and CORS_ORIGINS; else the list given, in lower case', () => {
  assert.deepEqual(loadConfig({}).captcha.hostnames, ['localhost']);
  assert.deepEqual(
    loadConfig({
      ISSUER: 'https://id.example.com:8443/tenant',
      CORS_ORIGINS: 'https://app.example.com, http://localhost:5173, https://id.example.com',
    }).captcha.hostnames,
    ['id.example.com', 'app.example.com', 'localhost'],
    'host names only (no scheme or port), each once',
  );
  assert.deepEqual(
    loadConfig({ CAPTCHA_HOSTNAMES: ' Login.Example.com ,app.example.com,login.example.com' }).captcha.hostnames,
    ['login.example.com', 'app.example.com'],
  );
  assert.deepEqual(
    loadConfig({ CAPTCHA_HOSTNAMES: 'id.example.com', CORS_ORIGINS: 'https://app.example.com' }).captcha.hostnames,
    ['id.example.com'],
    'an explicit list replaces the default',
  );
  assert.throws(() => loadConfig({ CAPTCHA_HOSTNAMES: 'https://id.example.com' }), /no scheme, port, path or wildcard/);
});

test('CAPTCHA_MIN_SCORE: 0.5 by default, 0 to 1 inclusive', () => {
  assert.equal(loadConfig({}).captcha.minScore, 0.5);
  assert.equal(loadConfig({ CAPTCHA_MIN_SCORE: '0' }).captcha.minScore, 0);
  assert.equal(loadConfig({ CAPTCHA_MIN_SCORE: '1' }).captcha.minScore, 1);
  assert.equal(loadConfig({ CAPTCHA_MIN_SCORE: '1.0' }).captcha.minScore, 1);
  assert.equal(loadConfig({ CAPTCHA_MIN_SCORE: '0.75' }).captcha.minScore, 0.75);
});

test('hosted page settings: hostile URLs and out-of-range lifetimes are refused, defaults as documented', () => {
  const config = loadConfig({});
  assert.equal(config.captcha.scriptUrl, 'https://js.hcaptcha.com/1/api.js');
  assert.equal(
    loadConfig({ CAPTCHA_PROVIDER: 'turnstile' }).captcha.scriptUrl,
    'https://challenges.cloudflare.com/turnstile/v0/api.js',
  );
  assert.equal(config.sessionTtl, 86_400);
  assert.equal(config.authCodeTtl, 60);
  assert.equal(config.pages.brandName, 'Tessera');
  for (const [variable, value] of [
    ['BRAND_LOGO_URL', 'javascript:alert(1)'],
    ['BRAND_LOGO_URL', 'https://cdn.example/logo.png" onerror="x'],
    ['CAPTCHA_SCRIPT_URL', 'https://x.example/a.js; script-src *'],
    ['CAPTCHA_SCRIPT_URL', 'data:text/javascript,alert(1)'],
    ['AUTH_CODE_TTL', '61'],
    ['AUTH_CODE_TTL', '0'],
    ['SESSION_TTL', '10'],
    ['BRAND_NAME', 'x'.repeat(65)],
  ] as const) {
    assert.throws(() => loadConfig({ [variable]: value }), new RegExp(variable), `${variable}=${value}`);
  }
});

test('MIGRATION_DATABASE_URL names the schema owner; it needs DATABASE_URL', () => {
  const config = loadConfig({
    DATABASE_URL: 'postgres://tessera_app@db/tessera',
    MIGRATION_DATABASE_URL: 'postgres://tessera_owner@db/tessera',
  });
  assert.equal(
    config.database.kind === 'postgres' && config.database.migrationUrl,
    'postgres://tessera_owner@db/tessera',
  );
  assertRefused({ MIGRATION_DATABASE_URL: 'postgres://tessera_owner@db/tessera' }, 'MIGRATION_DATABASE_URL');
  assertRefused(
    { DATABASE_URL: 'postgres://a@db/t', MIGRATION_DATABASE_URL: 'mysql://owner@db/t' },
    'MIGRATION_DATABASE_URL',
  );
});
