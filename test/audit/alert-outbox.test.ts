// The alert delivery queue with real receivers on 127.0.0.1 and real delivery workers on
// this file's database (the app's own worker is off: no ALERT_WEBHOOK_URL): retries keep
// the webhook-id and refresh the timestamp, a 4xx or a redirect is final, a hanging
// receiver times out and is retried, 1000 alerts are all delivered with bounded
// concurrency, closing gives claims back, an expired lease is claimed again, and two
// workers (two connections on PostgreSQL) deliver 200 alerts exactly once between them.
import { test, type TestContext } from 'node:test';
import assert from 'node:assert/strict';
import { Database, type Queryable } from '../../src/db/database.js';
import {
  claimDueAlerts,
  insertAlert,
  listAlerts,
  recordAttempt,
  type AlertRow,
} from '../../src/db/repositories/alerts.js';
import { AlertDelivery, type AlertDeliveryOptions } from '../../src/audit/alert-delivery.js';
import { build, uniqueEmail } from '../helpers/build.js';
import { startWebhookReceiver, waitFor } from './helpers.js';

const built = async (t: TestContext) => build(t, { KEY_SYNC_INTERVAL: '300' });

/** A log that keeps what the worker says. */
function recordingLog() {
  const records: { level: string; obj: Record<string, unknown> }[] = [];
  const at = (level: string) => (obj: object) => void records.push({ level, obj: obj as Record<string, unknown> });
  return { records, info: at('info'), warn: at('warn'), error: at('error') };
}

function worker(
  t: Pick<TestContext, 'after'>,
  db: Database,
  url: string,
  options: AlertDeliveryOptions & { timeoutMs?: number; retries?: number } = {},
) {
  const log = recordingLog();
  const delivery = new AlertDelivery(
    db,
    {
      webhook: { url, secret: undefined, timeoutMs: options.timeoutMs ?? 2000, retries: options.retries ?? 8 },
      pollIntervalMs: 100,
      issuer: 'http://localhost:3000',
      dedupWindowSeconds: 3600,
    },
    log,
    { retryDelayMs: () => 50, ...options },
  );
  t.after(() => delivery.close());
  return { delivery, log };
}

/** n pending alerts, committed together (as the rules' transaction does). */
async function queue(db: Database, n: number): Promise<AlertRow[]> {
  return db.transaction(async (tx: Queryable) => {
    const rows: AlertRow[] = [];
    for (let i = 0; i < n; i++) {
      rows.push(
        await insertAlert(tx, {
          rule: 'failed_logins_account',
          subject: uniqueEmail('outbox'),
          severity: 'warning',
          summary: 'test alert',
          count: 1,
          seenAt: new Date(),
          firstEventId: 1,
          lastEventId: 1,
          detail: {},
          delivery: 'pending',
        }),
      );
    }
    return rows;
  });
}

const stored = async (db: Database, id: number) => (await listAlerts(db, 10_000)).find((a) => a.id === id)!;
const settled = (db: Database, id: number) =>
  waitFor(
    `alert ${id} settled`,
    async () => {
      const alert = await stored(db, id);
      return alert.delivery !== 'pending' && alert;
    },
    30_000,
  );

test('500 twice then 200: delivered once, attempts 3, one webhook-id, a fresh timestamp each time', async (t) => {
  const { services } = await built(t);
  const receiver = await startWebhookReceiver((_id, nth) => (nth <= 2 ? 500 : 200));
  t.after(() => receiver.close());
  // Over a second apart, so each attempt's timestamp (unix seconds) is its own.
  const { delivery, log } = worker(t, services.db, receiver.url(), { retryDelayMs: () => 1100 });
  const [alert] = await queue(services.db, 1);
  delivery.start();

  const done = await settled(services.db, alert!.id);
  assert.equal(done.delivery, 'delivered');
  assert.equal(done.delivery_attempts, 3);
  assert.ok(done.delivered_at);
  assert.equal(done.delivery_error, null);
  const attempts = receiver.deliveries;
  assert.equal(attempts.length, 3);
  const ids = new Set(attempts.map((a) => a.headers['webhook-id']));
  assert.equal(ids.size, 1, 'the same webhook-id on every attempt');
  assert.equal(receiver.accepted.get([...ids][0] as string), 1);
  const stamps = attempts.map((a) => Number(a.headers['webhook-timestamp']));
  assert.ok(stamps[0]! < stamps[1]! && stamps[1]! < stamps[2]!, `fresh timestamps: ${stamps.join(', ')}`);
  for (const a of attempts) assert.ok(Math.abs(Number(a.headers['webhook-timestamp']) - a.at / 1000) < 3);
  const retries = log.records.filter((r) => r.obj.event === 'alert_delivery_retry');
  assert.deepEqual(
    retries.map((r) => r.obj.error),
    ['HTTP 500', 'HTTP 500'],
  );
});

test('400: failed at once, no retry; 302: not followed, failed', async (t) => {
  const { services } = await built(t);
  const [refused, redirected] = await queue(services.db, 2);
  const receiver = await startWebhookReceiver((_id, _nth, body) => (body.id === refused!.id ? 400 : 302));
  t.after(() => receiver.close());
  const { delivery } = worker(t, services.db, receiver.url());
  delivery.start();

  const a = await settled(services.db, refused!.id);
  assert.equal(a.delivery, 'failed');
  assert.equal(a.delivery_attempts, 1);
  assert.equal(a.delivery_error, 'HTTP 400');
  const b = await settled(services.db, redirected!.id);
  assert.equal(b.delivery, 'failed');
  assert.equal(b.delivery_attempts, 1);
  assert.equal(b.delivery_error, 'HTTP 302');
  // Nothing more comes, and the redirect's target was never asked.
  await new Promise((r) => setTimeout(r, 500));
  await delivery.idle();
  assert.equal(receiver.deliveries.length, 2);
  assert.equal(
    receiver.deliveries.some((d) => d.path === '/followed'),
    false,
  );
});

test('a receiver that hangs: the attempt times out and is retried', async (t) => {
  const { services } = await built(t);
  const receiver = await startWebhookReceiver((_id, nth) => (nth === 1 ? 'hang' : 204));
  t.after(() => receiver.close());
  const { delivery, log } = worker(t, services.db, receiver.url(), { timeoutMs: 300 });
  const [alert] = await queue(services.db, 1);
  delivery.start();

  const done = await settled(services.db, alert!.id);
  assert.equal(done.delivery, 'delivered');
  assert.equal(done.delivery_attempts, 2);
  assert.deepEqual(
    receiver.deliveries.map((d) => d.answer),
    ['hang', 204],
  );
  const retry = log.records.find((r) => r.obj.event === 'alert_delivery_retry');
  assert.equal(retry?.obj.error, 'timeout');
});

test('a retryable failure past the last retry is failed with the last error', async (t) => {
  const { services } = await built(t);
  const receiver = await startWebhookReceiver((_id, nth) => (nth === 1 ? 503 : 429));
  t.after(() => receiver.close());
  const { delivery } = worker(t, services.db, receiver.url(), { retries: 2 });
  const [alert] = await queue(services.db, 1);
  delivery.start();
  const done = await settled(services.db, alert!.id);
  assert.equal(done.delivery, 'failed');
  assert.equal(done.delivery_attempts, 3);
  assert.equal(done.delivery_error, 'HTTP 429');
  assert.equal(receiver.deliveries.length, 3);
});

test('1000 alerts at once: all delivered, once each, at most 8 in flight', async (t) => {
  const { services } = await built(t);
  const receiver = await startWebhookReceiver(() => 204, { delayMs: 5 });
  t.after(() => receiver.close());
  const { delivery } = worker(t, services.db, receiver.url());
  const alerts = await queue(services.db, 1000);
  delivery.start();
  delivery.nudge();
  await waitFor('all delivered', () => receiver.accepted.size === 1000, 120_000);
  await delivery.idle();
  assert.equal(receiver.deliveries.length, 1000, 'no alert sent twice');
  assert.ok([...receiver.accepted.values()].every((n) => n === 1));
  t.diagnostic(`at most ${receiver.maxInFlight} in flight`);
  assert.ok(receiver.maxInFlight <= 8, `${receiver.maxInFlight} in flight`);
  assert.ok(receiver.maxInFlight > 1, 'deliveries run side by side');
  const mine = new Set(alerts.map((a) => a.id));
  const rows = (await listAlerts(services.db, 10_000)).filter((a) => mine.has(a.id));
  assert.equal(rows.filter((a) => a.delivery === 'delivered' && a.delivery_attempts === 1).length, 1000);
});

test('closing aborts the attempt in flight and gives the claim back; another worker sends it at once', async (t) => {
  const { services } = await built(t);
  let up = false;
  const receiver = await startWebhookReceiver(() => (up ? 204 : 'hang'));
  t.after(() => receiver.close());
  const first = worker(t, services.db, receiver.url(), { timeoutMs: 30_000 });
  const [alert] = await queue(services.db, 1);
  first.delivery.start();
  await waitFor('the attempt hangs', () => receiver.deliveries.length === 1);
  const closing = Date.now();
  await first.delivery.close();
  assert.ok(Date.now() - closing < 5000, 'close does not wait for the receiver');
  const [row] = await services.db.query<{ delivery: string; delivery_attempts: number; claimed_until: Date | null }>(
    'SELECT delivery, delivery_attempts, claimed_until FROM alerts WHERE id = $1',
    [alert!.id],
  );
  assert.deepEqual(row, { delivery: 'pending', delivery_attempts: 0, claimed_until: null }, 'released, not counted');

  up = true;
  const second = worker(t, services.db, receiver.url());
  second.delivery.start();
  const done = await settled(services.db, alert!.id);
  assert.equal(done.delivery, 'delivered');
  assert.equal(done.delivery_attempts, 1);
  assert.equal(receiver.accepted.get(String(receiver.deliveries[0]!.headers['webhook-id'])), 1);
});

test('a claim whose lease ran out (its instance died) is claimed again; the dead claim decides nothing', async (t) => {
  const { services } = await built(t);
  const receiver = await startWebhookReceiver();
  t.after(() => receiver.close());
  const [alert] = await queue(services.db, 1);
  // What an instance does just before it dies: claim the row.
  const [dead] = await claimDueAlerts(services.db, 10, 3600);
  assert.equal(dead!.id, alert!.id);
  const { delivery } = worker(t, services.db, receiver.url());
  delivery.start();
  await new Promise((r) => setTimeout(r, 500));
  await delivery.idle();
  assert.equal(receiver.deliveries.length, 0, 'not taken over while the lease lasts');

  await services.db.query('UPDATE alerts SET claimed_until = now() WHERE id = $1', [alert!.id]);
  const done = await settled(services.db, alert!.id);
  assert.equal(done.delivery, 'delivered');
  assert.equal(receiver.deliveries.length, 1);
  // The dead instance's late outcome changes nothing.
  assert.equal(
    await recordAttempt(services.db, { id: dead!.id, token: dead!.claim_token }, { outcome: 'failed', error: 'late' }),
    false,
  );
  assert.equal((await stored(services.db, alert!.id)).delivery, 'delivered');
});

test('two workers on one database: 200 alerts, each delivered exactly once, both taking part', async (t) => {
  const { services, config } = await built(t);
  // On PostgreSQL the second worker has a connection pool of its own, like another instance.
  const other =
    config.database.kind === 'postgres' ? await Database.connect(config.database, { poolSize: 4 }) : services.db;
  if (other !== services.db) t.after(() => other.close());
  const receiver = await startWebhookReceiver(() => 204, { delayMs: 10 });
  t.after(() => receiver.close());
  const alerts = await queue(services.db, 200);
  const a = worker(t, services.db, receiver.url());
  const b = worker(t, other, receiver.url());
  a.delivery.start();
  b.delivery.start();
  await waitFor('all delivered', () => receiver.accepted.size === 200, 60_000);
  await Promise.all([a.delivery.idle(), b.delivery.idle()]);

  const ids = receiver.deliveries.map((d) => String(d.headers['webhook-id']));
  assert.equal(ids.length, 200, 'no webhook-id twice');
  assert.equal(new Set(ids).size, 200);
  const by = (w: ReturnType<typeof recordingLog>) => w.records.filter((r) => r.obj.event === 'alert_delivered').length;
  t.diagnostic(`first worker ${by(a.log)}, second ${by(b.log)}`);
  assert.equal(by(a.log) + by(b.log), 200);
  assert.ok(by(a.log) > 0 && by(b.log) > 0, 'both claimed some');
  const mine = new Set(alerts.map((x) => x.id));
  const rows = (await listAlerts(services.db, 10_000)).filter((x) => mine.has(x.id));
  assert.ok(rows.every((x) => x.delivery === 'delivered' && x.delivery_attempts === 1));
});

test('without ALERT_WEBHOOK_URL an alert is not_configured and never queued', async (t) => {
  const { app, services } = await build(t, {
    KEY_SYNC_INTERVAL: '300',
    ALERT_FAILED_LOGINS_PER_ACCOUNT: '1',
    ALERT_FAILED_LOGINS_PER_IP: '0',
  });
  const [before] = await listAlerts(services.db, 1);
  const answer = await app.inject({
    method: 'POST',
    url: '/auth/login',
    payload: { email: uniqueEmail('unset'), password: 'not-the-password-at-all' },
  });
  assert.equal(answer.statusCode, 401);
  const alert = await waitFor('the alert', async () => {
    await services.alerts.check();
    const [newest] = await listAlerts(services.db, 1);
    return newest && newest.id !== before?.id && newest;
  });
  assert.equal(alert.delivery, 'not_configured');
  const [row] = await services.db.query<{ next_attempt_at: Date | null }>(
    'SELECT next_attempt_at FROM alerts WHERE id = $1',
    [alert.id],
  );
  assert.equal(row!.next_attempt_at, null);
});

test('closing the app gives its claims back before the database closes', async (t) => {
  const receiver = await startWebhookReceiver(() => 'hang');
  t.after(() => receiver.close());
  const first = await build(t, {
    KEY_SYNC_INTERVAL: '300',
    ALERT_WEBHOOK_URL: receiver.url(),
    ALERT_WEBHOOK_TIMEOUT_MS: '30000',
  });
  const [alert] = await queue(first.services.db, 1);
  first.services.alerts.webhook.nudge();
  await waitFor('the attempt hangs', () => receiver.deliveries.some((d) => d.body.id === alert!.id));
  await first.services.close();

  // The same database, opened again.
  const second = await built(t);
  const [row] = await second.services.db.query<{ claimed_until: Date | null; delivery_attempts: number }>(
    'SELECT claimed_until, delivery_attempts FROM alerts WHERE id = $1',
    [alert!.id],
  );
  assert.deepEqual(row, { claimed_until: null, delivery_attempts: 0 });
});
