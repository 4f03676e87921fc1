// A PostgreSQL cluster and a Redis server that one test file owns (never the shared ones
// on 5432/6379): each on a free port with its data in a temporary folder, stopped and
// started again by the test to inject an outage, and removed after it.
import { spawn, spawnSync, type ChildProcess } from 'node:child_process';
import { chownSync, existsSync, mkdtempSync, readdirSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import type { TestContext } from 'node:test';
import { freePort } from '../helpers/build.js';

/** The newest installed PostgreSQL's binaries, or null when none is installed. */
export function postgresBin(): string | null {
  const root = '/usr/lib/postgresql';
  if (!existsSync(root)) return null;
  const versions = readdirSync(root)
    .filter((v) => existsSync(join(root, v, 'bin', 'pg_ctl')) && existsSync(join(root, v, 'bin', 'initdb')))
    .sort((a, b) => Number(b) - Number(a));
  return versions[0] ? join(root, versions[0], 'bin') : null;
}

export function redisBin(): string | null {
  const found = spawnSync('sh', ['-c', 'command -v redis-server'], { encoding: 'utf8' });
  return found.status === 0 ? found.stdout.trim() : null;
}

export interface OwnedServer {
  url: string;
  port: number;
  stop(): Promise<void>;
  start(): Promise<void>;
}

/** PostgreSQL refuses to run as root: as root, its tools run as the postgres user. */
function asPostgres(command: string, args: string[]): [string, string[]] {
  return process.getuid?.() === 0 ? ['runuser', ['-u', 'postgres', '--', command, ...args]] : [command, args];
}

function run(command: string, args: string[]): void {
  const [cmd, argv] = asPostgres(command, args);
  const result = spawnSync(cmd, argv, { encoding: 'utf8', timeout: 60_000 });
  if (result.status !== 0) throw new Error(`${command} failed: ${result.stderr || result.stdout}`);
}

/** A fresh cluster (trust auth, loopback only), running; stopped and removed after the test. */
export async function ownPostgres(t: Pick<TestContext, 'after'>, bin: string): Promise<OwnedServer> {
  const dir = mkdtempSync(join(tmpdir(), 'tessera-fault-pg-'));
  if (process.getuid?.() === 0) {
    const pg = spawnSync('id', ['-u', 'postgres'], { encoding: 'utf8' });
    const gid = spawnSync('id', ['-g', 'postgres'], { encoding: 'utf8' });
    chownSync(dir, Number(pg.stdout.trim()), Number(gid.stdout.trim()));
  }
  const data = join(dir, 'data');
  const port = await freePort();
  run(join(bin, 'initdb'), ['-D', data, '-A', 'trust', '-U', 'postgres', '--no-sync', '-E', 'UTF8']);
  const options = `-p ${port} -k ${dir} -c listen_addresses=127.0.0.1 -c fsync=off`;
  const pgCtl = join(bin, 'pg_ctl');
  let running = false;
  const server: OwnedServer = {
    url: `postgres://postgres@127.0.0.1:${port}/postgres`,
    port,
    async start() {
      run(pgCtl, ['start', '-D', data, '-w', '-t', '30', '-l', join(dir, 'log'), '-o', options]);
      running = true;
    },
    async stop() {
      run(pgCtl, ['stop', '-D', data, '-m', 'fast', '-w']);
      running = false;
    },
  };
  t.after(() => {
    if (running) run(pgCtl, ['stop', '-D', data, '-m', 'immediate', '-w']);
    rmSync(dir, { recursive: true, force: true });
  });
  await server.start();
  return server;
}

/** A redis-server child process (no persistence) on a free port; killed after the test. */
export async function ownRedis(t: Pick<TestContext, 'after'>, bin: string): Promise<OwnedServer> {
  const port = await freePort();
  const dir = mkdtempSync(join(tmpdir(), 'tessera-fault-redis-'));
  let child: ChildProcess | undefined;
  const server: OwnedServer = {
    url: `redis://127.0.0.1:${port}`,
    port,
    async start() {
      const started = spawn(
        bin,
        [
          '--port',
          String(port),
          '--bind',
          '127.0.0.1',
          '--save',
          '',
          '--appendonly',
          'no',
          '--daemonize',
          'no',
          '--dir',
          dir,
        ],
        { stdio: ['ignore', 'pipe', 'pipe'] },
      );
      child = started;
      await new Promise<void>((resolve, reject) => {
        let out = '';
        const timer = setTimeout(() => reject(new Error(`redis-server did not start: ${out}`)), 10_000);
        started.stdout.setEncoding('utf8').on('data', (chunk: string) => {
          out += chunk;
          if (out.includes('Ready to accept connections')) {
            clearTimeout(timer);
            resolve();
          }
        });
        started.once('exit', (code) => {
          clearTimeout(timer);
          reject(new Error(`redis-server exited with ${code}: ${out}`));
        });
      });
    },
    async stop() {
      const running = child;
      child = undefined;
      if (!running || running.exitCode !== null) return;
      const exited = new Promise((resolve) => running.once('exit', resolve));
      running.kill('SIGKILL');
      await exited;
    },
  };
  t.after(async () => {
    await server.stop();
    rmSync(dir, { recursive: true, force: true });
  });
  await server.start();
  return server;
}

/** Calls fn until it returns true or the time is up; whether it did. */
export async function eventually(fn: () => Promise<boolean>, withinMs: number): Promise<boolean> {
  const end = Date.now() + withinMs;
  while (Date.now() < end) {
    if (await fn()) return true;
    await new Promise((resolve) => setTimeout(resolve, 200));
  }
  return false;
}

/** Log lines captured from an app built with `loggerOptions(level, { stream })`, parsed. */
export function logCapture() {
  const lines: string[] = [];
  return {
    stream: {
      write(chunk: string) {
        for (const line of chunk.split('\n')) if (line) lines.push(line);
      },
    },
    text: () => lines.join('\n'),
    records: () => lines.map((line) => JSON.parse(line) as Record<string, unknown>),
  };
}
