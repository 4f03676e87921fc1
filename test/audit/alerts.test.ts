// Alerts end to end with a real HTTP receiver on 127.0.0.1: a flood of failed logins is
// one alert with a count, a refresh reuse is one alert, each is stored and logged at
// warn; a receiver that is dead or never answers slows no request and no shutdown.
import { test, type TestContext } from 'node:test';
import assert from 'node:assert/strict';
import { buildServer } from '../../src/server.js';
import { loggerOptions } from '../../src/logger.js';
import { listAlerts } from '../../src/db/repositories/alerts.js';
import { refresh, registerAndLogin, servicesOf, testConfig, uniqueEmail } from '../helpers/build.js';
import { captureLogs, startReceiver } from './helpers.js';

async function start(t: Pick<TestContext, 'after'>, env: Record<string, string>) {
  const logs = captureLogs();
  const config = await testConfig({ KEY_SYNC_INTERVAL: '300', ALERT_CHECK_INTERVAL_MS: '100', ...env });
  // The alert engine logs through the app's logger.
  const app = await buildServer(config, { logger: loggerOptions('info', { stream: logs.stream }) });
  await app.ready();
  const services = servicesOf(app, config);
  let closed = false;
  const close = async () => {
    if (closed) return;
    closed = true;
    await services.close();
  };
  t.after(close);
  return { app, services, config, logs, close };
}

const failLogin = (app: Awaited<ReturnType<typeof start>>['app'], email: string) =>
  app.inject({ method: 'POST', url: '/auth/login', payload: { email, password: 'not-the-password-at-all' } });

/** Runs the rules until every recorded event is read, then waits for deliveries. */
async function settle(services: Awaited<ReturnType<typeof start>>['services']) {
  await services.alerts.check();
  await services.alerts.webhook.idle();
  // Give the background timer a few more passes: nothing new may arrive.
  await new Promise((r) => setTimeout(r, 400));
  await services.alerts.webhook.idle();
}

test('alerts reach a real receiver, deduplicated', async (t) => {
  const receiver = await startReceiver();
  t.after(() => receiver.close());
  const secretPath = '/hooks/alert-path-secret-9f3a';
  const { app, services, logs } = await start(t, {
    ALERT_WEBHOOK_URL: receiver.url(secretPath),
    ALERT_FAILED_LOGINS_PER_ACCOUNT: '5',
    // One flood against one account is one alert here; the per-IP rule has its own test below.
    ALERT_FAILED_LOGINS_PER_IP: '100000',
    REFRESH_REUSE_GRACE: '0',
  });
  const ofRule = (rule: string) => receiver.received.filter((r) => r.body.rule === rule);

  await t.test('a flood of failed logins against one account: exactly one alert, with a count', async () => {
    const { email } = await registerAndLogin(app);
    const started = Date.now();
    for (let round = 0; round < 10; round++) {
      const answers = await Promise.all(Array.from({ length: 4 }, () => failLogin(app, email)));
      for (const answer of answers) assert.equal(answer.statusCode, 401);
    }
    t.diagnostic(`40 failed logins in ${Date.now() - started} ms`);
    await settle(services);

    const alerts = ofRule('failed_logins_account');
    assert.equal(alerts.length, 1, `one alert, got ${JSON.stringify(receiver.received.map((r) => r.body))}`);
    const [alert] = alerts;
    assert.equal(alert!.headers['content-type'], 'application/json');
    assert.equal(alert!.body.severity, 'warning');
    assert.ok(Number(alert!.body.count) >= 5, 'the count at the time it was raised');
    assert.match(String(alert!.body.summary), /failed password checks for one account name within 900 s/);
    assert.equal(alert!.body.issuer, 'http://localhost:3000');
    assert.equal(
      JSON.stringify(alert!.body).includes(email),
      false,
      'the account is named by a keyed hash, not its address',
    );

    // Stored once, with the whole flood counted, and marked delivered.
    const stored = (await listAlerts(services.db)).filter((a) => a.rule === 'failed_logins_account');
    assert.equal(stored.length, 1);
    assert.equal(stored[0]!.count, 40);
    assert.equal(stored[0]!.delivery, 'delivered');
    assert.equal(stored[0]!.delivery_attempts, 1);

    // Logged at warn, as JSON, without the webhook's URL (it can hold a secret).
    const warned = logs.records().filter((r) => r.event === 'security_alert');
    assert.equal(warned.length, 1);
    assert.equal(warned[0]!.level, 40);
    assert.equal(
      logs.lines.some((line) => line.includes(secretPath)),
      false,
    );
  });

  await t.test('a refresh token reuse: exactly one alert', async () => {
    const { tokens } = await registerAndLogin(app);
    const rotated = await refresh(app, tokens.refresh_token);
    assert.equal(rotated.statusCode, 200);
    const replay = await refresh(app, tokens.refresh_token);
    assert.equal(replay.statusCode, 400);
    assert.equal(replay.json().error, 'invalid_grant');
    // The session is over: the stolen token and the good one both fail, without new alerts.
    assert.equal((await refresh(app, tokens.refresh_token)).statusCode, 400);
    assert.equal((await refresh(app, rotated.json().refresh_token)).statusCode, 400);
    await settle(services);

    const alerts = ofRule('refresh_reuse');
    assert.equal(alerts.length, 1);
    assert.equal(alerts[0]!.body.severity, 'critical');
    const [event] = await services.db.query<{ session_id: string; user_id: string }>(
      `SELECT session_id, user_id FROM security_events WHERE type = 'refresh_reuse'`,
    );
    assert.deepEqual(alerts[0]!.body.detail, {
      user_id: event!.user_id,
      session_id: event!.session_id,
      ip: '127.0.0.1',
    });
  });

  await t.test('failed logins spread over accounts from one IP feed the per-IP rule', async () => {
    const { services: s2, app: app2 } = await start(t, {
      ALERT_WEBHOOK_URL: receiver.url('/ip'),
      ALERT_FAILED_LOGINS_PER_ACCOUNT: '0',
      ALERT_FAILED_LOGINS_PER_IP: '8',
    });
    for (let i = 0; i < 12; i++) assert.equal((await failLogin(app2, uniqueEmail('spray'))).statusCode, 401);
    await settle(s2);
    const alerts = ofRule('failed_logins_ip');
    assert.equal(alerts.length, 1);
    assert.deepEqual((alerts[0]!.body.detail as { ip: string }).ip, '127.0.0.1');
  });
});
