// Standard Webhooks signing: the published test vector, then real deliveries to a receiver
// on 127.0.0.1 checked by a verifier written here from the spec (node:crypto HMAC): a
// delivery verifies, a tampered body, timestamp or id, or another key, does not; without a
// secret there is no signature but still webhook-id and webhook-timestamp.
import { test, type TestContext } from 'node:test';
import assert from 'node:assert/strict';
import { randomBytes } from 'node:crypto';
import { buildServer } from '../../src/server.js';
import { loggerOptions } from '../../src/logger.js';
import { listAlerts } from '../../src/db/repositories/alerts.js';
import { signWebhook, webhookHeaders } from '../../src/audit/webhook.js';
import { servicesOf, testConfig, uniqueEmail } from '../helpers/build.js';
import { captureLogs, startWebhookReceiver, verifyStandardWebhook, waitFor } from './helpers.js';

test('signatures match the vector published with the Standard Webhooks libraries', () => {
  const key = Buffer.from('MfKQ9r8GKYqrTwjUPD8ILPZIo2LaLaSw', 'base64');
  assert.equal(
    signWebhook(key, 'msg_p5jXN8AQM9LWM0D4loKWxJek', 1614265330, '{"test": 2432232314}'),
    'v1,g0hM9SsE+OTPJTGt/tmIKtSyZlE3uFJELVlNIOLJ1OE=',
  );
  const headers = webhookHeaders('msg_p5jXN8AQM9LWM0D4loKWxJek', 1614265330, '{"test": 2432232314}', key);
  assert.equal(headers['webhook-signature'], 'v1,g0hM9SsE+OTPJTGt/tmIKtSyZlE3uFJELVlNIOLJ1OE=');
  assert.equal(
    verifyStandardWebhook('whsec_MfKQ9r8GKYqrTwjUPD8ILPZIo2LaLaSw', headers, '{"test": 2432232314}', 1614265330),
    true,
    'the test verifier agrees with the vector',
  );
});

async function start(t: Pick<TestContext, 'after'>, env: Record<string, string>) {
  const logs = captureLogs();
  const config = await testConfig({
    KEY_SYNC_INTERVAL: '300',
    ALERT_CHECK_INTERVAL_MS: '100',
    ALERT_FAILED_LOGINS_PER_ACCOUNT: '1',
    ALERT_FAILED_LOGINS_PER_IP: '0',
    ...env,
  });
  const app = await buildServer(config, { logger: loggerOptions('info', { stream: logs.stream }) });
  await app.ready();
  const services = servicesOf(app, config);
  t.after(() => services.close());
  return { app, services, logs };
}

const failLogin = (app: Awaited<ReturnType<typeof start>>['app']) =>
  app.inject({
    method: 'POST',
    url: '/auth/login',
    payload: { email: uniqueEmail('signed'), password: 'not-the-password-at-all' },
  });

test('a signed delivery verifies with an independent implementation; tampering does not', async (t) => {
  const secret = `whsec_${randomBytes(32).toString('base64')}`;
  const receiver = await startWebhookReceiver();
  t.after(() => receiver.close());
  const { app, services, logs } = await start(t, { ALERT_WEBHOOK_URL: receiver.url(), ALERT_WEBHOOK_SECRET: secret });

  assert.equal((await failLogin(app)).statusCode, 401);
  await services.alerts.check();
  const [delivery] = await waitFor('a delivery', () => receiver.deliveries.length > 0 && receiver.deliveries);
  const { headers, raw, body } = delivery!;

  // webhook-id: the alert's id and its random key, no dot; the timestamp is now, in unix seconds.
  const [stored] = await listAlerts(services.db);
  assert.match(String(headers['webhook-id']), new RegExp(`^alert_${stored!.id}_[0-9a-f]{32}$`));
  assert.match(String(headers['webhook-timestamp']), /^\d{10}$/);
  assert.ok(Math.abs(Number(headers['webhook-timestamp']) - delivery!.at / 1000) < 5);
  assert.match(String(headers['webhook-signature']), /^v1,[A-Za-z0-9+/]{43}=$/);
  assert.equal(body.type, 'alert.raised');
  assert.equal(body.id, stored!.id);
  assert.equal(body.rule, 'failed_logins_account');

  assert.equal(verifyStandardWebhook(secret, headers, raw), true, 'the delivery verifies');
  const tamperedBody = raw.replace('"count":1', '"count":2');
  assert.notEqual(tamperedBody, raw);
  assert.equal(verifyStandardWebhook(secret, headers, tamperedBody), false, 'a changed body');
  const later = String(Number(headers['webhook-timestamp']) + 1);
  assert.equal(verifyStandardWebhook(secret, { ...headers, 'webhook-timestamp': later }, raw), false, 'a changed time');
  assert.equal(
    verifyStandardWebhook(secret, { ...headers, 'webhook-id': `${String(headers['webhook-id'])}0` }, raw),
    false,
    'a changed id',
  );
  assert.equal(
    verifyStandardWebhook(`whsec_${randomBytes(32).toString('base64')}`, headers, raw),
    false,
    'another key',
  );

  // Neither the key nor the URL is logged.
  await waitFor('delivered', async () => (await listAlerts(services.db))[0]!.delivery === 'delivered');
  const key = secret.slice('whsec_'.length);
  assert.equal(
    logs.lines.some((line) => line.includes(key) || line.includes(receiver.url())),
    false,
  );
});

test('without a secret: no signature, still webhook-id and webhook-timestamp', async (t) => {
  const receiver = await startWebhookReceiver();
  t.after(() => receiver.close());
  const { app, services } = await start(t, { ALERT_WEBHOOK_URL: receiver.url() });
  assert.equal((await failLogin(app)).statusCode, 401);
  await services.alerts.check();
  const [delivery] = await waitFor('a delivery', () => receiver.deliveries.length > 0 && receiver.deliveries);
  assert.equal(delivery!.headers['webhook-signature'], undefined);
  assert.match(String(delivery!.headers['webhook-id']), /^alert_\d+_[0-9a-f]{32}$/);
  assert.match(String(delivery!.headers['webhook-timestamp']), /^\d{10}$/);
});

test(
  'production with ALERT_WEBHOOK_URL but no ALERT_WEBHOOK_SECRET warns once at start',
  { skip: !process.env.TEST_DATABASE_URL && 'production needs PostgreSQL' },
  async (t) => {
    const production = { NODE_ENV: 'production', REGISTRATION: 'closed', ISSUER: 'https://id.example.test' };
    const warnings = (logs: ReturnType<typeof captureLogs>) =>
      logs.records().filter((r) => r.event === 'alert_webhook_unsigned');

    const unsigned = await start(t, { ...production, ALERT_WEBHOOK_URL: 'http://127.0.0.1:9/alerts' });
    const [warning, ...more] = warnings(unsigned.logs);
    assert.equal(more.length, 0);
    assert.equal(warning!.level, 40);
    assert.match(String(warning!.msg), /receivers cannot authenticate/);
    assert.equal(
      unsigned.logs.lines.some((line) => line.includes('127.0.0.1:9')),
      false,
      'the URL is not logged',
    );

    const signed = await start(t, {
      ...production,
      ALERT_WEBHOOK_URL: 'http://127.0.0.1:9/alerts',
      ALERT_WEBHOOK_SECRET: `whsec_${randomBytes(32).toString('base64')}`,
    });
    assert.equal(warnings(signed.logs).length, 0);
    const test = await start(t, { ALERT_WEBHOOK_URL: 'http://127.0.0.1:9/alerts' });
    assert.equal(warnings(test.logs).length, 0, 'outside production');
  },
);
