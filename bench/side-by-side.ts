// Side by side: Tessera against oidc-provider (bench/peers/oidc-provider.ts) and against
// ceilings that do only the part of the work that cannot be avoided. Every server is a real
// listening one in a child process pinned to one core (`taskset -c 1`), loaded one at a time,
// driven over loopback by autocannon in this process (pinned to core 0 when taskset allows):
// a 1 s warm-up, then 5 s measured. The two rows that compare Tessera with a ceiling over
// HTTP (JWKS, login) keep both up and measure them in alternating rounds (load.ts alternate),
// so that the other work on this shared machine weighs on both alike.
//
// Rows: JWKS (peer; ceiling: a bare Fastify route with the bytes and headers of Tessera's
// JWKS response), client_credentials, the refresh grant on PostgreSQL and on PGlite (every
// request its own pre-minted refresh token, never reused; on PGlite the peer is
// oidc-provider on an in-memory Map adapter, labelled so), login with the right password (ceiling: a
// bare route doing one argon2id verify of Tessera's stored hash with the same pool),
// the verifier kit against raw jose jwtVerify (in-process), audit appends with 10 writers on
// PostgreSQL (with sealing lag when there is a sealer), JWKS and refresh p99 while 16
// concurrent logins saturate the server core, and the server's RSS at the end and at its peak.
// Each row has its targets from issue 13 and says met or missed; nothing fails on a miss.
//
// Prints one Markdown table and writes bench/results/side-by-side.{json,md,svg}. Run by
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
import { format, resolveConfig } from 'prettier';
import { measureAppends, type AppendsResult } from './appends.js';
import { startCeiling } from './fastify-ceiling.js';
import {
  alternate,
  basic,
  cannon,
  CONNECTIONS,
  DURATION_S,
  figures,
  FORM,
  loginRequests,
  measure,
  measureRefresh,
  ROUND_S,
  ROUNDS,
  memoryMb,
  refreshRequests,
  timed,
  WARMUP_S,
  type Figures,
  type RefreshFigures,
} from './load.js';
import { RT_CLIENT_ID, CC_CLIENT_ID, startOidcProvider } from './peers/oidc-provider.js';
import { startRawArgon2 } from './raw-argon2.js';
import { chart, check, markdown, num, ratio, type Measure, type Row } from './report.js';
import { startTessera, type TesseraServer } from './tessera-server.js';
import { measureVerifier, type VerifierResult, type VerifyFigures } from './verifier-bench.js';

const ADMIN_URL = process.env.BENCH_DATABASE_URL ?? 'postgres://postgres@127.0.0.1:5432/postgres';
const SERVER_CORE = '1';
const LOAD_CORE = '0';
/** Concurrent logins, for the login row and for the load under which the p99 rows are taken. */
const LOGIN_CONNECTIONS = 16;
/** The probes while logins saturate the core: a fixed offered rate over a few connections. */
const PROBE = { jwksRate: 100, refreshRate: 20, connections: 4 };
/** After the last run, for requests autocannon left in flight to finish before a server closes. */
const DRAIN_MS = 500;
const RESULTS = join(dirname(fileURLToPath(import.meta.url)), 'results');

interface Memory {
  rss: number;
  peak: number;
}

interface UnderLoad {
  jwks: Figures;
  refresh: Figures & { pastEnd: number };
  logins: Figures;
}

/** The 1, 5 and 15 minute load averages: the machine is shared, and this says how busy it was. */
const loadAverage = () => readFileSync('/proc/loadavg', 'utf8').split(' ').slice(0, 3).join(' ');

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

/** Logins at LOGIN_CONNECTIONS (the login row). */
const loginLoad = (url: string, emails: string[], password: string) => ({
  url,
  connections: LOGIN_CONNECTIONS,
  requests: loginRequests(emails, password),
});

/**
 * JWKS and refresh at a low fixed rate while LOGIN_CONNECTIONS logins run flat out: what a
 * cheap request waits while password hashing holds the server's core.
 */
async function measureUnderLogins(t: TesseraServer): Promise<UnderLoad> {
  const pool = await t.mintRefreshTokens(PROBE.refreshRate * (DURATION_S + 1) * 3);
  const { requests, at } = refreshRequests(pool, {});
  const logins = cannon({
    url: t.loginUrl,
    connections: LOGIN_CONNECTIONS,
    duration: WARMUP_S + DURATION_S + 1,
    requests: loginRequests(t.users, t.password),
  });
  await sleep(WARMUP_S * 1000);
  const probe = { connections: PROBE.connections, duration: DURATION_S };
  const [jwks, refresh] = await Promise.all([
    timed(t.pid, () => cannon({ ...probe, url: t.jwksUrl, overallRate: PROBE.jwksRate })),
    timed(t.pid, () => cannon({ ...probe, url: t.tokenUrl, overallRate: PROBE.refreshRate, requests })),
  ]);
  // The server's CPU while the probes ran is the figure that says whether the core was saturated.
  const loginResult = {
    ...figures(await logins),
    serverCpuPercent: jwks.serverCpuPercent,
    seconds: WARMUP_S + DURATION_S + 1,
    cores: jwks.cores,
  };
  return { jwks, refresh: { ...refresh, pastEnd: at.pastEnd }, logins: loginResult };
}

/** The server's CPU and, after the slash, how busy its whole core was (others' work included). */
const cpuText = (f: Figures) => `${f.serverCpuPercent}/${f.cores[SERVER_CORE] ?? '?'} %`;
const failed = (f: Figures) => f.non2xx + f.errors + f.timeouts;
const http = (name: string, f: Figures): Measure => ({
  name,
  value: f.reqPerSec,
  unit: 'req/s',
  cell: `${num(f.reqPerSec)} req/s (${f.p50}/${f.p99} ms; CPU ${cpuText(f)})`,
  failures: failed(f),
});
const ops = (name: string, f: VerifyFigures): Measure => ({
  name,
  value: f.opsPerSec,
  unit: 'ops/s',
  cell: `${num(f.opsPerSec)} verifies/s (${f.p50}/${f.p99} ms)`,
  failures: f.failures,
});
const probeCell = (f: Figures, rate: number, logins: Figures) =>
  `p99 ${f.p99} ms (p50 ${f.p50} ms; ${num(f.reqPerSec)} of ${rate} req/s offered; logins ${num(logins.reqPerSec)}/s alongside)`;
const mb = (name: string, value: number): Measure => ({ name, value, unit: 'MB', cell: `${value} MB`, failures: null });

function appendsCell(a: AppendsResult): string {
  const lag = a.sealing
    ? `; sealing lag p50/p99 ${a.sealing.lagP50}/${a.sealing.lagP99} ms${a.sealing.unsealed ? `, ${a.sealing.unsealed} not sealed after 10 s` : ''}`
    : '; no sealer (no leaf_index column)';
  return `${num(a.perSecond)} events/s (${a.p50}/${a.p99} ms per append)${lag}`;
}

export async function sideBySide(): Promise<void> {
  const pinned = pinSelf();
  const loadBefore = loadAverage();
  const started = Date.now();
  const log = (m: string) => console.error(`[side-by-side ${((Date.now() - started) / 1000).toFixed(0)} s] ${m}`);

  log(`Tessera (PostgreSQL) on core ${SERVER_CORE}`);
  const tessera = await startTessera({ adminUrl: ADMIN_URL, cores: SERVER_CORE });
  const hasher = { hash: tessera.storedHash, ...tessera.hasher, threadpool: tessera.threadpool };
  let t: {
    jwks: Figures;
    cc: Figures;
    refresh: RefreshFigures;
    login: Figures;
    underLogins: UnderLoad;
    memory: Memory;
  };
  let c: { jwks: Figures; memory: Memory };
  let r: { login: Figures; threadpool: number };
  // The two ceilings run beside Tessera, idle but for their turns: see alternate().
  const jwks = await jwksResponse(tessera.jwksUrl);
  const ceiling = await startCeiling({ ...jwks, cores: SERVER_CORE });
  const raw = await startRawArgon2({ hash: hasher.hash, concurrency: hasher.concurrency, cores: SERVER_CORE });
  try {
    log('JWKS: Tessera and bare Fastify in turns');
    const [jwksFig, ceilingJwks] = await alternate([
      { pid: tessera.pid, options: { url: tessera.jwksUrl } },
      { pid: ceiling.pid, options: { url: `${ceiling.url}/jwks` } },
    ]);
    log(`Tessera JWKS ${jwksFig!.reqPerSec}/s, bare Fastify ${ceilingJwks!.reqPerSec}/s`);
    const cc = await measure(tessera.pid, {
      url: tessera.tokenUrl,
      method: 'POST',
      headers: { authorization: basic(tessera.clientId, tessera.clientSecret), 'content-type': FORM },
      body: 'grant_type=client_credentials',
    });
    log(`Tessera client_credentials ${cc.reqPerSec}/s`);
    const refresh = await measureRefresh(tessera.pid, tessera.tokenUrl, {}, (n) => tessera.mintRefreshTokens(n));
    log(`Tessera refresh ${refresh.reqPerSec}/s (${refresh.minted} tokens minted)`);
    log('login: Tessera and raw argon2id in turns');
    const [login, rawLogin] = await alternate([
      { pid: tessera.pid, options: loginLoad(tessera.loginUrl, tessera.users, tessera.password) },
      { pid: raw.pid, options: loginLoad(raw.loginUrl, ['bench@example.com'], tessera.password) },
    ]);
    log(`Tessera login ${login!.reqPerSec}/s, raw argon2id ${rawLogin!.reqPerSec}/s`);
    const underLogins = await measureUnderLogins(tessera);
    log(`Tessera under logins: JWKS p99 ${underLogins.jwks.p99} ms, refresh p99 ${underLogins.refresh.p99} ms`);
    t = { jwks: jwksFig!, cc, refresh, login: login!, underLogins, memory: memoryMb(tessera.pid) };
    c = { jwks: ceilingJwks!, memory: memoryMb(ceiling.pid) };
    r = { login: rawLogin!, threadpool: raw.threadpool };
  } finally {
    await sleep(DRAIN_MS);
    await Promise.all([tessera.close(), ceiling.close(), raw.close()]);
  }

  log(`Tessera (PGlite) on core ${SERVER_CORE}`);
  const embedded = await startTessera({ adminUrl: ADMIN_URL, cores: SERVER_CORE, engine: 'pglite' });
  let e: { refresh: RefreshFigures; memory: Memory };
  try {
    const refresh = await measureRefresh(embedded.pid, embedded.tokenUrl, {}, (n) => embedded.mintRefreshTokens(n));
    log(`Tessera PGlite refresh ${refresh.reqPerSec}/s (${refresh.minted} tokens minted)`);
    e = { refresh, memory: memoryMb(embedded.pid) };
  } finally {
    await sleep(DRAIN_MS);
    await embedded.close();
  }

  log(`oidc-provider (PostgreSQL) on core ${SERVER_CORE}`);
  const peer = await startOidcProvider({ databaseUrl: ADMIN_URL, cores: SERVER_CORE });
  let p: { jwks: Figures; cc: Figures; refresh: RefreshFigures; memory: Memory };
  const client = (id: string) => {
    const c = peer.clients.find((x) => x.client_id === id)!;
    return basic(c.client_id, c.client_secret);
  };
  try {
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
    p = { jwks: jwksFig, cc, refresh, memory: memoryMb(peer.pid) };
  } finally {
    await sleep(DRAIN_MS);
    await peer.close();
  }

  log(`oidc-provider (in-memory Map adapter) on core ${SERVER_CORE}`);
  const memPeer = await startOidcProvider({ cores: SERVER_CORE, mapStore: true });
  let m: { refresh: RefreshFigures; memory: Memory };
  try {
    const c = memPeer.clients.find((x) => x.client_id === RT_CLIENT_ID)!;
    const refresh = await measureRefresh(
      memPeer.pid,
      memPeer.tokenUrl,
      { authorization: basic(c.client_id, c.client_secret) },
      (n) => memPeer.mintRefreshTokens(n),
    );
    log(`oidc-provider in-memory refresh ${refresh.reqPerSec}/s`);
    m = { refresh, memory: memoryMb(memPeer.pid) };
  } finally {
    await sleep(DRAIN_MS);
    await memPeer.close();
  }

  log(`audit appends (10 writers, PostgreSQL) on core ${SERVER_CORE}`);
  const appends = await measureAppends({ adminUrl: ADMIN_URL, cores: SERVER_CORE });
  log(`audit appends ${appends.perSecond}/s`);

  log(`verifier kit and raw jose on core ${SERVER_CORE}`);
  const verifier: VerifierResult = await measureVerifier({ cores: SERVER_CORE });
  log(`verifier kit ${verifier.kit.opsPerSec}/s, raw jose ${verifier.raw.opsPerSec}/s`);

  const vs = (a: Figures, b: Figures | undefined) => ratio(a.reqPerSec, b?.reqPerSec);
  const under = t.underLogins;
  const rows: Row[] = [
    {
      workload: 'JWKS',
      tessera: http('Tessera', t.jwks),
      peer: http('oidc-provider', p.jwks),
      ceiling: http('bare Fastify, same bytes and headers', c.jwks),
      vsPeer: vs(t.jwks, p.jwks),
      vsCeiling: vs(t.jwks, c.jwks),
      checks: [...check('vs peer', vs(t.jwks, p.jwks), 1.5), ...check('vs ceiling', vs(t.jwks, c.jwks), 0.8)],
    },
    {
      workload: 'client_credentials',
      tessera: http('Tessera', t.cc),
      peer: http('oidc-provider', p.cc),
      ceiling: null,
      vsPeer: vs(t.cc, p.cc),
      vsCeiling: null,
      checks: check('vs peer', vs(t.cc, p.cc), 1.5),
    },
    {
      workload: 'refresh grant, PostgreSQL',
      tessera: http('Tessera', t.refresh),
      peer: http('oidc-provider', p.refresh),
      ceiling: null,
      vsPeer: vs(t.refresh, p.refresh),
      vsCeiling: null,
      checks: check('vs peer', vs(t.refresh, p.refresh), 2),
    },
    {
      workload: 'refresh grant, PGlite (embedded)',
      tessera: http('Tessera', e.refresh),
      peer: http('oidc-provider, in-memory Map adapter (no database)', m.refresh),
      ceiling: null,
      vsPeer: vs(e.refresh, m.refresh),
      vsCeiling: null,
      checks: [],
    },
    {
      workload: `login, right password, ${LOGIN_CONNECTIONS} connections`,
      tessera: http('Tessera', t.login),
      peer: null,
      peerNote: 'n/a (no password login in the peer)',
      ceiling: http(`raw argon2id verify, same hash and pool (${hasher.concurrency} at once)`, r.login),
      vsPeer: null,
      vsCeiling: vs(t.login, r.login),
      checks: check('vs ceiling', vs(t.login, r.login), 0.9),
    },
    {
      workload: `verifier kit, ${verifier.inFlight} in flight, in-process`,
      tessera: ops('Tessera verifier kit', verifier.kit),
      peer: null,
      peerNote: 'n/a',
      ceiling: ops('raw jose jwtVerify, local key', verifier.raw),
      vsPeer: null,
      vsCeiling: ratio(verifier.kit.opsPerSec, verifier.raw.opsPerSec),
      checks: check('vs ceiling', ratio(verifier.kit.opsPerSec, verifier.raw.opsPerSec), 0.85),
    },
    {
      workload: `audit appends, ${appends.writers} writers, PostgreSQL`,
      tessera: {
        name: 'Tessera',
        value: appends.perSecond,
        unit: 'events/s',
        cell: appendsCell(appends),
        failures: appends.failures,
      },
      peer: null,
      peerNote: 'n/a',
      ceiling: null,
      vsPeer: null,
      vsCeiling: null,
      checks: check('events/s', appends.perSecond, 5000, { kind: 'absolute', unit: '/s' }),
    },
    {
      workload: `JWKS while ${LOGIN_CONNECTIONS} logins saturate the core`,
      tessera: {
        name: 'Tessera',
        value: under.jwks.p99,
        unit: 'ms',
        cell: probeCell(under.jwks, PROBE.jwksRate, under.logins),
        failures: failed(under.jwks),
      },
      peer: null,
      peerNote: 'n/a',
      ceiling: null,
      vsPeer: null,
      vsCeiling: null,
      checks: check('p99', under.jwks.p99, 20, { kind: 'absolute', better: 'lower', unit: 'ms' }),
    },
    {
      workload: `refresh while ${LOGIN_CONNECTIONS} logins saturate the core`,
      tessera: {
        name: 'Tessera',
        value: under.refresh.p99,
        unit: 'ms',
        cell: probeCell(under.refresh, PROBE.refreshRate, under.logins),
        failures: failed(under.refresh),
      },
      peer: null,
      peerNote: 'n/a',
      ceiling: null,
      vsPeer: null,
      vsCeiling: null,
      checks: check('p99', under.refresh.p99, 50, { kind: 'absolute', better: 'lower', unit: 'ms' }),
    },
    {
      workload: 'server RSS at the end (PostgreSQL)',
      tessera: mb('Tessera', t.memory.rss),
      peer: mb('oidc-provider', p.memory.rss),
      ceiling: mb('bare Fastify', c.memory.rss),
      vsPeer: ratio(t.memory.rss, p.memory.rss),
      vsCeiling: null,
      checks: check('RSS', t.memory.rss, 250, { kind: 'absolute', better: 'lower', unit: 'MB' }),
    },
    {
      workload: 'server peak RSS (VmHWM, PostgreSQL)',
      tessera: mb('Tessera', t.memory.peak),
      peer: mb('oidc-provider', p.memory.peak),
      ceiling: mb('bare Fastify', c.memory.peak),
      vsPeer: ratio(t.memory.peak, p.memory.peak),
      vsCeiling: null,
      checks: [],
    },
    {
      workload: 'server RSS at the end / peak, PGlite',
      tessera: { ...mb('Tessera', e.memory.rss), cell: `${e.memory.rss} / ${e.memory.peak} MB` },
      peer: {
        ...mb('oidc-provider, in-memory Map adapter', m.memory.rss),
        cell: `${m.memory.rss} / ${m.memory.peak} MB`,
      },
      ceiling: null,
      vsPeer: ratio(e.memory.rss, m.memory.rss),
      vsCeiling: null,
      checks: [],
    },
  ];

  const table = markdown(rows);
  const load = { before: loadBefore, after: loadAverage() };
  const date = new Date().toISOString();
  const cpu = cpuModel();
  const setup =
    `${CONNECTIONS} connections (logins: ${LOGIN_CONNECTIONS}), ${WARMUP_S} s warm-up then ${DURATION_S} s per workload ` +
    `(JWKS against bare Fastify and login against raw argon2id: both servers up, ${ROUNDS} alternating rounds of ` +
    `${ROUND_S} s each after the warm-ups; p99 is the worst round's); ` +
    `each server in a child pinned to core ${SERVER_CORE} (taskset -c ${SERVER_CORE}), loaded one at a time; autocannon in the parent` +
    (pinned ? ` pinned to core ${LOAD_CORE}` : ' (not pinned: taskset -p failed)') +
    '; PostgreSQL on this machine, not pinned. Ratios: Tessera / other (req/s or ops/s averages; for RSS, MB). ' +
    `argon2id m=${hasher.memoryCost} KiB t=${hasher.timeCost} p=${hasher.parallelism}, ` +
    `${hasher.concurrency} hashes at once, libuv pool ${hasher.threadpool} (Tessera) / ${r.threadpool} (raw). ` +
    `Under logins: JWKS offered at ${PROBE.jwksRate} req/s and refresh at ${PROBE.refreshRate} req/s, ` +
    `${PROBE.connections} connections each, while ${LOGIN_CONNECTIONS} connections log in flat out. ` +
    `Load average (1/5/15 min) ${load.before} before, ${load.after} after (2 cores; other work shares them). ` +
    `CPU a/b in a cell: a, that server process over the measured run; b, how busy core ${SERVER_CORE} was ` +
    '(everything on it). a near 100: the server core was the limit; b well above a: other work on this shared ' +
    'machine took part of the core; both low: the load generator or the database was the limit.';
  // Requests per second of the server's own CPU: less moved by other tenants than req/s, though
  // it says nothing of time spent waiting (on the database, say).
  const perCpu = (f: Figures) =>
    f.serverCpuPercent ? num(f.requests / ((f.serverCpuPercent / 100) * f.seconds)) : '?';
  const w = (f: Figures) =>
    `${cpuText(f)} (load core ${f.cores[LOAD_CORE] ?? '?'} %); ${perCpu(f)} requests per second of server CPU`;
  const measured: Array<[string, Figures]> = [
    ['JWKS, Tessera', t.jwks],
    ['JWKS, oidc-provider', p.jwks],
    ['JWKS, bare Fastify', c.jwks],
    ['client_credentials, Tessera', t.cc],
    ['client_credentials, oidc-provider', p.cc],
    ['refresh PostgreSQL, Tessera', t.refresh],
    ['refresh PostgreSQL, oidc-provider', p.refresh],
    ['refresh PGlite, Tessera', e.refresh],
    ['refresh in memory, oidc-provider', m.refresh],
    ['login, Tessera', t.login],
    ['login, raw argon2id', r.login],
    ['under logins (JWKS probe window), Tessera', under.jwks],
  ];
  const cpuLines = [
    ...measured.map(([name, f]) => `${name}: ${w(f)}`),
    `audit appends: the writers' process ${appends.cpuPercent} %`,
  ];
  console.log(table);
  for (const line of cpuLines) console.log(`CPU: ${line}`);
  const pools: Array<[string, { pastEnd: number }]> = [
    ['Tessera PostgreSQL', t.refresh],
    ['Tessera PGlite', e.refresh],
    ['oidc-provider PostgreSQL', p.refresh],
    ['oidc-provider in memory', m.refresh],
    ['Tessera under logins', under.refresh],
  ];
  const shared = measured
    .filter(([, f]) => (f.cores[SERVER_CORE] ?? 0) - f.serverCpuPercent > 25)
    .map(
      ([name, f]) =>
        `${name}: ${(f.cores[SERVER_CORE] ?? 0) - f.serverCpuPercent} % of core ${SERVER_CORE} went to other processes`,
    );
  const warnings = pools
    .filter(([, f]) => f.pastEnd)
    .map(([name, f]) => `${name}'s refresh token pool ran out: ${f.pastEnd} requests past it (non-2xx)`);
  const problems = rows.flatMap((row) => [row.tessera, row.peer, row.ceiling]).filter((x) => (x?.failures ?? 0) > 0);
  if (shared.length)
    warnings.push(
      'the server core was shared (other processes: PostgreSQL backends on the database rows, and ' +
        `whatever else runs on this machine; ratios of these runs are uncertain): ${shared.join('; ')}`,
    );
  if (problems.length) warnings.push(`${problems.length} measurement(s) with non-2xx, errors, timeouts or failures`);
  if (failed(under.logins)) warnings.push(`${failed(under.logins)} logins under load failed (non-2xx)`);
  for (const w of warnings) console.log(`warning: ${w}`);
  const missed = rows.flatMap((row) => row.checks.filter((x) => !x.met).map((x) => `${row.workload} (${x.what})`));
  console.log(missed.length ? `targets missed: ${missed.join('; ')}` : 'every target met');

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
        loginConnections: LOGIN_CONNECTIONS,
        probe: PROBE,
        warmupSeconds: WARMUP_S,
        durationSeconds: DURATION_S,
        serverCore: SERVER_CORE,
        loadCore: pinned ? LOAD_CORE : null,
        loadAverage: load,
        hasher: { ...hasher, hash: undefined, rawThreadpool: r.threadpool },
      },
      tessera: t,
      tesseraPglite: e,
      oidcProvider: p,
      oidcProviderInMemory: m,
      bareFastify: c,
      rawArgon2: r,
      appends,
      verifier,
      rows,
      warnings,
    },
    null,
    2,
  );
  writeFileSync(jsonPath, await format(json, { ...(await resolveConfig(jsonPath)), filepath: jsonPath }));
  const title = `Tessera side by side, ${date.slice(0, 10)}: ratios and targets (issue 13)`;
  writeFileSync(join(RESULTS, 'side-by-side.svg'), chart(rows, title));
  writeFileSync(
    join(RESULTS, 'side-by-side.md'),
    [
      '# Side by side: Tessera, oidc-provider and the ceilings',
      '',
      `${date}; node ${process.version}; ${cpu} (${cpus().length} CPUs).`,
      '',
      setup,
      '',
      table,
      '',
      '![ratios and targets](side-by-side.svg)',
      '',
      `Refresh tokens minted (each used once): Tessera ${t.refresh.minted} (PostgreSQL), ${e.refresh.minted} (PGlite); ` +
        `oidc-provider ${p.refresh.minted} (PostgreSQL), ${m.refresh.minted} (in memory).`,
      '',
      ...(appends.sealing
        ? [
            `Audit sealing: ${appends.sealing.sealed} of ${appends.appends} measured events seen sealed; lag from the append ` +
              `resolving to a poll (every ${appends.sealing.pollMs} ms) seeing its leaf_index: p50 ${appends.sealing.lagP50} ms, ` +
              `p99 ${appends.sealing.lagP99} ms, max ${appends.sealing.lagMax} ms.`,
            '',
          ]
        : []),
      `CPU over each measured run: the server process / all processes on core ${SERVER_CORE}, all processes on the load ` +
        `generator's core ${LOAD_CORE}, and the requests the server answered per second of its own CPU time:`,
      '',
      ...cpuLines.map((line) => `- ${line}`),
      '',
      ...(warnings.length ? ['Warnings:', '', ...warnings.map((w) => `- ${w}`), ''] : []),
      'Made by `npm run bench -- --side-by-side-only` (or `npm run bench`).',
      '',
    ].join('\n'),
  );
  log(`written to ${RESULTS}/side-by-side.{json,md,svg}`);
}
