// Production reaches every backend over TLS that verifies the certificate, unless the
// backend is on this machine: each plain URL stops the start naming its variable (never
// echoing the URL), loopback and Unix sockets are fine, and what is accepted really
// verifies (node-postgres against a TLS server on 127.0.0.1, nodemailer with requireTLS
// against an SMTP server that offers no STARTTLS). Also LOG_LEVEL=trace, and a real
// `tessera serve` refused for a plain REDIS_URL.
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { mkdtempSync, readFileSync } from 'node:fs';
import { createServer, type AddressInfo } from 'node:net';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { TLSSocket } from 'node:tls';
import pg from 'pg';
import { ConfigError, loadConfig } from '../../src/config/config.js';
import { createMailTransport } from '../../src/mail/transport.js';
import { TEST_MASTER_KEY } from '../helpers/build.js';
import { tessera } from '../helpers/cli.js';
import { startSmtp } from '../helpers/smtp.js';
import { selfSigned } from '../helpers/tls.js';

/** A password in every refused URL: no message may repeat it. */
const SECRET = 'pw-never-echoed';

/** Settings under which production starts, every backend on TLS, so each case changes one thing. */
const PRODUCTION: Record<string, string> = {
  NODE_ENV: 'production',
  MASTER_KEY_FILE: '/run/secrets/tessera-master.key',
  DATABASE_URL: `postgres://tessera:${SECRET}@db.internal:5432/tessera?sslmode=verify-full`,
  ISSUER: 'https://id.example.com',
  CAPTCHA_PROVIDER: 'none',
  REGISTRATION: 'closed',
};

function assertRefused(env: Record<string, string>, variable: string, what: string): void {
  assert.throws(
    () => loadConfig({ ...PRODUCTION, ...env }),
    (error: unknown) => {
      assert.ok(error instanceof ConfigError, `${what}: expected a ConfigError, got ${String(error)}`);
      assert.equal(error.variable, variable, what);
      assert.match(error.message, new RegExp(`\\b${variable}\\b`), `${what}: the message names the variable`);
      assert.ok(!error.message.includes(SECRET), `${what}: the message does not echo the URL`);
      assert.ok(!error.message.includes('.internal'), `${what}: nor its host`);
      return true;
    },
    what,
  );
}

function assertAccepted(env: Record<string, string>, what: string): void {
  assert.doesNotThrow(() => loadConfig({ ...PRODUCTION, ...env }), what);
}

/** Each variable: URLs refused in production, and URLs taken there. */
const CASES: { variable: string; refused: string[]; accepted: string[] }[] = [
  {
    variable: 'DATABASE_URL',
    refused: [
      `postgres://tessera:${SECRET}@db.internal:5432/tessera`,
      `postgresql://tessera:${SECRET}@db.internal/tessera?sslmode=require`,
      `postgres://tessera:${SECRET}@db.internal/tessera?sslmode=prefer`,
      `postgres://tessera:${SECRET}@db.internal/tessera?sslmode=no-verify`,
      `postgres://tessera:${SECRET}@db.internal/tessera?ssl=true`,
      // node-postgres takes the last of a repeated parameter, and a host parameter over the URL's host.
      `postgres://tessera:${SECRET}@db.internal/tessera?sslmode=verify-full&sslmode=disable`,
      `postgres://tessera:${SECRET}@127.0.0.1/tessera?host=db.internal`,
      // Only strict loopback spellings count.
      `postgres://tessera:${SECRET}@127.1/tessera`,
      `postgres://tessera:${SECRET}@localhost.db.internal/tessera`,
      // libpq's verify-ca checks the chain against sslrootcert only: without one it is refused.
      `postgres://tessera:${SECRET}@db.internal/tessera?uselibpqcompat=true&sslmode=verify-ca`,
    ],
    accepted: [
      'postgres://tessera@db.internal/tessera?sslmode=verify-ca',
      'postgres://tessera@db.internal/tessera?sslmode=disable&sslmode=verify-full',
      'postgres://tessera@db.internal/tessera?sslmode=verify-full&sslrootcert=/run/secrets/db-ca.pem',
      'postgres://tessera@db.internal/tessera?uselibpqcompat=true&sslmode=verify-ca&sslrootcert=/run/secrets/db-ca.pem',
      'postgres://tessera@127.0.0.1:5432/tessera',
      'postgres://tessera@127.10.20.30/tessera',
      'postgres://tessera@localhost/tessera',
      'postgres://tessera@[::1]:5432/tessera',
      'postgres://tessera@/tessera?host=/var/run/postgresql',
      'postgres://tessera@%2Fvar%2Frun%2Fpostgresql/tessera',
    ],
  },
  {
    variable: 'MIGRATION_DATABASE_URL',
    refused: [
      `postgres://owner:${SECRET}@db.internal:5432/tessera`,
      `postgres://owner:${SECRET}@db.internal/tessera?sslmode=require`,
    ],
    accepted: [
      'postgres://owner@db.internal/tessera?sslmode=verify-full',
      'postgres://owner@127.0.0.1/tessera',
      'postgres://owner@/tessera?host=/var/run/postgresql',
    ],
  },
  {
    variable: 'REDIS_URL',
    refused: [`redis://:${SECRET}@redis.internal:6379/0`, `redis:///0?host=redis.internal`],
    accepted: [
      'rediss://:pw@redis.internal:6380/0',
      'redis://127.0.0.1:6379',
      'redis://localhost:6379/1',
      'redis://[::1]:6379',
    ],
  },
  ...[
    'CAPTCHA_VERIFY_URL',
    'ALERT_WEBHOOK_URL',
    'AUDIT_CHECKPOINT_URL',
    'AUDIT_EXPORT_URL',
    'BREACHED_PASSWORDS_URL',
  ].map((variable) => ({
    variable,
    refused: [`http://svc.internal/${SECRET}`, `http://user:${SECRET}@svc.internal:8080/hook`],
    accepted: [
      'https://svc.internal/path',
      'http://127.0.0.1:8080/path',
      'http://localhost/path',
      'http://[::1]:9/path',
    ],
  })),
  {
    variable: 'SMTP_URL',
    refused: [
      `smtp://mailer:${SECRET}@smtp.internal:587`,
      `smtp://mailer:${SECRET}@smtp.internal:587?requireTLS=false`,
      `smtp://mailer:${SECRET}@smtp.internal:587?requiretls=true`,
    ],
    accepted: [
      'smtps://mailer:pw@smtp.internal:465',
      'smtp://mailer:pw@smtp.internal:587?requireTLS=true',
      'smtp://127.0.0.1:25',
      'smtp://localhost:1025',
    ],
  },
];

test('production refuses a non-TLS backend URL, naming the variable', () => {
  assertAccepted({}, 'the base settings');
  for (const { variable, refused, accepted } of CASES) {
    // MIGRATION_DATABASE_URL needs DATABASE_URL; the base has one.
    for (const url of refused) assertRefused({ [variable]: url }, variable, `${variable}=${url}`);
    for (const url of accepted) assertAccepted({ [variable]: url }, `${variable}=${url}`);
  }
  // The same plain URLs are fine outside production.
  for (const env of ['development', 'test']) {
    for (const { variable, refused } of CASES) {
      if (variable === 'DATABASE_URL' || variable === 'MIGRATION_DATABASE_URL') continue;
      assert.doesNotThrow(() => loadConfig({ NODE_ENV: env, [variable]: refused[0]! }), `${env}: ${variable}`);
    }
    assert.equal(loadConfig({ NODE_ENV: env, DATABASE_URL: CASES[0]!.refused[0]! }).database.kind, 'postgres');
  }
  // The message says what to write instead.
  assert.throws(() => loadConfig({ ...PRODUCTION, DATABASE_URL: CASES[0]!.refused[0]! }), /sslmode=verify-full/);
  assert.throws(() => loadConfig({ ...PRODUCTION, REDIS_URL: CASES[2]!.refused[0]! }), /rediss:\/\//);
  assert.throws(
    () => loadConfig({ ...PRODUCTION, SMTP_URL: `smtp://smtp.internal:587` }),
    /smtps:\/\/.*requireTLS=true/,
  );
});

test('production refuses LOG_LEVEL=trace', () => {
  assertRefused({ LOG_LEVEL: 'trace' }, 'LOG_LEVEL', 'trace');
  assert.throws(() => loadConfig({ ...PRODUCTION, LOG_LEVEL: 'trace' }), /debug or info/);
  for (const level of ['debug', 'info', 'warn', 'error', 'fatal', 'silent']) {
    assert.equal(loadConfig({ ...PRODUCTION, LOG_LEVEL: level }).logLevel, level);
  }
  assert.equal(loadConfig({ NODE_ENV: 'development', LOG_LEVEL: 'trace' }).logLevel, 'trace');
});

/**
 * A stand-in PostgreSQL on 127.0.0.1 that answers the SSLRequest with 'S', completes the
 * TLS handshake if the client accepts its certificate, and then hangs up: enough to see
 * what node-postgres verifies. Counts completed handshakes.
 */
async function tlsOnlyPostgres(t: { after(fn: () => unknown): void }, files: { cert: string; key: string }) {
  const state = { handshakes: 0, port: 0 };
  const server = createServer((socket) => {
    socket.on('error', () => undefined);
    socket.once('data', () => {
      socket.write('S');
      const secure = new TLSSocket(socket, {
        isServer: true,
        cert: readFileSync(files.cert),
        key: readFileSync(files.key),
      });
      secure.on('error', () => undefined);
      secure.on('secure', () => {
        state.handshakes += 1;
        secure.destroy();
      });
    });
  });
  await new Promise<void>((resolve) => server.listen(0, '127.0.0.1', resolve));
  t.after(() => new Promise<void>((resolve) => server.close(() => resolve())));
  state.port = (server.address() as AddressInfo).port;
  return state;
}

/** Connects node-postgres with this URL; the error it ends with (it always ends with one here). */
async function pgConnect(url: string): Promise<string> {
  const client = new pg.Client({ connectionString: url, connectionTimeoutMillis: 5000 });
  client.on('error', () => undefined);
  try {
    await client.connect();
    return 'connected';
  } catch (error) {
    return (error as NodeJS.ErrnoException).code ?? (error as Error).message;
  } finally {
    await client.end().catch(() => undefined);
  }
}

test('the sslmode values production accepts make node-postgres verify the certificate', async (t) => {
  // Its own certificate names 127.0.0.1; a second one names another host only.
  const right = selfSigned();
  const server = await tlsOnlyPostgres(t, right);
  const base = `postgres://tessera@127.0.0.1:${server.port}/tessera`;
  for (const sslmode of ['verify-full', 'verify-ca']) {
    // An untrusted (self-signed) certificate: no handshake completes.
    assert.equal(await pgConnect(`${base}?sslmode=${sslmode}`), 'DEPTH_ZERO_SELF_SIGNED_CERT', sslmode);
    assert.equal(server.handshakes, 0, `${sslmode}: nothing was sent over an unverified connection`);
  }
  // Trusted through sslrootcert: the handshake completes (and the stand-in hangs up).
  await pgConnect(`${base}?sslmode=verify-full&sslrootcert=${encodeURIComponent(right.cert)}`);
  assert.equal(server.handshakes, 1, 'verify-full with the right CA connects');

  const wrong = selfSigned('DNS:db.other.test');
  const other = await tlsOnlyPostgres(t, wrong);
  const otherBase = `postgres://tessera@127.0.0.1:${other.port}/tessera?sslrootcert=${encodeURIComponent(wrong.cert)}`;
  // Without uselibpqcompat verify-ca is verify-full: the host name must match too.
  assert.equal(await pgConnect(`${otherBase}&sslmode=verify-ca`), 'ERR_TLS_CERT_ALTNAME_INVALID');
  assert.equal(await pgConnect(`${otherBase}&sslmode=verify-full`), 'ERR_TLS_CERT_ALTNAME_INVALID');
  assert.equal(other.handshakes, 0);
  // libpq semantics (uselibpqcompat=true): verify-ca checks the chain against sslrootcert only.
  await pgConnect(`${otherBase}&uselibpqcompat=true&sslmode=verify-ca`);
  assert.equal(other.handshakes, 1, 'libpq verify-ca: the chain is checked, not the host name');
});

test('smtp:// with requireTLS=true never sends in clear to a server without STARTTLS', async (t) => {
  const smtp = await startSmtp();
  t.after(() => smtp.stop());
  const warnings: string[] = [];
  const transport = createMailTransport(
    {
      smtpUrl: `smtp://127.0.0.1:${smtp.port}?requireTLS=true`,
      caFile: undefined,
      timeoutMs: 5000,
      dir: mkdtempSync(join(tmpdir(), 'tessera-mail-')),
    },
    { info: () => undefined, warn: (_obj, msg) => warnings.push(msg) },
  );
  t.after(() => transport.close());
  const mail = {
    from: 'no-reply@example.com',
    to: 'someone@example.com',
    subject: 'Verify your address',
    text: 'a link that must not travel in clear',
    html: '<p>a link that must not travel in clear</p>',
    messageId: '<requiretls@example.com>',
    headers: {},
  };
  await assert.rejects(transport.send(mail, 'requiretls', AbortSignal.timeout(10_000)));
  assert.equal(smtp.received.length, 0, 'nothing reached the server in clear');
  assert.deepEqual(warnings, [], 'requireTLS=true is not the optional-STARTTLS case');
});

test('tessera serve in production with a plain REDIS_URL exits non-zero naming REDIS_URL', async () => {
  const result = await tessera(['serve'], {
    env: {
      PATH: process.env.PATH ?? '',
      HOME: process.env.HOME ?? tmpdir(),
      NODE_ENV: 'production',
      LOG_LEVEL: 'info',
      MASTER_KEY: TEST_MASTER_KEY,
      ISSUER: 'https://id.example.com',
      // Loopback, so the database is not what is refused; the start stops before connecting.
      DATABASE_URL: 'postgres://tessera@127.0.0.1:9/tessera',
      CAPTCHA_PROVIDER: 'none',
      REGISTRATION: 'closed',
      REDIS_URL: `redis://:${SECRET}@redis.internal:6379/0`,
    },
  });
  assert.notEqual(result.code, 0);
  assert.match(result.stderr, /REDIS_URL/);
  assert.match(result.stderr, /rediss:\/\//);
  assert.ok(!`${result.stdout}${result.stderr}`.includes(SECRET), 'the URL is not printed');
  assert.doesNotMatch(result.stdout, /tessera ready/);
});
