// A bench server in a child process pinned with taskset: it prints one JSON line once
// listening, mints refresh tokens when asked over IPC, and exits on SIGTERM. Shared by
// Tessera's bench server and the oidc-provider peer, so both are driven alike.
import { spawn, type ChildProcess } from 'node:child_process';
import { createInterface } from 'node:readline';

/** What the parent and the child say over IPC. */
export type ChildMessage = { id: number; tokens?: string[]; error?: string };

export interface PinnedChild<Info> {
  info: Info;
  mintRefreshTokens: (n: number) => Promise<string[]>;
  /** SIGTERM, wait for the exit, then `afterExit` (cleanup the child may have missed); once. */
  close: (afterExit?: () => Promise<void>) => Promise<void>;
}

/**
 * Runs `node --import tsx <script> ...args` under `taskset -c <cores>` from `cwd`. Node flags
 * in BENCH_NODE_FLAGS (space-separated, e.g. `--cpu-prof --cpu-prof-dir=/tmp/prof`) are
 * passed to every child: a profile of each server under the bench's own load.
 */
export async function startPinnedChild<Info>(p: {
  label: string;
  cores: string;
  script: string;
  args: string[];
  cwd: string;
}): Promise<PinnedChild<Info>> {
  const flags = (process.env.BENCH_NODE_FLAGS ?? '').split(' ').filter(Boolean);
  const argv = ['-c', p.cores, process.execPath, ...flags, '--import', 'tsx', p.script, ...p.args];
  // The setting the Docker image runs with, for every server alike: glibc would otherwise keep
  // every freed argon2 work area (19 MiB per libuv thread), see the README's Performance section.
  const env = { ...process.env, GLIBC_TUNABLES: process.env.GLIBC_TUNABLES ?? 'glibc.malloc.mmap_threshold=131072' };
  const child: ChildProcess = spawn('taskset', argv, { cwd: p.cwd, env, stdio: ['ignore', 'pipe', 'inherit', 'ipc'] });
  const exited = new Promise<void>((resolve) => child.once('exit', () => resolve()));
  const info = await new Promise<Info>((resolve, reject) => {
    const lines = createInterface({ input: child.stdout! });
    const onExit = (code: number | null) => reject(new Error(`${p.label} exited (${code}) before listening`));
    child.once('exit', onExit);
    child.once('error', reject);
    lines.on('line', (line) => {
      if (!line.startsWith('{')) return process.stderr.write(`${line}\n`);
      child.off('exit', onExit);
      resolve(JSON.parse(line) as Info);
    });
  });
  let next = 0;
  const pending = new Map<number, { resolve: (t: string[]) => void; reject: (e: Error) => void }>();
  child.on('message', (message: ChildMessage) => {
    const waiter = pending.get(message.id);
    pending.delete(message.id);
    if (message.error) waiter?.reject(new Error(message.error));
    else waiter?.resolve(message.tokens ?? []);
  });
  let closed: Promise<void> | undefined;
  return {
    info,
    mintRefreshTokens: (n) =>
      new Promise((resolve, reject) => {
        const id = next++;
        pending.set(id, { resolve, reject });
        child.send({ id, mint: n });
      }),
    close: (afterExit) =>
      (closed ??= (async () => {
        if (child.exitCode === null && child.signalCode === null) child.kill('SIGTERM');
        await exited;
        await afterExit?.();
      })()),
  };
}
