// Side by side: Tessera and oidc-provider (bench/peers/oidc-provider.ts), each a real
// listening server in a child process pinned to one core (`taskset -c 1`), one at a time,
// driven over loopback by autocannon in this process (pinned to core 0 when taskset
// allows): 32 connections, a 1 s warm-up, then 5 s measured, for JWKS, client_credentials
// (client_secret_basic, form body) and the refresh grant on PostgreSQL (every request its
// own pre-minted refresh token, never reused). Then a bare Fastify route returning the bytes
// and headers of Tessera's JWKS response: the ceiling for JWKS.
//
// Prints one Markdown table and writes bench/results/side-by-side.{json,md}. Run by
// `npm run bench` after its in-process figures, or alone: `npm run bench -- --side-by-side-only`.
// BENCH_DATABASE_URL names the administrative PostgreSQL connection (default
// postgres://postgres@127.0.0.1:5432/postgres); each server gets a fresh database there,
// dropped afterwards.
import { execFileSync } from 'node:child_process';
import { mkdirSync, readFileSync, writeFileSync } from 'node:fs';
import { cpus } from 'node:os';
import { setTimeout as sleep } from 'node:timers/promises';
import { dirname, join } from 'node:path';
import { fileURLToPath } from 'node:url';
import { performance } from 'node:perf_hooks';
import { format, resolveConfig } from 'prettier';
import autocannon, { type Options, type Result } from 'autocannon';
import { RT_CLIENT_ID, CC_CLIENT_ID, startOidcProvider } from './peers/oidc-provider.js';
import { startCeiling } from './fastify-ceiling.js';
import { startTessera } from './tessera-server.js';

const ADMIN_URL = process.env.BENCH_DATABASE_URL ?? 'postgres://postgres@127.0.0.1:5432/postgres';
const SERVER_CORE = '1';
const LOAD_CORE = '0';
const CONNECTIONS = 32;
const WARMUP_S = 1;
const DURATION_S = 5;
/** Refresh tokens minted before the warm-up; after it, enough for 5 s at twice its rate, x 1.5. */
const FIRST_TOKENS = 2000;
/** After the last run, for requests autocannon left in flight to finish before a server closes. */
const DRAIN_MS = 500;
const RESULTS = join(dirname(fileURLToPath(import.meta.url)), 'results');

const FORM = 'application/x-www-form-urlencoded';
const basic = (id: string, secret: string) =>
  `Basic ${Buffer.from(`${encodeURIComponent(id)}:${encodeURIComponent(secret)}`).toString('base64')}`;

interface Figures {
  reqPerSec: number;
  p50: number;
  p99: number;
  requests: number;
  non2xx: number;
  errors: number;
  timeouts: number;
  /** The server process's CPU time over the measured run's wall time: near 100, the server's core was the limit. */
  serverCpuPercent: number;
}

interface Row {
  workload: string;
  tessera: Figures;
  /** oidc-provider, or for the ceiling row the bare Fastify route. */
  other: Figures;
  otherName: 'oidc-provider' | 'bare Fastify';
  ratio: number;
  note?: string;
}

/** utime + stime of a process, all its threads, in seconds (USER_HZ is 100 on Linux). */
function cpuSeconds(pid: number): number {
  const stat = readFileSync(`/proc/${pid}/stat`, 'utf8');
  const fields = stat.slice(stat.lastIndexOf(')') + 2).split(' ');
  return (Number(fields[11]) + Number(fields[12])) / 100;
}

/** One measured run, with the server's CPU use over it. */
async function timed(pid: number, run: () => Promise<Result>): Promise<Figures> {
  const cpu = cpuSeconds(pid);
  const start = performance.now();
  const result = await run();
  const wall = (performance.now() - start) / 1000;
  return { ...figures(result), serverCpuPercent: Math.round(((cpuSeconds(pid) - cpu) / wall) * 100) };
}

function figures(r: Result): Omit<Figures, 'serverCpuPercent'> {
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

function cannon(options: Options): Promise<Result> {
  return autocannon({ connections: CONNECTIONS, ...options });
}

/** A 1 s warm-up (discarded), then the measured 5 s. */
async function measure(pid: number, options: Omit<Options, 'duration'>): Promise<Figures> {
  await cannon({ ...options, duration: WARMUP_S });
  return timed(pid, () => cannon({ ...options, duration: DURATION_S }));
}

/**
 * The refresh grant: each request takes the next token of the pool; past its end a token
 * that cannot be valid is sent (and shows as non-2xx), never one already used.
 */
async function measureRefresh(
  pid: number,
  url: string,
  headers: Record<string, string>,
  mint: (n: number) => Promise<string[]>,
): Promise<Figures & { minted: number; pastEnd: number }> {
  const pool = await mint(FIRST_TOKENS);
  // Closures change these; an object keeps the linter's flow analysis out of it.
  const at = { next: 0, pastEnd: 0 };
  const options = (duration: number): Options => ({
    url,
    duration,
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
  });
  const warm = await cannon(options(WARMUP_S));
  // The warm-up may have run past the pool: what it used is gone either way.
  at.next = Math.min(at.next, pool.length);
  at.pastEnd = 0;
  // Rate x duration x 1.5, with the rate taken as twice the warm-up's: a cold server's first
  // second runs well below its steady rate (oidc-provider's ran out at 1x once).
  const needed = Math.ceil(Math.max(warm.requests.average, 1) * 2 * DURATION_S * 1.5);
  const left = pool.length - at.next;
  if (needed > left) pool.push(...(await mint(needed - left)));
  const run = await timed(pid, () => cannon(options(DURATION_S)));
  return { ...run, minted: pool.length, pastEnd: at.pastEnd };
}

function rssMb(pid: number): number {
  const line = readFileSync(`/proc/${pid}/status`, 'utf8')
    .split('\n')
    .find((l) => l.startsWith('VmRSS:'));
  return Math.round(Number(line?.split(/\s+/)[1] ?? 0) / 1024);
}

function cpuModel(): string {
  const line = readFileSync('/proc/cpuinfo', 'utf8')
    .split('\n')
    .find((l) => l.startsWith('model name'));
  return line?.split(':')[1]?.trim() ?? 'unknown';
}

/** Autocannon's side on the other core, all threads, when taskset lets us. */
function pinSelf(): boolean {
  try {
    execFileSync('taskset', ['-a', '-p', '-c', LOAD_CORE, String(process.pid)], { stdio: 'ignore' });
    return true;
  } catch {
    return false;
  }
}

/** The JWKS response's bytes and headers, less those that belong to the connection. */
async function jwksResponse(url: string): Promise<{ body: string; headers: Record<string, string> }> {
  const res = await fetch(url);
  const skip = new Set(['connection', 'keep-alive', 'content-length', 'date', 'transfer-encoding']);
  const headers: Record<string, string> = {};
  for (const [name, value] of res.headers) if (!skip.has(name)) headers[name] = value;
  return { body: await res.text(), headers };
}

const cell = (f: Figures) => `${f.reqPerSec.toLocaleString('en-US')} (${f.p50}/${f.p99} ms)`;
const bad = (f: Figures) => f.non2xx + f.errors + f.timeouts;

function markdown(rows: Row[], rss: { tessera: number; peer: number; ceiling: number }): string {
  const lines = [
    '| workload | Tessera req/s (p50/p99) | oidc-provider req/s (p50/p99) | ratio | non-2xx (Tessera / other) |',
    '|---|---|---|---|---|',
  ];
  for (const r of rows) {
    const other = r.otherName === 'oidc-provider' ? cell(r.other) : `bare Fastify: ${cell(r.other)}`;
    const errors = (f: Figures) => `${f.non2xx}${f.errors + f.timeouts ? ` (+${f.errors + f.timeouts} errors)` : ''}`;
    lines.push(
      `| ${r.workload} | ${cell(r.tessera)} | ${other} | ${r.ratio.toFixed(2)} | ${errors(r.tessera)} / ${errors(r.other)} |`,
    );
  }
  lines.push(`| server RSS at the end (MB) | ${rss.tessera} | ${rss.peer} (bare Fastify: ${rss.ceiling}) | | |`);
  return lines.join('\n');
}

export async function sideBySide(): Promise<void> {
  const pinned = pinSelf();
  const started = Date.now();
  const log = (m: string) => console.error(`[side-by-side ${((Date.now() - started) / 1000).toFixed(0)} s] ${m}`);

  log(`Tessera on core ${SERVER_CORE}`);
  const tessera = await startTessera({ adminUrl: ADMIN_URL, cores: SERVER_CORE });
  let t: { jwks: Figures; cc: Figures; refresh: Awaited<ReturnType<typeof measureRefresh>>; rss: number };
  let jwks: { body: string; headers: Record<string, string> };
  try {
    jwks = await jwksResponse(tessera.jwksUrl);
    const jwksFig = await measure(tessera.pid, { url: tessera.jwksUrl });
    log(`Tessera JWKS ${jwksFig.reqPerSec}/s`);
    const cc = await measure(tessera.pid, {
      url: tessera.tokenUrl,
      method: 'POST',
      headers: { authorization: basic(tessera.clientId, tessera.clientSecret), 'content-type': FORM },
      body: 'grant_type=client_credentials',
    });
    log(`Tessera client_credentials ${cc.reqPerSec}/s`);
    const refresh = await measureRefresh(tessera.pid, tessera.tokenUrl, {}, (n) => tessera.mintRefreshTokens(n));
    log(`Tessera refresh ${refresh.reqPerSec}/s (${refresh.minted} tokens minted)`);
    t = { jwks: jwksFig, cc, refresh, rss: rssMb(tessera.pid) };
  } finally {
    await sleep(DRAIN_MS);
    await tessera.close();
  }

  log(`oidc-provider on core ${SERVER_CORE}`);
  const peer = await startOidcProvider({ databaseUrl: ADMIN_URL, cores: SERVER_CORE });
  let p: typeof t;
  try {
    const client = (id: string) => {
      const c = peer.clients.find((x) => x.client_id === id)!;
      return basic(c.client_id, c.client_secret);
    };
    const jwksFig = await measure(peer.pid, { url: peer.jwksUrl });
    log(`oidc-provider JWKS ${jwksFig.reqPerSec}/s`);
    const cc = await measure(peer.pid, {
      url: peer.tokenUrl,
      method: 'POST',
      headers: { authorization: client(CC_CLIENT_ID), 'content-type': FORM },
      body: 'grant_type=client_credentials',
    });
    log(`oidc-provider client_credentials ${cc.reqPerSec}/s`);
    const refresh = await measureRefresh(peer.pid, peer.tokenUrl, { authorization: client(RT_CLIENT_ID) }, (n) =>
      peer.mintRefreshTokens(n),
    );
    log(`oidc-provider refresh ${refresh.reqPerSec}/s (${refresh.minted} tokens minted)`);
    p = { jwks: jwksFig, cc, refresh, rss: rssMb(peer.pid) };
  } finally {
    await sleep(DRAIN_MS);
    await peer.close();
  }

  log(`bare Fastify on core ${SERVER_CORE}`);
  const ceiling = await startCeiling({ ...jwks, cores: SERVER_CORE });
  let c: { jwks: Figures; rss: number };
  try {
    const jwksFig = await measure(ceiling.pid, { url: `${ceiling.url}/jwks` });
    c = { jwks: jwksFig, rss: rssMb(ceiling.pid) };
  } finally {
    await ceiling.close();
  }

  const ratio = (a: Figures, b: Figures) => (b.reqPerSec ? a.reqPerSec / b.reqPerSec : 0);
  const rows: Row[] = [
    { workload: 'JWKS', tessera: t.jwks, other: p.jwks, otherName: 'oidc-provider', ratio: ratio(t.jwks, p.jwks) },
    {
      workload: 'JWKS vs ceiling (same bytes and headers)',
      tessera: t.jwks,
      other: c.jwks,
      otherName: 'bare Fastify',
      ratio: ratio(t.jwks, c.jwks),
    },
    {
      workload: 'client_credentials',
      tessera: t.cc,
      other: p.cc,
      otherName: 'oidc-provider',
      ratio: ratio(t.cc, p.cc),
    },
    {
      workload: 'refresh grant, PostgreSQL',
      tessera: t.refresh,
      other: p.refresh,
      otherName: 'oidc-provider',
      ratio: ratio(t.refresh, p.refresh),
    },
  ];
  const table = markdown(rows, { tessera: t.rss, peer: p.rss, ceiling: c.rss });
  const date = new Date().toISOString();
  const cpu = cpuModel();
  const setup =
    `${CONNECTIONS} connections, ${WARMUP_S} s warm-up then ${DURATION_S} s per workload; each server alone in a child ` +
    `pinned to core ${SERVER_CORE} (taskset -c ${SERVER_CORE}); autocannon in the parent` +
    (pinned ? ` pinned to core ${LOAD_CORE}` : ' (not pinned: taskset -p failed)') +
    '; PostgreSQL on this machine, not pinned. Ratio: Tessera / other req/s (average).';
  console.log(table);
  console.log(
    `server CPU % (Tessera/other): ${rows.map((r) => `${r.workload} ${r.tessera.serverCpuPercent}/${r.other.serverCpuPercent}`).join('; ')}`,
  );
  for (const [name, r] of [
    ['Tessera', t.refresh],
    ['oidc-provider', p.refresh],
  ] as const) {
    if (r.pastEnd)
      console.log(`warning: ${name}'s refresh token pool ran out: ${r.pastEnd} requests past it (non-2xx)`);
  }
  const problems = rows.flatMap((r) => [r.tessera, r.other]).filter((f) => bad(f) > 0).length;
  if (problems) console.log(`warning: ${problems} measurement(s) with non-2xx, errors or timeouts`);

  mkdirSync(RESULTS, { recursive: true });
  // Formatted as `npm run lint` (prettier --check .) wants it.
  const jsonPath = join(RESULTS, 'side-by-side.json');
  const json = JSON.stringify(
    {
      date,
      node: process.version,
      cpu,
      cpus: cpus().length,
      setup: {
        connections: CONNECTIONS,
        warmupSeconds: WARMUP_S,
        durationSeconds: DURATION_S,
        serverCore: SERVER_CORE,
        loadCore: pinned ? LOAD_CORE : null,
      },
      tessera: t,
      oidcProvider: p,
      bareFastify: c,
      rows,
    },
    null,
    2,
  );
  writeFileSync(jsonPath, await format(json, { ...(await resolveConfig(jsonPath)), filepath: jsonPath }));
  writeFileSync(
    join(RESULTS, 'side-by-side.md'),
    [
      '# Side by side: Tessera and oidc-provider',
      '',
      `${date}; node ${process.version}; ${cpu} (${cpus().length} CPUs).`,
      '',
      setup,
      '',
      table,
      '',
      `Refresh tokens minted: Tessera ${t.refresh.minted}, oidc-provider ${p.refresh.minted} (each used once).`,
      '',
      'Server CPU over each measured run (its process time / wall time; near 100 %: the server core was the limit, well below: the load generator or the database was):',
      '',
      ...rows.map(
        (r) => `- ${r.workload}: Tessera ${r.tessera.serverCpuPercent} %, ${r.otherName} ${r.other.serverCpuPercent} %`,
      ),
      '',
      'Made by `npm run bench -- --side-by-side-only` (or `npm run bench`).',
      '',
    ].join('\n'),
  );
  log(`written to ${RESULTS}/side-by-side.{json,md}`);
}
