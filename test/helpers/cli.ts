// Runs the real `tessera` command as a child process, on the TypeScript sources, against
// this test file's own database; and opens that database the way the CLI does.
import { spawn, type ChildProcess } from 'node:child_process';
import { randomBytes } from 'node:crypto';
import { mkdtempSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { fileURLToPath } from 'node:url';
import pg from 'pg';
import { loadConfig } from '../../src/config/config.js';
import { Database } from '../../src/db/database.js';
import { acquireEmbeddedLock } from '../../src/db/embedded-lock.js';
import { TEST_MASTER_KEY } from './build.js';
import { testDatabaseEnv, withDatabase } from './database.js';

export const ROOT = fileURLToPath(new URL('../..', import.meta.url));
// Same exit handling as bin/tessera.js, but on the TypeScript sources instead of dist/.
const ENTRY = `import('./src/cli.ts').then(async (m) => {
  const args = process.argv.slice(1);
  const code = await m.main(args);
  if (args[0] !== 'serve' || code !== 0) process.exit(code);
});`;

export interface CliResult {
  code: number | null;
  stdout: string;
  stderr: string;
}

/** Settings for a child: only what Tessera needs, never the parent's DATABASE_URL or PORT. */
export async function cliEnv(extra: Record<string, string> = {}): Promise<Record<string, string>> {
  return {
    PATH: process.env.PATH ?? '',
    HOME: process.env.HOME ?? tmpdir(),
    NODE_ENV: 'test',
    LOG_LEVEL: 'silent',
    MASTER_KEY: TEST_MASTER_KEY,
    ISSUER: 'http://localhost:3000',
    ...(await testDatabaseEnv()),
    ...extra,
  };
}

/**
 * Settings for a database of its own with nothing in it: a new empty PostgreSQL database
 * (named like the per-file ones, so it is dropped with them), or an empty DATA_DIR.
 */
export async function emptyDatabaseEnv(): Promise<Record<string, string>> {
  const env = await cliEnv();
  delete env.DATABASE_URL;
  delete env.DATA_DIR;
  const url = process.env.TEST_DATABASE_URL;
  if (!url) return { ...env, DATA_DIR: mkdtempSync(join(tmpdir(), 'tessera-cli-empty-')) };
  const name = `tessera_t_${process.pid}_${randomBytes(4).toString('hex')}`;
  const admin = new pg.Client({ connectionString: url });
  await admin.connect();
  try {
    await admin.query(`CREATE DATABASE ${name}`);
  } finally {
    await admin.end();
  }
  return { ...env, DATABASE_URL: withDatabase(url, name) };
}

export function startCli(args: string[], env: Record<string, string>): ChildProcess {
  return spawn(process.execPath, ['--import', 'tsx', '-e', ENTRY, '--', ...args], {
    cwd: ROOT,
    env,
    stdio: ['pipe', 'pipe', 'pipe'],
  });
}

export async function tessera(
  args: string[],
  options: { env?: Record<string, string>; stdin?: string } = {},
): Promise<CliResult> {
  const child = startCli(args, options.env ?? (await cliEnv()));
  let stdout = '';
  let stderr = '';
  child.stdout!.setEncoding('utf8').on('data', (chunk: string) => (stdout += chunk));
  child.stderr!.setEncoding('utf8').on('data', (chunk: string) => (stderr += chunk));
  child.stdin!.on('error', () => undefined); // the command may exit before reading stdin
  child.stdin!.end(options.stdin ?? '');
  const code = await new Promise<number | null>((resolve, reject) => {
    child.once('error', reject);
    child.once('close', (exitCode) => resolve(exitCode));
  });
  return { code, stdout, stderr };
}

/** Opens the database the way the CLI does (embedded lock included), runs fn, closes it. */
export async function withDb<T>(env: Record<string, string>, fn: (db: Database) => Promise<T>): Promise<T> {
  const config = loadConfig(env);
  const lock = config.database.kind === 'pglite' ? acquireEmbeddedLock(config.database.dataDir) : undefined;
  const db = await Database.connect(config.database, { poolSize: 1 });
  try {
    return await fn(db);
  } finally {
    await db.close();
    lock?.release();
  }
}
