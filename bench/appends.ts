// Audit appends: 10 writers, each an async loop calling recordSecurityEvent (src/audit/audit-log.ts)
// on the Database of a real Tessera app (buildServer, not listening) on a fresh PostgreSQL
// database, for a fixed time after a warm-up. Whatever recordSecurityEvent does today (a
// global lock, a plain insert for a sealer) is what is measured.
//
// Sealing lag, only when security_events has a leaf_index column (information_schema): a
// poller on its own connection reads newly sealed leaves (leaf_index past the last one seen)
// every POLL_MS and takes, per event of the measured run, the time from its append resolving
// to the poll that saw it sealed; so lag is over-stated by up to POLL_MS plus a query.
//
// As a module: measureAppends({ adminUrl, cores }) runs this file under `taskset -c <cores>`
// and returns its one JSON line.
import { randomBytes } from 'node:crypto';
import { dirname, join } from 'node:path';
import { performance } from 'node:perf_hooks';
import { setTimeout as sleep } from 'node:timers/promises';
import { fileURLToPath, pathToFileURL } from 'node:url';
import pg from 'pg';
import { recordSecurityEvent } from '../src/audit/audit-log.js';
import { loadConfig } from '../src/config/config.js';
import { buildServer } from '../src/server.js';
import { startPinnedChild } from './pinned-child.js';
import { percentile } from './stats.js';

const WRITERS = 10;
const WARMUP_MS = 1000;
const DURATION_MS = 5000;
const POLL_MS = 10;
/** After the writers stop, how long the last events may take to be sealed before they count as unsealed. */
const SEAL_WAIT_MS = 10_000;

export interface AppendsResult {
  writers: number;
  durationSeconds: number;
  appends: number;
  perSecond: number;
  /** Latency of one recordSecurityEvent call, ms. */
  p50: number;
  p99: number;
  failures: number;
  /** The child's CPU over the measured run (writers, pool, sealer: all on the pinned core). */
  cpuPercent: number;
  /** null when the table has no leaf_index column (no sealer). */
  sealing: null | { sealed: number; unsealed: number; lagP50: number; lagP99: number; lagMax: number; pollMs: number };
  pid: number;
}

const SCRIPT = fileURLToPath(import.meta.url);
const REPO_ROOT = join(dirname(SCRIPT), '..');

export async function measureAppends(options: { adminUrl: string; cores: string }): Promise<AppendsResult> {
  const child = await startPinnedChild<AppendsResult>({
    label: 'audit appends',
    cores: options.cores,
    script: SCRIPT,
    args: ['--database-url', options.adminUrl],
    cwd: REPO_ROOT,
  });
  await child.close();
  return child.info;
}

const round = (x: number) => Math.round(x * 100) / 100;

function processCpuSeconds(): number {
  const { user, system } = process.cpuUsage();
  return (user + system) / 1e6;
}

async function run(adminUrl: string): Promise<AppendsResult> {
  const database = `bench_appends_${randomBytes(6).toString('hex')}`;
  const url = new URL(adminUrl);
  const admin = new pg.Client({ connectionString: adminUrl });
  await admin.connect();
  await admin.query(`CREATE DATABASE "${database}"`);
  url.pathname = `/${database}`;
  const config = loadConfig({
    NODE_ENV: 'test',
    LOG_LEVEL: 'silent',
    DATABASE_URL: url.toString(),
    MASTER_KEY: randomBytes(32).toString('base64'),
    CAPTCHA_PROVIDER: 'none',
  });
  const app = await buildServer(config, { logger: false });
  const poller = new pg.Client({ connectionString: url.toString() });
  try {
    await app.ready();
    await poller.connect();
    const { rowCount } = await poller.query(
      `SELECT 1 FROM information_schema.columns
        WHERE table_schema = current_schema() AND table_name = 'security_events' AND column_name = 'leaf_index'`,
    );
    const sealed = (rowCount ?? 0) > 0;

    // request_id names each event; for the measured ones, when its append resolved.
    const appendedAt = new Map<string, number>();
    const latencies: number[] = [];
    const state = { measuring: false, stop: false, failures: 0, n: 0 };
    const writer = async (w: number) => {
      while (!state.stop) {
        const id = `bench-${w}-${state.n++}`;
        const start = performance.now();
        try {
          await recordSecurityEvent(app.db, {
            type: 'login_failure',
            ip: '127.0.0.1',
            userAgent: 'bench',
            requestId: id,
            actor: null,
            target: null,
            detail: { reason: 'bench', writer: w },
          });
          const end = performance.now();
          if (state.measuring) {
            latencies.push(end - start);
            appendedAt.set(id, end);
          }
        } catch {
          if (state.measuring) state.failures++;
        }
      }
    };

    const seenAt = new Map<string, number>();
    const polling = { lastLeaf: -1, stop: !sealed };
    const poll = async () => {
      while (!polling.stop) {
        const { rows } = await poller.query<{ request_id: string; leaf_index: string }>(
          'SELECT request_id, leaf_index FROM security_events WHERE leaf_index > $1 ORDER BY leaf_index LIMIT 20000',
          [polling.lastLeaf],
        );
        const now = performance.now();
        for (const r of rows) {
          seenAt.set(r.request_id, now);
          polling.lastLeaf = Math.max(polling.lastLeaf, Number(r.leaf_index));
        }
        if (rows.length < 20000) await sleep(POLL_MS);
      }
    };

    const writers = Array.from({ length: WRITERS }, (_, w) => writer(w));
    const poller$ = poll();
    await sleep(WARMUP_MS);
    state.measuring = true;
    const cpu = processCpuSeconds();
    const start = performance.now();
    await sleep(DURATION_MS);
    state.measuring = false;
    const wall = (performance.now() - start) / 1000;
    const cpuPercent = Math.round(((processCpuSeconds() - cpu) / wall) * 100);
    state.stop = true;
    await Promise.all(writers);

    let sealing: AppendsResult['sealing'] = null;
    if (sealed) {
      const until = performance.now() + SEAL_WAIT_MS;
      const unsealed = () => [...appendedAt.keys()].filter((id) => !seenAt.has(id)).length;
      while (unsealed() > 0 && performance.now() < until) await sleep(50);
      polling.stop = true;
      await poller$;
      const lags = [...appendedAt]
        .filter(([id]) => seenAt.has(id))
        .map(([id, at]) => Math.max(0, seenAt.get(id)! - at))
        .sort((a, b) => a - b);
      sealing = {
        sealed: lags.length,
        unsealed: appendedAt.size - lags.length,
        lagP50: Math.round(percentile(lags, 50)),
        lagP99: Math.round(percentile(lags, 99)),
        lagMax: Math.round(lags.at(-1) ?? 0),
        pollMs: POLL_MS,
      };
    }
    latencies.sort((a, b) => a - b);
    return {
      writers: WRITERS,
      durationSeconds: DURATION_MS / 1000,
      appends: latencies.length,
      perSecond: Math.round(latencies.length / wall),
      p50: round(percentile(latencies, 50)),
      p99: round(percentile(latencies, 99)),
      failures: state.failures,
      cpuPercent,
      sealing,
      pid: process.pid,
    };
  } finally {
    await poller.end().catch(() => undefined);
    await app.close();
    await admin.query(`DROP DATABASE IF EXISTS "${database}" WITH (FORCE)`);
    await admin.end();
  }
}

async function main(): Promise<void> {
  const i = process.argv.indexOf('--database-url');
  const adminUrl =
    (i === -1 ? undefined : process.argv[i + 1]) ??
    process.env.BENCH_DATABASE_URL ??
    'postgres://postgres@127.0.0.1:5432/postgres';
  const result = await run(adminUrl);
  // The parent reads this line, then closes the IPC channel (or sends SIGTERM).
  const exit = () => process.exit(0);
  process.on('SIGTERM', exit);
  process.on('disconnect', exit);
  process.stdout.write(`${JSON.stringify(result)}\n`);
  if (!process.connected) exit();
}

if (process.argv[1] && pathToFileURL(process.argv[1]).href === import.meta.url) {
  main().catch((error: unknown) => {
    console.error(error);
    process.exit(1);
  });
}
