// Driving a pinned server over loopback with autocannon, and reading what the server process
// used meanwhile (CPU time, RSS, peak RSS) from /proc. Shared by every HTTP row of the
// side-by-side bench, so Tessera, its peer and the ceilings are measured alike.
import { readFileSync } from 'node:fs';
import { performance } from 'node:perf_hooks';
import autocannon, { type Options, type Result } from 'autocannon';

export const CONNECTIONS = 32;
export const WARMUP_S = 1;
export const DURATION_S = 5;
/** Refresh tokens minted before the warm-up; after it, enough for 5 s at four times its rate, x 1.5. */
const FIRST_TOKENS = 2000;
export const FORM = 'application/x-www-form-urlencoded';

export interface Figures {
  reqPerSec: number;
  p50: number;
  p99: number;
  requests: number;
  non2xx: number;
  errors: number;
  timeouts: number;
  /** The server process's CPU time over the measured run's wall time: near 100, the server's core was the limit. */
  serverCpuPercent: number;
  /** The measured run's wall time. */
  seconds: number;
  /**
   * How busy each core was over the run with processes (user + system time in /proc/stat,
   * not interrupts, where loopback traffic is handled): the server's core well above
   * serverCpuPercent means other processes on this shared machine took part of it.
   */
  cores: Record<string, number>;
}

export const basic = (id: string, secret: string) =>
  `Basic ${Buffer.from(`${encodeURIComponent(id)}:${encodeURIComponent(secret)}`).toString('base64')}`;

/** utime + stime of a process, all its threads, in seconds (USER_HZ is 100 on Linux). */
function cpuSeconds(pid: number): number {
  const stat = readFileSync(`/proc/${pid}/stat`, 'utf8');
  const fields = stat.slice(stat.lastIndexOf(')') + 2).split(' ');
  return (Number(fields[11]) + Number(fields[12])) / 100;
}

function statusKb(pid: number, field: 'VmRSS' | 'VmHWM'): number {
  const line = readFileSync(`/proc/${pid}/status`, 'utf8')
    .split('\n')
    .find((l) => l.startsWith(`${field}:`));
  return Number(line?.split(/\s+/)[1] ?? 0);
}

/**
 * A process's resident memory now and its peak since it started (VmHWM: the kernel's
 * high-water mark, so nothing between samples is missed), in MB.
 */
export function memoryMb(pid: number): { rss: number; peak: number } {
  return { rss: Math.round(statusKb(pid, 'VmRSS') / 1024), peak: Math.round(statusKb(pid, 'VmHWM') / 1024) };
}

/** Jiffies per core (cpu0, cpu1, ...) spent in processes (user, nice, system), and in all, from /proc/stat. */
function coreTimes(): Map<string, { busy: number; total: number }> {
  const times = new Map<string, { busy: number; total: number }>();
  for (const line of readFileSync('/proc/stat', 'utf8').split('\n')) {
    const match = /^cpu(\d+)\s+(.*)$/.exec(line);
    if (!match) continue;
    const [user = 0, nice = 0, system = 0, idle = 0, iowait = 0, irq = 0, softirq = 0, steal = 0] = match[2]!
      .split(/\s+/)
      .map(Number);
    const total = user + nice + system + idle + iowait + irq + softirq + steal;
    times.set(match[1]!, { busy: user + nice + system, total });
  }
  return times;
}

/** Percent busy per core between two coreTimes() readings. */
function coreBusy(
  before: Map<string, { busy: number; total: number }>,
  after: Map<string, { busy: number; total: number }>,
) {
  const busy: Record<string, number> = {};
  for (const [core, a] of after) {
    const b = before.get(core);
    if (b && a.total > b.total) busy[core] = Math.round(((a.busy - b.busy) / (a.total - b.total)) * 100);
  }
  return busy;
}

/** One measured run, with the server's CPU use over it and how busy each core was. */
export async function timed(pid: number, run: () => Promise<Result>): Promise<Figures> {
  const cpu = cpuSeconds(pid);
  const cores = coreTimes();
  const start = performance.now();
  const result = await run();
  const wall = (performance.now() - start) / 1000;
  return {
    ...figures(result),
    serverCpuPercent: Math.round(((cpuSeconds(pid) - cpu) / wall) * 100),
    seconds: Math.round(wall * 100) / 100,
    cores: coreBusy(cores, coreTimes()),
  };
}

export function figures(r: Result): Omit<Figures, 'serverCpuPercent' | 'seconds' | 'cores'> {
  return {
    reqPerSec: Math.round(r.requests.average),
    p50: r.latency.p50,
    p99: r.latency.p99,
    requests: r.requests.total,
    non2xx: r.non2xx,
    errors: r.errors,
    timeouts: r.timeouts,
  };
}

export function cannon(options: Options): Promise<Result> {
  return autocannon({ connections: CONNECTIONS, ...options });
}

/** A 1 s warm-up (discarded), then the measured 5 s. */
export async function measure(pid: number, options: Omit<Options, 'duration'>): Promise<Figures> {
  await cannon({ ...options, duration: WARMUP_S });
  return timed(pid, () => cannon({ ...options, duration: DURATION_S }));
}

/** Rounds and seconds per round of alternate(): as long in all as one measure() run, a second more. */
export const ROUNDS = 3;
export const ROUND_S = 2;

/**
 * Servers measured in turns instead of one after the other: after a warm-up each, ROUNDS
 * rounds of ROUND_S seconds, each round running every server once (the order rotating), so
 * a burst of other work on this shared machine hits all of them about alike. Every server
 * is up the whole time, idle when it is not its turn. Per server: requests over the summed
 * measured time, the median of the rounds' p50, the worst round's p99, failures summed, CPU
 * averaged.
 */
export async function alternate(sides: Array<{ pid: number; options: Omit<Options, 'duration'> }>): Promise<Figures[]> {
  for (const side of sides) await cannon({ ...side.options, duration: WARMUP_S });
  const runs: Figures[][] = sides.map(() => []);
  for (let round = 0; round < ROUNDS; round++) {
    for (let k = 0; k < sides.length; k++) {
      const i = (round + k) % sides.length;
      const side = sides[i]!;
      runs[i]!.push(await timed(side.pid, () => cannon({ ...side.options, duration: ROUND_S })));
    }
  }
  return runs.map(combine);
}

function combine(runs: Figures[]): Figures {
  const sum = (pick: (f: Figures) => number) => runs.reduce((a, f) => a + pick(f), 0);
  const mean = (pick: (f: Figures) => number) => Math.round(sum(pick) / runs.length);
  const p50s = runs.map((f) => f.p50).sort((a, b) => a - b);
  const cores: Record<string, number> = {};
  for (const core of Object.keys(runs[0]?.cores ?? {})) cores[core] = mean((f) => f.cores[core] ?? 0);
  return {
    reqPerSec: Math.round(sum((f) => f.requests) / (runs.length * ROUND_S)),
    p50: p50s[Math.floor(p50s.length / 2)] ?? 0,
    p99: Math.max(...runs.map((f) => f.p99)),
    requests: sum((f) => f.requests),
    non2xx: sum((f) => f.non2xx),
    errors: sum((f) => f.errors),
    timeouts: sum((f) => f.timeouts),
    serverCpuPercent: mean((f) => f.serverCpuPercent),
    seconds: sum((f) => f.seconds),
    cores,
  };
}

/**
 * Request options that send each refresh token of `pool` once, in order; past its end a
 * token that cannot be valid is sent (and shows as non-2xx), never one already used.
 */
export function refreshRequests(
  pool: string[],
  headers: Record<string, string>,
): { requests: NonNullable<Options['requests']>; at: { next: number; pastEnd: number } } {
  // Closures change these; an object keeps the linter's flow analysis out of it.
  const at = { next: 0, pastEnd: 0 };
  return {
    at,
    requests: [
      {
        method: 'POST',
        headers: { ...headers, 'content-type': FORM },
        setupRequest: (request) => {
          const token = pool[at.next++];
          if (token === undefined) at.pastEnd++;
          return {
            ...request,
            body: `grant_type=refresh_token&refresh_token=${encodeURIComponent(token ?? 'pool-exhausted')}`,
          };
        },
      },
    ],
  };
}

export type RefreshFigures = Figures & { minted: number; pastEnd: number };

/** The refresh grant at full load: every request its own pre-minted token (see refreshRequests). */
export async function measureRefresh(
  pid: number,
  url: string,
  headers: Record<string, string>,
  mint: (n: number) => Promise<string[]>,
): Promise<RefreshFigures> {
  const pool = await mint(FIRST_TOKENS);
  const { requests, at } = refreshRequests(pool, headers);
  const warm = await cannon({ url, duration: WARMUP_S, requests });
  // The warm-up may have run past the pool: what it used is gone either way.
  at.next = Math.min(at.next, pool.length);
  at.pastEnd = 0;
  // Rate x duration x 1.5, with the rate taken as four times the warm-up's: a cold server's
  // first second runs well below its steady rate (oidc-provider's ran out at 1x once, and on
  // its in-memory adapter at 2x: about 800 in the warm-up second, 2,500/s after it).
  const needed = Math.ceil(Math.max(warm.requests.average, 1) * 4 * DURATION_S * 1.5);
  const left = pool.length - at.next;
  if (needed > left) pool.push(...(await mint(needed - left)));
  const run = await timed(pid, () => cannon({ url, duration: DURATION_S, requests }));
  return { ...run, minted: pool.length, pastEnd: at.pastEnd };
}

/** Requests that log the given users in with their (right) password, round robin. */
export function loginRequests(emails: string[], password: string): NonNullable<Options['requests']> {
  let n = 0;
  return [
    {
      method: 'POST',
      headers: { 'content-type': 'application/json' },
      setupRequest: (request) => ({
        ...request,
        body: JSON.stringify({ email: emails[n++ % emails.length], password }),
      }),
    },
  ];
}
