// Tessera as the side-by-side bench drives it: a real listening server (src/server.ts
// buildServer) on a fresh PostgreSQL database, or on the embedded PGlite engine in a fresh
// directory, in a child process pinned with taskset.
//
// As a module: startTessera({ adminUrl, cores, engine }) spawns this file under
// `taskset -c <cores>` and talks to it over IPC. As a script:
//
//   taskset -c 1 node --import tsx bench/tessera-server.ts --database-url postgres://postgres@127.0.0.1:5432/postgres [--pglite]
//
// creates bench_tessera_<hex> there (dropped on exit; with --pglite a temporary DATA_DIR
// instead, removed on exit), starts Tessera on it with a fresh MASTER_KEY, rate limits out
// of the way, CAPTCHA_PROVIDER=none and LOG_LEVEL=silent, registers one client_credentials
// client and a few users, and prints one JSON line (TesseraInfo) once listening.
//
// Refresh tokens: the users log in through POST /auth/login (real logins, one argon2id verify
// each); the many more a run needs are minted by the steps the login runs once the password
// has been checked (src/sessions/login.ts: createSession, then issueTokenPair), so thousands
// cost seconds, not minutes of argon2. They are the same tokens, for the same first-party
// client, scope and audience. The login_success audit event is not written for these.
import { randomBytes, randomUUID } from 'node:crypto';
import { mkdtempSync, rmSync } from 'node:fs';
import type { AddressInfo } from 'node:net';
import { tmpdir } from 'node:os';
import { dirname, join } from 'node:path';
import { fileURLToPath, pathToFileURL } from 'node:url';
import pg from 'pg';
import { createClient, FIRST_PARTY_CLIENT_ID } from '../src/clients/clients.js';
import { loadConfig } from '../src/config/config.js';
import { createSession } from '../src/db/repositories/sessions.js';
import { findUserByEmail } from '../src/db/repositories/users.js';
import { resolveAudience, resolveScope, USER_SCOPES } from '../src/domain/tokens/grant-request.js';
import { issueTokenPair } from '../src/grants/token-pair.js';
import { buildServer } from '../src/server.js';
import { startPinnedChild, type ChildMessage } from './pinned-child.js';

const USERS = 16;
const PASSWORD = 'bench-password-quiet-orbit';
const HIGH = '10000000';

export type Engine = 'postgresql' | 'pglite';

interface TesseraInfo {
  url: string;
  jwksUrl: string;
  tokenUrl: string;
  loginUrl: string;
  clientId: string;
  clientSecret: string;
  engine: Engine;
  /** The PostgreSQL database, or the PGlite data directory. */
  database: string;
  /** The registered users' emails; every one has `password`. */
  users: string[];
  password: string;
  /** One user's stored password hash (PHC string), and what the hasher runs with. */
  storedHash: string;
  hasher: { memoryCost: number; timeCost: number; parallelism: number; concurrency: number; queue: number };
  /** The libuv pool argon2 runs on: UV_THREADPOOL_SIZE as this process got it (libuv's default is 4). */
  threadpool: number;
  pid: number;
}

export interface TesseraServer extends TesseraInfo {
  /** `n` fresh refresh tokens, each of its own session. */
  mintRefreshTokens(n: number): Promise<string[]>;
  /** Stops serving and drops the database. */
  close(): Promise<void>;
}

/** The URL of another database on the same server. */
export function withDatabase(adminUrl: string, database: string): string {
  const url = new URL(adminUrl);
  url.pathname = `/${database}`;
  return url.toString();
}

/** Runs `work` on one connection to `adminUrl`, closed afterwards. */
export async function admin<T>(adminUrl: string, work: (c: pg.Client) => Promise<T>): Promise<T> {
  const client = new pg.Client({ connectionString: adminUrl });
  await client.connect();
  try {
    return await work(client);
  } finally {
    await client.end();
  }
}

async function dropDatabase(adminUrl: string, database: string): Promise<void> {
  await admin(adminUrl, (c) => c.query(`DROP DATABASE IF EXISTS "${database}" WITH (FORCE)`));
}

/** Where the server keeps its data, and how to be rid of it. */
async function createStore(adminUrl: string, engine: Engine) {
  if (engine === 'pglite') {
    const dir = mkdtempSync(join(tmpdir(), 'bench-tessera-pglite-'));
    return { database: dir, env: { DATA_DIR: dir }, drop: async () => rmSync(dir, { recursive: true, force: true }) };
  }
  const database = `bench_tessera_${randomBytes(6).toString('hex')}`;
  await admin(adminUrl, (c) => c.query(`CREATE DATABASE "${database}"`));
  return {
    database,
    env: { DATABASE_URL: withDatabase(adminUrl, database) },
    drop: () => dropDatabase(adminUrl, database),
  };
}

async function serveInProcess(adminUrl: string, engine: Engine) {
  const store = await createStore(adminUrl, engine);
  const config = loadConfig({
    NODE_ENV: 'test',
    LOG_LEVEL: 'silent',
    PORT: '0',
    HOST: '127.0.0.1',
    ...store.env,
    MASTER_KEY: randomBytes(32).toString('base64'),
    CAPTCHA_PROVIDER: 'none',
    LOGIN_DELAY_MAX_MS: '0',
    // The schema caps these three at 10^6; the global limit takes 10^7.
    LOGIN_RATE_LIMIT: '1000000',
    TOKEN_RATE_LIMIT: '1000000',
    REGISTRATION_RATE_LIMIT: '1000000',
    RATE_LIMIT_MAX: HIGH,
  });
  const app = await buildServer(config, { logger: false });
  try {
    await app.listen({ port: 0, host: '127.0.0.1' });
  } catch (error) {
    await app.close();
    await store.drop();
    throw error;
  }
  const url = `http://127.0.0.1:${(app.server.address() as AddressInfo).port}`;

  const { client, secret } = await createClient(app.db, {
    name: 'bench client_credentials',
    scopes: ['api'],
    grantTypes: ['client_credentials'],
  });

  // Real users, each logged in once through the endpoint.
  const emails = Array.from({ length: USERS }, (_, i) => `bench-${i}-${randomBytes(3).toString('hex')}@example.com`);
  const loginTokens: string[] = [];
  for (const email of emails) {
    const created = await fetch(`${url}/users`, {
      method: 'POST',
      headers: { 'content-type': 'application/json' },
      body: JSON.stringify({ email, password: PASSWORD }),
    });
    if (created.status !== 201 && created.status !== 200) throw new Error(`POST /users ${created.status}`);
    const login = await fetch(`${url}/auth/login`, {
      method: 'POST',
      headers: { 'content-type': 'application/json' },
      body: JSON.stringify({ email, password: PASSWORD }),
    });
    if (login.status !== 200) throw new Error(`POST /auth/login ${login.status} ${await login.text()}`);
    loginTokens.push(((await login.json()) as { refresh_token: string }).refresh_token);
  }
  const users = await Promise.all(emails.map((e) => findUserByEmail(app.db, e)));
  const scope = resolveScope(undefined, USER_SCOPES)!;
  const audience = resolveAudience(undefined, config)!;

  let n = 0;
  const mintOne = async (): Promise<string> => {
    const user = users[n++ % users.length]!;
    const session = await createSession(app.db, {
      userId: user.id,
      clientId: FIRST_PARTY_CLIENT_ID,
      scope,
      audience,
      jti: randomUUID(),
      ttlSeconds: config.refreshTokenTtl,
      userAgent: 'bench',
      ip: '127.0.0.1',
    });
    const issued = await issueTokenPair(
      { tokens: app.tokens, config },
      {
        sessionId: session.id,
        userId: user.id,
        clientId: FIRST_PARTY_CLIENT_ID,
        scope,
        audience,
        roles: user.roles,
        authTime: new Date(session.auth_time),
        refreshJti: session.current_jti,
        refreshIssuedAt: new Date(session.current_issued_at),
        sessionExpiresAt: new Date(session.expires_at),
        amr: session.amr,
      },
    );
    return issued.response.refresh_token;
  };
  const mintRefreshTokens = async (count: number): Promise<string[]> => {
    // The login tokens first, then minted ones, a few at a time (the pool has 10 connections).
    const out = loginTokens.splice(0, count);
    while (out.length < count) {
      out.push(...(await Promise.all(Array.from({ length: Math.min(16, count - out.length) }, mintOne))));
    }
    return out;
  };

  const info: TesseraInfo = {
    url,
    jwksUrl: `${url}/.well-known/jwks.json`,
    tokenUrl: `${url}/oauth/token`,
    loginUrl: `${url}/auth/login`,
    clientId: client.id,
    clientSecret: secret,
    engine,
    database: store.database,
    users: emails,
    password: PASSWORD,
    storedHash: users[0]!.password_hash,
    hasher: config.argon2,
    threadpool: Number(process.env.UV_THREADPOOL_SIZE ?? 4),
    pid: process.pid,
  };
  let closed: Promise<void> | undefined;
  const close = () =>
    (closed ??= (async () => {
      await app.close();
      await store.drop();
    })());
  return { info, mintRefreshTokens, close };
}

const SCRIPT = fileURLToPath(import.meta.url);
const REPO_ROOT = join(dirname(SCRIPT), '..');

export async function startTessera(options: {
  adminUrl: string;
  cores: string;
  engine?: Engine;
}): Promise<TesseraServer> {
  const engine = options.engine ?? 'postgresql';
  const child = await startPinnedChild<TesseraInfo>({
    label: `tessera bench server (${engine})`,
    cores: options.cores,
    script: SCRIPT,
    args: ['--database-url', options.adminUrl, ...(engine === 'pglite' ? ['--pglite'] : [])],
    cwd: REPO_ROOT,
  });
  const { database } = child.info;
  // Had the child died without cleaning up, its database would be left behind.
  const leftover =
    engine === 'pglite'
      ? async () => rmSync(database, { recursive: true, force: true })
      : () => dropDatabase(options.adminUrl, database);
  return {
    ...child.info,
    mintRefreshTokens: (n) => child.mintRefreshTokens(n),
    close: () => child.close(leftover),
  };
}

async function main(argv: string[]): Promise<void> {
  const i = argv.indexOf('--database-url');
  const adminUrl =
    (i === -1 ? undefined : argv[i + 1]) ??
    process.env.BENCH_DATABASE_URL ??
    'postgres://postgres@127.0.0.1:5432/postgres';
  const server = await serveInProcess(adminUrl, argv.includes('--pglite') ? 'pglite' : 'postgresql');
  let stopping = false;
  const stop = () => {
    if (stopping) return;
    stopping = true;
    void server.close().then(
      () => process.exit(0),
      () => process.exit(1),
    );
  };
  process.on('SIGTERM', stop);
  process.on('SIGINT', stop);
  process.on('disconnect', stop);
  process.on('message', (message: { id: number; mint: number }) => {
    server.mintRefreshTokens(message.mint).then(
      (tokens) => process.send?.({ id: message.id, tokens } satisfies ChildMessage),
      (error: Error) => process.send?.({ id: message.id, error: error.message } satisfies ChildMessage),
    );
  });
  process.stdout.write(`${JSON.stringify(server.info)}\n`);
}

if (process.argv[1] && pathToFileURL(process.argv[1]).href === import.meta.url) {
  main(process.argv.slice(2)).catch((error: unknown) => {
    console.error(error);
    process.exit(1);
  });
}
