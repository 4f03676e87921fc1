// A receiver that is dead or never answers slows no request and no shutdown: alerts are
// stored and their delivery is tried in the background, with a timeout and bounded retries
// (made due at once here: the real schedule waits seconds to hours between attempts).
import { test, type TestContext } from 'node:test';
import assert from 'node:assert/strict';
import { buildServer } from '../../src/server.js';
import { listAlerts } from '../../src/db/repositories/alerts.js';
import { servicesOf, testConfig, uniqueEmail } from '../helpers/build.js';
import { deadPort, startReceiver, waitFor } from './helpers.js';

async function start(t: Pick<TestContext, 'after'>, env: Record<string, string>) {
  const config = await testConfig({ KEY_SYNC_INTERVAL: '300', ALERT_CHECK_INTERVAL_MS: '100', ...env });
  const app = await buildServer(config);
  await app.ready();
  const services = servicesOf(app, config);
  let closed = false;
  const close = async () => {
    if (closed) return;
    closed = true;
    await services.close();
  };
  t.after(close);
  return { app, services, close };
}

const failLogin = (app: Awaited<ReturnType<typeof start>>['app'], email: string) =>
  app.inject({ method: 'POST', url: '/auth/login', payload: { email, password: 'not-the-password-at-all' } });

/** Median time of n failed logins, each for a new account name, so every one raises an alert. */
async function medianFailureMs(app: Awaited<ReturnType<typeof start>>['app'], n: number): Promise<number> {
  const times: number[] = [];
  for (let i = 0; i < n; i++) {
    const started = process.hrtime.bigint();
    const answer = await failLogin(app, uniqueEmail('dead'));
    times.push(Number(process.hrtime.bigint() - started) / 1e6);
    assert.equal(answer.statusCode, 401);
  }
  times.sort((a, b) => a - b);
  return times[Math.floor(n / 2)]!;
}

test('a dead receiver slows nothing', async (t) => {
  const env = {
    ALERT_FAILED_LOGINS_PER_ACCOUNT: '1',
    ALERT_FAILED_LOGINS_PER_IP: '0',
    ALERT_WEBHOOK_TIMEOUT_MS: '5000',
    ALERT_WEBHOOK_RETRIES: '3',
  };
  const blackhole = await startReceiver('blackhole');
  t.after(() => blackhole.close());
  const closedPort = await deadPort();

  const baseline = await start(t, env);
  await medianFailureMs(baseline.app, 3); // warm up
  const baseMs = await medianFailureMs(baseline.app, 11);
  await baseline.close();

  for (const [name, url] of [
    ['a receiver that never answers', blackhole.url('/never')],
    ['nothing listening', `http://127.0.0.1:${closedPort}/gone`],
  ] as const) {
    await t.test(name, async (st) => {
      const { app, services, close } = await start(st, { ...env, ALERT_WEBHOOK_URL: url });
      const [{ last } = { last: 0 }] = await services.db.query<{ last: number }>(
        'SELECT coalesce(max(id), 0)::int AS last FROM alerts',
      );
      const mine = async () => (await listAlerts(services.db, 1000)).filter((a) => a.id > last);
      await medianFailureMs(app, 3);
      const deadMs = await medianFailureMs(app, 11);
      // Alerts were raised and are being (or were) tried while the logins ran.
      const raised = await waitFor('alerts raised', async () => {
        await services.alerts.check();
        const alerts = await mine();
        return alerts.length >= 14 ? alerts : undefined;
      });
      st.diagnostic(
        `median failed login: ${baseMs.toFixed(1)} ms without a webhook, ${deadMs.toFixed(1)} ms with ${name}; ${raised.length} alerts raised`,
      );
      // A login that waited for the delivery would take the webhook timeout (5 s) or the
      // retry backoff; the bound is loose so a loaded machine's noise cannot fail it (the
      // figures themselves are the diagnostic above).
      assert.ok(
        deadMs < Math.max(baseMs * 3, baseMs + 500),
        `logins slowed: ${deadMs.toFixed(1)} ms against ${baseMs.toFixed(1)} ms`,
      );

      if (name === 'a receiver that never answers') {
        await waitFor('deliveries hanging', () => blackhole.received.length >= 5);
        assert.equal((await mine()).filter((a) => a.delivery === 'delivered').length, 0);
      } else {
        // Refused connections are retried, then marked failed after the last retry.
        await waitFor(
          'deliveries given up',
          async () => {
            await services.db.query(
              `UPDATE alerts SET next_attempt_at = now() WHERE delivery = 'pending' AND claimed_until IS NULL`,
            );
            services.alerts.webhook.nudge();
            return (await mine()).some((a) => a.delivery === 'failed' && a.delivery_attempts === 4);
          },
          15_000,
        );
        const failed = (await mine()).filter((a) => a.delivery === 'failed');
        assert.ok(failed.every((a) => a.delivery_attempts === 4 && a.delivery_error === 'ECONNREFUSED'));
      }
      // Shutting down does not wait for the receiver: deliveries in flight are aborted.
      const closing = Date.now();
      await close();
      const closeMs = Date.now() - closing;
      st.diagnostic(`closed in ${closeMs} ms with deliveries in flight`);
      assert.ok(closeMs < 1500, `close took ${closeMs} ms`);
    });
  }
});
