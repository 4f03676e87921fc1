// npm run soak: three `tessera serve` instances on one fresh PostgreSQL database and one
// Redis (a prefix of its own), behind a round-robin proxy, under mixed traffic for
// SOAK_SECONDS while keys rotate and one instance is restarted gracefully and another
// killed; then the must-hold checks (no lost session, every alert delivered once, the audit
// log verifies, no failure outside the event windows) and the figures, printed and written
// to bench/results/soak.{json,md,svg}. Loopback only; exit code 1 when a check fails.
// Not run in CI: it takes SOAK_SECONDS plus about a minute.
import { randomBytes } from 'node:crypto';
import { mkdirSync, mkdtempSync, readFileSync, writeFileSync } from 'node:fs';
import { createServer, type AddressInfo } from 'node:net';
import { cpus, tmpdir } from 'node:os';
import { join } from 'node:path';
import { setTimeout as sleep } from 'node:timers/promises';
import { fileURLToPath } from 'node:url';
import { Redis } from 'ioredis';
import { freshDatabase, Instance, query, tasksetAvailable, tessera, useDist } from './soak/cluster.js';
import { rssFigures, sampleEvery } from './soak/memory.js';
import { startProxy } from './soak/proxy.js';
import { startReceiver } from './soak/receiver.js';
import { Recorder } from './soak/recorder.js';
import { chart, markdown, type CheckResult, type SoakReport } from './soak/report.js';
import { refreshOnce, startTraffic, type Rates, type Setup } from './soak/traffic.js';

const ROOT = fileURLToPath(new URL('..', import.meta.url));
const RESULTS = join(ROOT, 'bench', 'results');

const SECONDS = Number(process.env.SOAK_SECONDS ?? 240);
const DATABASE_SERVER = process.env.SOAK_DATABASE_URL ?? 'postgres://postgres@127.0.0.1:5432/postgres';
const REDIS_URL = process.env.REDIS_URL ?? 'redis://127.0.0.1:6379';
const PASSWORD = 'soak-password-quiet-harbour';
/** RSS samples this long after a process started are the "after warm-up" ones. */
const WARMUP_MS = 30_000;
const SAMPLE_MS = 5000;
/** How long after an event settles its window stays open. */
const GRACE_MS = 5000;
/** Keys: published this long before they sign, picked up by every instance within the sync interval. */
const PUBLISH_AHEAD_S = 10;
const KEY_SYNC_S = 2;

// Rates kept well under what two shared cores do: argon2id (19 MiB, t=2) costs tens of ms
// per login, so logins, code flows and wrong passwords together stay at about 2/s.
const RATES: Rates = {
  tokens: 60,
  jwks: 150,
  introspect: 60,
  chains: 20,
  chainInterval: 1,
  logins: 1,
  codeFlows: 0.5,
  wrongPasswords: 0.5,
  chainLength: 40,
};

if (!Number.isInteger(SECONDS) || SECONDS < 30 || SECONDS > 3600)
  throw new Error('SOAK_SECONDS must be a whole number of seconds from 30 to 3600');

async function freePort(): Promise<number> {
  const server = createServer();
  await new Promise<void>((resolve) => server.listen(0, '127.0.0.1', resolve));
  const { port } = server.address() as AddressInfo;
  await new Promise((resolve) => server.close(resolve));
  return port;
}

let zero = performance.now();
const clock = () => performance.now() - zero;
const untilSecond = async (second: number) => {
  const wait = second * 1000 - clock();
  if (wait > 0) await sleep(wait);
};
const say = (line: string) => process.stdout.write(`[soak ${(clock() / 1000).toFixed(1)} s] ${line}\n`);

async function main(): Promise<number> {
  const startedAt = new Date().toISOString();
  const recorder = new Recorder(clock);
  const receiver = await startReceiver(clock);
  const db = await freshDatabase(DATABASE_SERVER);
  const prefix = `soak_${randomBytes(6).toString('hex')}:`;
  const ports = [await freePort(), await freePort(), await freePort()];
  const proxy = await startProxy(ports, () =>
    recorder.record('proxy: request unanswered when an instance closed its connection', -1, 'closed mid-request', true),
  );
  const base = `http://127.0.0.1:${proxy.port}`;
  say(`database ${db.name}, Redis prefix ${prefix}, proxy ${base}, instances on ${ports.join(', ')}`);

  const env: Record<string, string> = {
    PATH: process.env.PATH ?? '',
    HOME: process.env.HOME ?? '/tmp',
    // development, not production: production refuses plain HTTP, and this proxy terminates no TLS.
    NODE_ENV: 'development',
    LOG_LEVEL: 'warn',
    GLIBC_TUNABLES: process.env.GLIBC_TUNABLES ?? 'glibc.malloc.mmap_threshold=131072',
    MASTER_KEY: randomBytes(32).toString('base64'),
    ISSUER: base,
    DATABASE_URL: db.url,
    REDIS_URL,
    REDIS_PREFIX: prefix,
    CAPTCHA_PROVIDER: 'none',
    EMAIL_VERIFICATION: 'off',
    LOGIN_DELAY_MAX_MS: '0',
    LOGIN_RATE_LIMIT: '1000000',
    TOKEN_RATE_LIMIT: '1000000',
    REGISTRATION_RATE_LIMIT: '1000000',
    RATE_LIMIT_MAX: '10000000',
    JWKS_MAX_AGE: String(PUBLISH_AHEAD_S),
    KEY_PUBLISH_AHEAD: String(PUBLISH_AHEAD_S),
    KEY_SYNC_INTERVAL: String(KEY_SYNC_S),
    ALERT_WEBHOOK_URL: receiver.url,
    ALERT_WEBHOOK_SECRET: `whsec_${randomBytes(32).toString('base64')}`,
    ALERT_FAILED_LOGINS_PER_ACCOUNT: '3',
    ALERT_FAILED_LOGINS_PER_IP: '20',
    ALERT_WINDOW: '60',
    ALERT_DEDUP_WINDOW: '30',
  };
  const cli = async (args: string[], stdin = '') => {
    const result = await tessera(ROOT, { ...env, LOG_LEVEL: 'silent' }, args, stdin);
    if (result.code !== 0) throw new Error(`tessera ${args.join(' ')}: exit ${result.code}: ${result.stderr}`);
    return result.stdout;
  };

  // The instances' logs (warn and above) stay after the run, outside the repository.
  const logDir = mkdtempSync(join(tmpdir(), 'tessera-soak-'));
  const instances = ports.map(
    (port, i) =>
      new Instance(
        `instance ${'abc'[i]}`,
        port,
        String(i % 2),
        ROOT,
        env,
        join(logDir, `instance-${'abc'[i]}.log`),
        clock,
      ),
  );
  const redis = new Redis(REDIS_URL, { lazyConnect: true, maxRetriesPerRequest: 1 });
  let sampler: ReturnType<typeof sampleEvery> | undefined;
  try {
    await cli(['migrate']);
    const [service, app] = await Promise.all([
      cli([
        'clients',
        'create',
        '--name',
        'soak-service',
        '--scope',
        'api',
        '--grant',
        'client_credentials',
        '--introspect',
      ]),
      cli([
        'clients',
        'create',
        '--name',
        'soak-app',
        '--type',
        'public',
        '--first-party',
        '--redirect-uri',
        'http://127.0.0.1/callback',
        '--scope',
        'openid email offline_access',
      ]),
    ]).then((outs) => outs.map((o) => JSON.parse(o) as { client_id: string; client_secret?: string }));
    await Promise.all(instances.map((i) => i.start()));
    say(
      `${instances.length} instances ready (${useDist ? 'bin/tessera.js' : 'tsx on the sources'}, taskset ${tasksetAvailable ? 'yes' : 'no'})`,
    );

    const setup: Setup = {
      base,
      issuer: base,
      service: { id: service!.client_id, secret: service!.client_secret! },
      app: { id: app!.client_id, redirectUri: 'http://127.0.0.1/callback' },
      password: PASSWORD,
      users: Array.from({ length: 8 }, (_, i) => `soak-user-${i}@example.com`),
      victims: Array.from({ length: 3 }, (_, i) => `soak-victim-${i}@example.com`),
    };
    for (const email of [...setup.users, ...setup.victims]) {
      const res = await fetch(`${base}/users`, {
        method: 'POST',
        headers: { 'content-type': 'application/json' },
        body: JSON.stringify({ email, password: PASSWORD }),
      });
      if (res.status !== 201) throw new Error(`registering ${email}: ${res.status} ${await res.text()}`);
    }

    zero = performance.now();
    sampler = sampleEvery(instances, SAMPLE_MS, clock);
    say(`traffic for ${SECONDS} s`);
    const traffic = await startTraffic(recorder, setup, RATES, SECONDS);
    const events = runEvents(recorder, instances, cli);
    await traffic.done;
    await events;
    const trafficEnd = clock();
    say('traffic done; checking');

    const checks: CheckResult[] = [];
    // Zero lost sessions: every chain not ended on purpose refreshes from its last token; an
    // ended one does not.
    const live = traffic.chains.filter((c) => !c.ended);
    const lost: string[] = [];
    for (const chain of live) {
      const last = chain.tokens.at(-1);
      const res = last ? await refreshOnce(setup, last) : { status: 0 };
      if (chain.broken || res.status !== 200)
        lost.push(`chain ${chain.id}: ${chain.broken ?? `last token ${res.status}`}`);
    }
    checks.push({
      name: 'no lost session',
      ok: lost.length === 0,
      detail: lost.length ? lost.slice(0, 5).join('; ') : `${live.length} live chains refresh from their last token`,
    });
    const ended = traffic.chains.filter((c) => c.ended);
    const stillLive: number[] = [];
    for (const chain of ended)
      if ((await refreshOnce(setup, chain.tokens.at(-1)!)).status === 200) stillLive.push(chain.id);
    checks.push({
      name: 'ended chains stay ended',
      ok: stillLive.length === 0,
      detail: stillLive.length
        ? `still refresh: chains ${stillLive.join(', ')}`
        : `${ended.length} revoked chains refuse their last token`,
    });

    // Alerts: wait for the rules to read the last events and the deliveries to finish.
    type AlertRow = { id: string; rule: string; delivery: string; delivery_attempts: number };
    let alerts: AlertRow[] = [];
    for (let waited = 0; waited < 45; waited++) {
      await sleep(1000);
      alerts = await query<AlertRow>(db.url, 'SELECT id, rule, delivery, delivery_attempts FROM alerts ORDER BY id');
      if (waited >= 5 && alerts.every((a) => a.delivery !== 'pending')) break;
    }
    const counts = receiver.counts();
    const perAlert = new Map<number, number>();
    for (const d of receiver.deliveries)
      if (d.alertId !== undefined) perAlert.set(d.alertId, (perAlert.get(d.alertId) ?? 0) + 1);
    const undelivered = alerts.filter((a) => a.delivery !== 'delivered').map((a) => `${a.id} ${a.rule} ${a.delivery}`);
    const notOnce = alerts
      .filter((a) => perAlert.get(Number(a.id)) !== 1)
      .map((a) => `${a.id}×${perAlert.get(Number(a.id)) ?? 0} (${a.delivery_attempts} attempts recorded)`);
    const duplicates = [...counts]
      .filter(([, n]) => n > 1)
      .map(([key, n]) => {
        const times = receiver.deliveries.filter((d) => d.key === key).map((d) => (d.at / 1000).toFixed(1));
        return `${key}×${n} (at ${times.join(', ')} s)`;
      });
    const unknown = receiver.deliveries.filter((d) => !alerts.some((a) => Number(a.id) === d.alertId)).length;
    checks.push({
      name: 'every alert delivered',
      ok: undelivered.length === 0,
      detail: undelivered.length
        ? `not delivered: ${undelivered.join('; ')}`
        : `${alerts.length} alerts, all delivered`,
    });
    checks.push({
      name: 'each alert received exactly once',
      ok: notOnce.length === 0 && duplicates.length === 0 && unknown === 0,
      detail:
        notOnce.length || duplicates.length || unknown
          ? `alert×received: ${notOnce.join(', ') || 'none off'}; duplicate webhook ids: ${duplicates.join(', ') || 'none'}; deliveries of unknown alerts: ${unknown}`
          : `${receiver.deliveries.length} deliveries for ${alerts.length} alerts`,
    });

    const verify = await tessera(ROOT, { ...env, LOG_LEVEL: 'silent' }, ['audit', 'verify']);
    checks.push({
      name: 'tessera audit verify exits 0',
      ok: verify.code === 0,
      detail: verify.code === 0 ? verify.stdout.trim() : `exit ${verify.code}: ${verify.stderr.trim()}`,
    });

    const kinds = recorder.figures(0, trafficEnd);
    const outside = kinds.flatMap((k) => Object.entries(k.outside).map(([o, n]) => `${k.kind} ${o}×${n}`));
    checks.push({
      name: 'no failure outside the event windows',
      ok: outside.length === 0,
      detail: outside.length ? outside.join('; ') : 'none',
    });
    const graceful = recorder.windows.find((w) => w.name.startsWith('graceful restart: stop only'));
    const duringGraceful = graceful ? recorder.failuresBetween(graceful.start, graceful.end) : {};
    checks.push({
      name: 'graceful restart without failures (ideal, reported only)',
      ok: true,
      detail: `failures from SIGTERM to the exit + ${GRACE_MS / 1000} s (any kind): ${JSON.stringify(duringGraceful)}`,
    });

    sampler.stop();
    const exits = await Promise.all(instances.map((i) => i.stop('SIGTERM')));
    checks.push({
      name: 'instances exit 0 on SIGTERM at the end',
      ok: exits.every((code) => code === 0),
      detail: `exit codes ${exits.join(', ')}`,
    });

    const report: SoakReport = {
      startedAt,
      node: process.version,
      cpu: `${cpus()[0]?.model ?? 'cpu'} (${cpus().length} CPUs)`,
      seconds: SECONDS,
      settings: {
        SOAK_SECONDS: SECONDS,
        engine: useDist ? 'bin/tessera.js (dist)' : 'tsx on the sources',
        taskset: tasksetAvailable,
        ...Object.fromEntries(Object.entries(RATES).map(([k, v]) => [`rate.${k}`, v])),
        ALERT_FAILED_LOGINS_PER_ACCOUNT: 3,
        ALERT_FAILED_LOGINS_PER_IP: 20,
        ALERT_DEDUP_WINDOW: 30,
        KEY_PUBLISH_AHEAD: PUBLISH_AHEAD_S,
      },
      balancing:
        'Round robin per connection in a TCP proxy in the soak process (retrying the next instance on a failed connect only); instances pinned with taskset to cores 0, 1, 0.',
      kinds,
      windows: recorder.windows.map((w) => ({ ...w, failures: recorder.failuresBetween(w.start, w.end) })),
      rss: rssFigures(sampler.samples, instances, WARMUP_MS),
      rssSamples: sampler.samples,
      p99Series: recorder.p99Series(5000),
      proxy: proxy.stats,
      logs: {
        dir: logDir,
        // pino levels: 40 warn, 50 error, 60 fatal.
        lines: Object.fromEntries(
          instances.map((i) => {
            const text = readFileSync(join(logDir, `${i.name.replace(' ', '-')}.log`), 'utf8');
            const count = (level: number) => text.split(`"level":${level},`).length - 1;
            return [i.name, { warn: count(40), error: count(50), fatal: count(60) }];
          }),
        ),
      },
      chains: {
        total: traffic.chains.length,
        ended: ended.length,
        refreshes: traffic.chains.reduce((n, c) => n + Math.max(0, c.tokens.length - 1), 0),
        tokensIssued: traffic.chains.reduce((n, c) => n + c.tokens.length, 0),
        retried: traffic.chains.reduce((n, c) => n + c.retried, 0),
      },
      alerts: {
        stored: alerts.length,
        byDelivery: alerts.reduce<Record<string, number>>(
          (m, a) => ({ ...m, [a.delivery]: (m[a.delivery] ?? 0) + 1 }),
          {},
        ),
        received: receiver.deliveries.length,
        headerIds: receiver.deliveries.some((d) => d.headerId),
      },
      checks,
    };
    mkdirSync(RESULTS, { recursive: true });
    writeFileSync(join(RESULTS, 'soak.json'), `${JSON.stringify(report, null, 2)}\n`);
    writeFileSync(join(RESULTS, 'soak.md'), markdown(report));
    writeFileSync(join(RESULTS, 'soak.svg'), chart(report));
    process.stdout.write(`\n${markdown(report)}\n`);
    say(`written: ${['soak.json', 'soak.md', 'soak.svg'].map((f) => join('bench', 'results', f)).join(', ')}`);
    return checks.every((c) => c.ok) ? 0 : 1;
  } finally {
    sampler?.stop();
    // Each step bounded, so a stuck one is named instead of holding the exit up.
    const step = async (name: string, work: () => Promise<unknown>) => {
      const timeout = sleep(30_000).then(() => say(`cleanup: ${name} took over 30 s, left`));
      await Promise.race([work().catch((error: Error) => say(`cleanup: ${name} failed: ${error.message}`)), timeout]);
    };
    await step('stopping the instances', () => Promise.all(instances.map((i) => i.stop('SIGKILL'))));
    for (const i of instances) i.close();
    await step('closing the proxy', () => proxy.close());
    await step('closing the receiver', () => receiver.close());
    await step(`dropping ${db.name}`, () => db.drop());
    await step(`removing Redis ${prefix}*`, () => cleanRedis(redis, prefix));
    redis.disconnect();
    say('cleaned up: instances stopped, database dropped, Redis keys removed');
  }
}

/** Only this run's keys: SCAN for the prefix, never FLUSHALL. */
async function cleanRedis(redis: Redis, prefix: string): Promise<void> {
  await redis.connect();
  let cursor = '0';
  do {
    const [next, keys] = await redis.scan(cursor, 'MATCH', `${prefix}*`, 'COUNT', 500);
    cursor = next;
    if (keys.length) await redis.del(...keys);
  } while (cursor !== '0');
}

/**
 * Key rotations every 60 s from 30 s; a graceful restart (SIGTERM, start again) of instance
 * b at a third of the run and a SIGKILL and restart of instance c at two thirds. Each opens
 * a window that closes GRACE_MS after the event settled (the instance ready again, the new
 * key signing everywhere).
 */
async function runEvents(
  recorder: Recorder,
  instances: Instance[],
  cli: (args: string[]) => Promise<string>,
): Promise<void> {
  const plan: Array<{ at: number; run: () => Promise<void> }> = [];
  for (let at = 30; at < SECONDS - 10; at += 60)
    plan.push({
      at,
      run: async () => {
        const end = recorder.begin('key rotation', (PUBLISH_AHEAD_S + 2 * KEY_SYNC_S) * 1000 + GRACE_MS);
        await cli(['keys', 'rotate']);
        end();
        say('keys rotate: next key published');
      },
    });
  const restart = (instance: Instance, signal: NodeJS.Signals, name: string) => async () => {
    const end = recorder.begin(name, GRACE_MS);
    // The stop alone as well: failures there are the shutdown's, not the start's.
    const endStop = recorder.begin(`${name}: stop only`, GRACE_MS);
    const before = clock();
    const code = await instance.stop(signal);
    const stopped = clock();
    endStop(`(${instance.name})`);
    await instance.start();
    const w = end(
      `(${instance.name}: exit ${code ?? signal} after ${((stopped - before) / 1000).toFixed(1)} s, ready ${((clock() - stopped) / 1000).toFixed(1)} s later)`,
    );
    say(`${w.name}`);
  };
  plan.push({ at: Math.round(SECONDS / 3), run: restart(instances[1]!, 'SIGTERM', 'graceful restart') });
  plan.push({ at: Math.round((2 * SECONDS) / 3), run: restart(instances[2]!, 'SIGKILL', 'SIGKILL and restart') });
  plan.sort((a, b) => a.at - b.at);
  const running: Array<Promise<void>> = [];
  for (const step of plan) {
    await untilSecond(step.at);
    running.push(step.run());
  }
  await Promise.all(running);
}

const code = await main().catch((error: Error) => {
  process.stderr.write(`soak failed: ${error.stack ?? error.message}\n`);
  return 1;
});
process.exitCode = code;
// Everything is closed by now; a stray keep-alive handle must not hold the exit up.
setTimeout(() => process.exit(code), 2000).unref();
