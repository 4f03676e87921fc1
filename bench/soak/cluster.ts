// The soak's Tessera cluster: a fresh PostgreSQL database of its own (created on
// SOAK_DATABASE_URL's server, dropped at the end), `tessera serve` instances on it as child
// processes pinned with taskset, restartable on their own ports, and the `tessera` command
// for the CLI steps (users, clients, key rotations, audit verify).
import { spawn, spawnSync, type ChildProcess } from 'node:child_process';
import { randomBytes } from 'node:crypto';
import { createWriteStream, readFileSync, type WriteStream } from 'node:fs';
import { setTimeout as sleep } from 'node:timers/promises';
import { admin, withDatabase } from '../tessera-server.js';

/** Runs the sources through tsx (as test/helpers/cli.ts does), or bin/tessera.js with SOAK_DIST=1 (after npm run build). */
const ENTRY = `import('./src/cli.ts').then(async (m) => {
  const args = process.argv.slice(1);
  const code = await m.main(args);
  if (args[0] !== 'serve' || code !== 0) process.exit(code);
});`;

export const useDist = process.env.SOAK_DIST === '1';

function nodeArgs(args: string[]): string[] {
  return useDist ? ['bin/tessera.js', ...args] : ['--import', 'tsx', '-e', ENTRY, '--', ...args];
}

const hasTaskset = spawnSync('taskset', ['--version']).status === 0;

/** A new empty database on the server; `drop` removes it (connections included). */
export async function freshDatabase(serverUrl: string): Promise<{ name: string; url: string; drop(): Promise<void> }> {
  const name = `soak_${randomBytes(6).toString('hex')}`;
  await admin(serverUrl, (c) => c.query(`CREATE DATABASE "${name}"`));
  return {
    name,
    url: withDatabase(serverUrl, name),
    drop: () => admin(serverUrl, (c) => c.query(`DROP DATABASE IF EXISTS "${name}" WITH (FORCE)`)).then(() => {}),
  };
}

/** A query on the soak's database (for the end checks). */
export function query<T>(databaseUrl: string, sql: string): Promise<T[]> {
  return admin(databaseUrl, async (c) => (await c.query(sql)).rows as T[]);
}

export interface CliResult {
  code: number | null;
  stdout: string;
  stderr: string;
}

export function tessera(root: string, env: Record<string, string>, args: string[], stdin = ''): Promise<CliResult> {
  const child = spawn(process.execPath, nodeArgs(args), { cwd: root, env, stdio: ['pipe', 'pipe', 'pipe'] });
  let stdout = '';
  let stderr = '';
  child.stdout.setEncoding('utf8').on('data', (chunk: string) => (stdout += chunk));
  child.stderr.setEncoding('utf8').on('data', (chunk: string) => (stderr += chunk));
  child.stdin.on('error', () => undefined);
  child.stdin.end(stdin);
  return new Promise((resolve, reject) => {
    child.once('error', reject);
    child.once('close', (code) => resolve({ code, stdout, stderr }));
  });
}

/** RSS of a process in MB from /proc/<pid>/status; undefined once it is gone. */
export function rssMb(pid: number): number | undefined {
  try {
    const line = readFileSync(`/proc/${pid}/status`, 'utf8')
      .split('\n')
      .find((l) => l.startsWith('VmRSS:'));
    return line ? Number(line.split(/\s+/)[1]) / 1024 : undefined;
  } catch {
    return undefined;
  }
}

/**
 * One `tessera serve` on a fixed port, started again on the same port after a stop. Its
 * output goes to a log file (LOG_LEVEL warn: what went wrong, not every request).
 */
export class Instance {
  private child: ChildProcess | undefined;
  private exited: Promise<number | null> = Promise.resolve(null);
  private readonly log: WriteStream;
  /** Every pid it ran as, with when that process was started (ms on the soak's clock). */
  readonly pids: Array<{ pid: number; since: number }> = [];

  constructor(
    readonly name: string,
    readonly port: number,
    private readonly core: string,
    private readonly root: string,
    private readonly env: Record<string, string>,
    logPath: string,
    private readonly clock: () => number,
  ) {
    this.log = createWriteStream(logPath, { flags: 'a' });
  }

  get url(): string {
    return `http://127.0.0.1:${this.port}`;
  }

  get pid(): number | undefined {
    return this.child?.exitCode === null && this.child.signalCode === null ? this.child.pid : undefined;
  }

  /** Spawns it and resolves once GET /readyz answers 200 (60 s at most). */
  async start(): Promise<void> {
    const args = nodeArgs(['serve']);
    const env = { ...this.env, PORT: String(this.port), HOST: '127.0.0.1' };
    const child = hasTaskset
      ? spawn('taskset', ['-c', this.core, process.execPath, ...args], { cwd: this.root, env, stdio: 'pipe' })
      : spawn(process.execPath, args, { cwd: this.root, env, stdio: 'pipe' });
    this.child = child;
    child.stdout.pipe(this.log, { end: false });
    child.stderr.pipe(this.log, { end: false });
    this.exited = new Promise((resolve) => child.once('exit', (code) => resolve(code)));
    this.pids.push({ pid: child.pid!, since: this.clock() });
    const deadline = Date.now() + 60_000;
    while (Date.now() < deadline) {
      if (child.exitCode !== null || child.signalCode !== null)
        throw new Error(`${this.name} exited (${child.exitCode ?? child.signalCode}) before it was ready`);
      const ready = await fetch(`${this.url}/readyz`, { signal: AbortSignal.timeout(2000) }).then(
        (r) => r.status === 200,
        () => false,
      );
      if (ready) return;
      await sleep(200);
    }
    throw new Error(`${this.name} was not ready within 60 s`);
  }

  /** Sends the signal and waits for the exit; the exit code (null after a signal). */
  async stop(signal: NodeJS.Signals = 'SIGTERM'): Promise<number | null> {
    if (this.child && this.child.exitCode === null && this.child.signalCode === null) this.child.kill(signal);
    return this.exited;
  }

  close(): void {
    this.log.end();
  }
}

export const tasksetAvailable = hasTaskset;
