// kill -9 of an instance while it holds a claim on an alert delivery (PostgreSQL only: the
// instances share it): the receiver hangs, so the attempt is in flight when the process
// dies; a second instance started on the same database claims the row once the dead
// one's lease ran out and delivers it, signed, once, under the same webhook-id.
import assert from 'node:assert/strict';
import { randomBytes } from 'node:crypto';
import { test } from 'node:test';
import { uniqueEmail } from '../helpers/build.js';
import { cliEnv, withDb } from '../helpers/cli.js';
import { startInstance } from '../helpers/instances.js';
import { startWebhookReceiver, verifyStandardWebhook, waitFor } from '../audit/helpers.js';

test(
  'an instance killed mid-delivery: the alert is delivered once by the next instance',
  { skip: !process.env.TEST_DATABASE_URL && 'instances share a PostgreSQL database' },
  async (t) => {
    let up = false;
    const receiver = await startWebhookReceiver(() => (up ? 204 : 'hang'));
    t.after(() => receiver.close());
    const secret = `whsec_${randomBytes(32).toString('base64')}`;
    const env = await cliEnv({
      ALERT_WEBHOOK_URL: receiver.url(),
      ALERT_WEBHOOK_SECRET: secret,
      // The lease is this plus 30 s: the survivor takes over within about 35 s.
      ALERT_WEBHOOK_TIMEOUT_MS: '5000',
      ALERT_CHECK_INTERVAL_MS: '200',
      ALERT_FAILED_LOGINS_PER_ACCOUNT: '1',
      ALERT_FAILED_LOGINS_PER_IP: '0',
      CAPTCHA_PROVIDER: 'none',
      LOGIN_DELAY_MAX_MS: '0',
      EMAIL_VERIFICATION: 'off',
    });

    const a = await startInstance(t, env);
    const login = await fetch(`${a.url}/auth/login`, {
      method: 'POST',
      headers: { 'content-type': 'application/json' },
      body: JSON.stringify({ email: uniqueEmail('crash-alert'), password: 'not-the-password-at-all' }),
      signal: AbortSignal.timeout(10_000),
    });
    assert.equal(login.status, 401);
    const [hung] = await waitFor(
      'the attempt in flight',
      () => receiver.deliveries.length > 0 && receiver.deliveries,
      30_000,
    );
    const id = String(hung!.headers['webhook-id']);
    const claimed = await withDb(env, (db) =>
      db.query<{ delivery: string; claimed: boolean }>(
        `SELECT delivery, claimed_until > now() AS claimed FROM alerts WHERE id = $1`,
        [hung!.body.id],
      ),
    );
    assert.deepEqual(claimed, [{ delivery: 'pending', claimed: true }], 'claimed while it is sent');
    assert.equal(await a.stop('SIGKILL'), null, 'killed by the signal');

    up = true;
    await startInstance(t, env);
    await waitFor('delivered by the second instance', () => receiver.accepted.get(id) === 1, 90_000);
    // Nothing more arrives for it.
    await new Promise((r) => setTimeout(r, 1500));
    const attempts = receiver.of(id);
    assert.equal(attempts.length, 2, 'the hung attempt and the delivery');
    assert.equal(receiver.accepted.get(id), 1, 'exactly one accepted delivery per webhook-id');
    assert.equal(receiver.accepted.size, 1);
    const delivered = attempts[1]!;
    assert.equal(verifyStandardWebhook(secret, delivered.headers, delivered.raw), true);
    assert.equal(delivered.body.id, hung!.body.id);
    const [row] = await withDb(env, (db) =>
      db.query<{ delivery: string; delivery_attempts: number }>(
        'SELECT delivery, delivery_attempts FROM alerts WHERE id = $1',
        [hung!.body.id],
      ),
    );
    // The killed attempt never finished, so it is not counted.
    assert.deepEqual(row, { delivery: 'delivered', delivery_attempts: 1 });
  },
);
