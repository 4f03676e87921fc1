// kill -9 of one of two instances in the middle of load (PostgreSQL only: instances share
// it): every refresh chain goes on at the other instance (a lost answer is recovered within
// REFRESH_REUSE_GRACE), no committed session is lost, the audit log still verifies, and a
// mail the dead instance queued is delivered by the one that is up.
import assert from 'node:assert/strict';
import { test } from 'node:test';
import { setTimeout as sleep } from 'node:timers/promises';
import { GOOD_PASSWORD, uniqueEmail } from '../helpers/build.js';
import { tessera } from '../helpers/cli.js';
import { instanceEnv, startInstance, type Instance } from '../helpers/instances.js';
import { startSmtp } from '../helpers/smtp.js';

const CHAINS = 20;

async function call(instance: Instance, path: string, init: RequestInit): Promise<Response> {
  return fetch(`${instance.url}${path}`, { ...init, signal: AbortSignal.timeout(10_000) });
}

function refreshAt(instance: Instance, token: string): Promise<Response> {
  return call(instance, '/oauth/token', {
    method: 'POST',
    headers: { 'content-type': 'application/x-www-form-urlencoded' },
    body: new URLSearchParams({ grant_type: 'refresh_token', refresh_token: token }).toString(),
  });
}

test(
  'kill -9 under load: no session lost, the audit log verifies, queued mail is delivered by the survivor',
  { skip: !process.env.TEST_DATABASE_URL && 'instances share a PostgreSQL database' },
  async (t) => {
    const smtp = await startSmtp();
    t.after(() => smtp.stop());
    const env = await instanceEnv({ SMTP_URL: smtp.url(), SMTP_TIMEOUT_MS: '1000', MAIL_POLL_INTERVAL_MS: '200' });
    const adminEmail = uniqueEmail('crash-admin');
    const created = await tessera(['users', 'create', '--email', adminEmail, '--role', 'admin'], {
      env,
      stdin: GOOD_PASSWORD,
    });
    assert.equal(created.code, 0, created.stderr);

    const [a, b] = await Promise.all([startInstance(t, env), startInstance(t, env)]);
    const json = (instance: Instance, path: string, body: unknown, headers: Record<string, string> = {}) =>
      call(instance, path, {
        method: 'POST',
        headers: { 'content-type': 'application/json', ...headers },
        body: JSON.stringify(body),
      });

    const email = uniqueEmail('crash');
    assert.equal((await json(a, '/users', { email, password: GOOD_PASSWORD })).status, 201);
    const chains: string[] = [];
    for (let i = 0; i < CHAINS; i += 1) {
      const res = await json(i % 2 ? b : a, '/auth/login', { email, password: GOOD_PASSWORD });
      assert.equal(res.status, 200);
      chains.push(((await res.json()) as { refresh_token: string }).refresh_token);
    }
    const admin = (await (await json(a, '/auth/login', { email: adminEmail, password: GOOD_PASSWORD })).json()) as {
      access_token: string;
    };
    const me = (await (
      await call(a, '/users/me', { headers: { authorization: `Bearer ${admin.access_token}` } })
    ).json()) as {
      id: string;
    };

    // A mail queued by the instance about to die, while the SMTP server is down.
    await smtp.stop();
    const reset = await call(a, `/admin/users/${me.id}/password-reset`, {
      method: 'POST',
      headers: { authorization: `Bearer ${admin.access_token}` },
    });
    assert.equal(reset.status, 202);

    // Load on both; instance a is killed while refreshes are in flight on it.
    let killed = false;
    const lostAnswers = { count: 0 };
    const failures: string[] = [];
    const drive = async (i: number) => {
      for (let round = 0; round < 12; round += 1) {
        const target = (round + i) % 2 === 0 && !killed ? a : b;
        let res: Response;
        try {
          res = await refreshAt(target, chains[i]!);
        } catch {
          // The answer was lost with the instance: present the same token at the survivor,
          // which gives the successor the dead one may have committed (or rotates now).
          lostAnswers.count += 1;
          res = await refreshAt(b, chains[i]!);
        }
        if (res.status !== 200) {
          failures.push(`chain ${i} round ${round}: ${res.status} ${await res.text()}`);
          return;
        }
        chains[i] = ((await res.json()) as { refresh_token: string }).refresh_token;
      }
    };
    const load = Promise.all(chains.map((_, i) => drive(i)));
    await sleep(150);
    killed = true;
    assert.equal(await a.stop('SIGKILL'), null, 'killed by the signal');
    await load;
    assert.deepEqual(failures, [], 'every chain went on at the survivor');
    t.diagnostic(`answers lost with the killed instance: ${lostAnswers.count}`);

    // Every chain still refreshes: nothing committed was lost, nothing half-done burnt a token.
    for (const token of chains) assert.equal((await refreshAt(b, token)).status, 200);

    // The queued mail is delivered by the survivor once the SMTP server is back (after the
    // dead instance's lease or its retry delay, well within a minute).
    await smtp.restart();
    const mail = await smtp.waitFor(adminEmail, { kind: 'password_reset', timeoutMs: 90_000 });
    assert.match(mail.text, /\/account\/password-reset\/confirm\?token=/);
    assert.equal(smtp.received.filter((m) => m.to.includes(adminEmail)).length, 1, 'delivered once');

    // Give the survivor a sealing pass, then the audit log verifies as a whole.
    await sleep(1500);
    const verify = await tessera(['audit', 'verify'], { env });
    assert.equal(verify.code, 0, verify.stderr);
    assert.equal((JSON.parse(verify.stdout) as { ok: boolean }).ok, true);
  },
);
