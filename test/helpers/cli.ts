// Runs the real `tessera` command as a child process, on the TypeScript sources, against
// this test file's own database; and opens that database the way the CLI does.
import { spawn, type ChildProcess } from 'node:child_process';
import { tmpdir } from 'node:os';
import { fileURLToPath } from 'node:url';
import { loadConfig } from '../../src/config/config.js';
import { Database } from '../../src/db/database.js';
import { acquireEmbeddedLock } from '../../src/db/embedded-lock.js';
import { TEST_MASTER_KEY } from './build.js';
import { testDatabaseEnv } from './database.js';

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

export function startCli(args: string[], env: Record<string, string>): ChildProcess {
  return spawn(process.execPath, ['--import', 'tsx', '-e', ENTRY, '--', ...args], { cwd: ROOT, env, stdio: ['pipe', 'pipe', 'pipe'] });
}

export async function tessera(args: string[], options: { env?: Record<string, string>; stdin?: string } = {}): Promise<CliResult> {
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
