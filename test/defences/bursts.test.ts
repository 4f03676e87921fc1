// Parallel bursts of wrong passwords, as an attacker fires them: at login and at password
// change, from one IP and from several, on this file's database engine, on Redis and on
// two instances. The number of password checks that ran is read from the audit log and
// never exceeds the captcha thresholds; the real user still gets in with a solved captcha.
import { test, type TestContext } from 'node:test';
import assert from 'node:assert/strict';
import { randomBytes } from 'node:crypto';
import { Redis } from 'ioredis';
import { build, uniqueEmail, GOOD_PASSWORD, type Built } from '../helpers/build.js';
import { startSiteverify } from '../helpers/siteverify-stand-in.js';

const REDIS_URL = process.env.TEST_REDIS_URL ?? 'redis://127.0.0.1:6379';
const onPostgres = Boolean(process.env.TEST_DATABASE_URL);
const twoInstances = !onPostgres && 'two instances in one process need PostgreSQL (TEST_DATABASE_URL)';
const AFTER = 3;
const AFTER_IP = 20;

async function setup(t: TestContext, { instances = 1, redis = false }: { instances?: number; redis?: boolean } = {}) {
  // Each test its own answer: answers are single-use, and the store of used ones is shared.
  const goodAnswer = `good-answer-${randomBytes(6).toString('hex')}`;
  const siteverify = await startSiteverify({ goodAnswer });
  t.after(() => siteverify.close());
  const env: Record<string, string> = {
    CAPTCHA_PROVIDER: 'hcaptcha',
    CAPTCHA_SECRET: 'test-secret',
    CAPTCHA_SITEKEY: 'test-sitekey',
    CAPTCHA_VERIFY_URL: siteverify.url,
    CAPTCHA_AFTER_FAILURES: String(AFTER),
    CAPTCHA_AFTER_IP_FAILURES: String(AFTER_IP),
    HASH_QUEUE: '200',
  };
  if (redis) {
    env.REDIS_URL = REDIS_URL;
    env.REDIS_PREFIX = `tessera-test-${randomBytes(4).toString('hex')}:`;
    t.after(async () => {
      const client = new Redis(REDIS_URL, { maxRetriesPerRequest: 1 });
      const keys = await client.keys(`${env.REDIS_PREFIX}*`);
      if (keys.length) await client.del(...keys);
      client.disconnect();
    });
  }
  const apps: Built[] = [];
  for (let i = 0; i < instances; i++) apps.push(await build(t, env));
  return { apps, first: apps[0]!, goodAnswer };
}

async function register(built: Built, email = uniqueEmail('burst')): Promise<{ email: string; id: string }> {
  const res = await built.app.inject({ method: 'POST', url: '/users', payload: { email, password: GOOD_PASSWORD } });
  assert.equal(res.statusCode, 201, res.body);
  const [row] = await built.services.db.query<{ id: string }>('SELECT id FROM users WHERE email = $1', [email]);
  return { email, id: row!.id };
}

const login = (built: Built, email: string, password: string, ip = '127.0.0.1', captcha_token?: string) =>
  built.app.inject({
    method: 'POST',
    url: '/auth/login',
    remoteAddress: ip,
    payload: { email, password, ...(captcha_token ? { captcha_token } : {}) },
  });

/** Password checks that ran for one account name, as the audit log has them. */
async function checksFor(built: Built, email: string): Promise<number> {
  const account = built.services.credentialGuard.keysFor(email, '0.0.0.0').account;
  const [row] = await built.services.db.query<{ n: number }>(
    `SELECT count(*)::int AS n FROM security_events
      WHERE type IN ('login_failure', 'login_success', 'password_change_failure') AND detail->>'account' = $1`,
    [account],
  );
  return row!.n;
}

async function checksFromIp(built: Built, ip: string): Promise<number> {
  const [row] = await built.services.db.query<{ n: number }>(
    `SELECT count(*)::int AS n FROM security_events WHERE type IN ('login_failure', 'login_success', 'password_change_failure') AND ip = $1`,
    [ip],
  );
  return row!.n;
}

const tally = (responses: { statusCode: number; json(): { error?: string } }[]) => {
  const out: Record<string, number> = {};
  for (const r of responses) {
    const key = r.statusCode === 200 || r.statusCode === 204 ? 'ok' : String(r.json().error);
    out[key] = (out[key] ?? 0) + 1;
  }
  return out;
};

/** 30 wrong passwords at once on the given instances, then a burst holding the right one. */
async function loginBurst(t: TestContext, apps: Built[], goodAnswer: string, ips: string[]) {
  const first = apps[0]!;
  const { email } = await register(first);
  const wrong = await Promise.all(
    Array.from({ length: 30 }, (_, i) =>
      login(apps[i % apps.length]!, email, `wrong-password-${i}`, ips[i % ips.length]),
    ),
  );
  t.diagnostic(
    `30 wrong passwords over ${apps.length} instance(s) and ${ips.length} IP(s): ${JSON.stringify(tally(wrong))}`,
  );
  assert.equal(await checksFor(first, email), AFTER, 'password checks that ran for the account');
  assert.equal(wrong.filter((r) => r.json().error === 'invalid_credentials').length, AFTER);
  assert.equal(wrong.filter((r) => r.json().error === 'captcha_required').length, 30 - AFTER);

  // The right password inside a second burst: the threshold is reached, so a captcha first.
  const second = await Promise.all([
    ...Array.from({ length: 10 }, (_, i) =>
      login(apps[i % apps.length]!, email, `wrong-again-${i}`, ips[i % ips.length]),
    ),
    login(apps.at(-1)!, email, GOOD_PASSWORD, ips[0]),
  ]);
  assert.deepEqual(tally(second), { captcha_required: 11 });
  assert.equal(await checksFor(first, email), AFTER, 'still no more checks than the threshold');

  // The real user solves the captcha and gets in, during the attack.
  const ok = await login(apps.at(-1)!, email, GOOD_PASSWORD, ips[0], goodAnswer);
  assert.equal(ok.statusCode, 200, ok.body);
  return email;
}

test(`login, one IP: 30 parallel wrong passwords run ${AFTER} checks, the rest get captcha_required`, async (t) => {
  const { apps, goodAnswer } = await setup(t);
  await loginBurst(t, apps, goodAnswer, ['198.51.100.7']);
});

test('login, one account from six IPs: the account threshold holds across addresses', async (t) => {
  const { apps, goodAnswer } = await setup(t);
  await loginBurst(t, apps, goodAnswer, [
    '198.51.100.1',
    '198.51.100.2',
    '203.0.113.3',
    '203.0.113.4',
    '2001:db8:1::5',
    '2001:db8:2::6',
  ]);
});

test('login, one IP spraying 50 accounts at once: at most CAPTCHA_AFTER_IP_FAILURES checks', async (t) => {
  const { first, goodAnswer } = await setup(t);
  const ip = '192.0.2.77';
  const { email } = await register(first);
  const spray = await Promise.all(
    Array.from({ length: 50 }, () => login(first, uniqueEmail('sprayed'), 'wrong-password-123', ip)),
  );
  t.diagnostic(`50 accounts from one IP: ${JSON.stringify(tally(spray))}`);
  assert.equal(await checksFromIp(first, ip), AFTER_IP);
  assert.deepEqual(tally(spray), { invalid_credentials: AFTER_IP, captcha_required: 50 - AFTER_IP });
  // A real user behind that address is asked for a captcha, and gets in with it.
  assert.equal((await login(first, email, GOOD_PASSWORD, ip)).json().error, 'captcha_required');
  assert.equal((await login(first, email, GOOD_PASSWORD, ip, goodAnswer)).statusCode, 200);
});

test('login on Redis counters: the same burst holds', async (t) => {
  const { apps, goodAnswer } = await setup(t, { redis: true });
  const email = await loginBurst(t, apps, goodAnswer, ['198.51.100.8']);
  const account = apps[0]!.services.credentialGuard.keysFor(email, '0.0.0.0').account;
  const [row] = await apps[0]!.services.db.query<{ n: number }>(
    `SELECT count(*)::int AS n FROM login_failures WHERE key = $1`,
    [account],
  );
  assert.equal(row!.n, 0, 'Redis holds the counters, not PostgreSQL');
  assert.equal(await checksFor(apps[0]!, email), AFTER + 1, 'three failures and the one success');
});

test(
  'login, two instances on one PostgreSQL: the burst split between them runs no more checks',
  { skip: twoInstances },
  async (t) => {
    const { apps, goodAnswer } = await setup(t, { instances: 2 });
    await loginBurst(t, apps, goodAnswer, ['198.51.100.9', '198.51.100.10']);
  },
);

test(
  'login, two instances on one Redis: the burst split between them runs no more checks',
  { skip: twoInstances },
  async (t) => {
    const { apps, goodAnswer } = await setup(t, { instances: 2, redis: true });
    await loginBurst(t, apps, goodAnswer, ['198.51.100.11']);
  },
);

test('password change with a stolen access token: the same guard, the same counters', async (t) => {
  const { first, goodAnswer } = await setup(t);
  const { email, id } = await register(first);
  const tokens = (await login(first, email, GOOD_PASSWORD)).json<{ access_token: string }>();
  const change = (current: string, ip: string, captcha_token?: string) =>
    first.app.inject({
      method: 'POST',
      url: '/users/me/password',
      remoteAddress: ip,
      headers: { authorization: `Bearer ${tokens.access_token}` },
      payload: {
        current_password: current,
        new_password: 'a-brand-new-passphrase-9',
        ...(captcha_token ? { captcha_token } : {}),
      },
    });
  const ips = ['198.51.100.20', '198.51.100.21', '203.0.113.22'];
  const burst = await Promise.all(
    Array.from({ length: 30 }, (_, i) => change(`wrong-current-${i}`, ips[i % ips.length]!)),
  );
  t.diagnostic(`30 wrong current passwords from 3 IPs: ${JSON.stringify(tally(burst))}`);
  assert.deepEqual(tally(burst), { invalid_credentials: AFTER, captcha_required: 30 - AFTER });
  const [failures] = await first.services.db.query<{ n: number }>(
    `SELECT count(*)::int AS n FROM security_events WHERE type = 'password_change_failure' AND user_id = $1`,
    [id],
  );
  assert.equal(failures!.n, AFTER, 'password checks that ran');

  // The counters are the account's: a login now needs a captcha too.
  assert.equal((await login(first, email, GOOD_PASSWORD, '203.0.113.99')).json().error, 'captcha_required');
  // The right current password inside a burst is asked for a captcha; with one it works.
  // (From fresh addresses: the route's own limit of 10 a minute per IP is spent above.)
  const second = await Promise.all([
    ...Array.from({ length: 5 }, (_, i) => change(`wrong-again-${i}`, '192.0.2.30')),
    change(GOOD_PASSWORD, '192.0.2.30'),
  ]);
  assert.deepEqual(tally(second), { captcha_required: 6 });
  const [hash] = await first.services.db.query<{ password_hash: string }>(
    'SELECT password_hash FROM users WHERE id = $1',
    [id],
  );
  const ok = await change(GOOD_PASSWORD, '192.0.2.31', goodAnswer);
  assert.equal(ok.statusCode, 204, ok.body);
  const [after] = await first.services.db.query<{ password_hash: string }>(
    'SELECT password_hash FROM users WHERE id = $1',
    [id],
  );
  assert.notEqual(after!.password_hash, hash!.password_hash, 'the password changed');
});

test('password change failures raise the per-account alert like failed logins', async (t) => {
  const received: unknown[] = [];
  const { createServer } = await import('node:http');
  const receiver = createServer((req, res) => {
    let body = '';
    req
      .on('data', (c) => (body += c))
      .on('end', () => {
        received.push(JSON.parse(body));
        res.writeHead(204).end();
      });
  });
  await new Promise<void>((resolve) => receiver.listen(0, '127.0.0.1', resolve));
  t.after(() => new Promise((resolve) => receiver.close(resolve)));
  const { port } = receiver.address() as { port: number };
  const built = await build(t, {
    ALERT_WEBHOOK_URL: `http://127.0.0.1:${port}/alerts`,
    ALERT_FAILED_LOGINS_PER_ACCOUNT: '5',
    ALERT_CHECK_INTERVAL_MS: '50',
    CAPTCHA_PROVIDER: 'none',
  });
  const { email } = await register(built);
  const tokens = (await login(built, email, GOOD_PASSWORD)).json<{ access_token: string }>();
  for (let i = 0; i < 6; i++) {
    const res = await built.app.inject({
      method: 'POST',
      url: '/users/me/password',
      headers: { authorization: `Bearer ${tokens.access_token}` },
      payload: { current_password: `wrong-${i}-password`, new_password: 'a-brand-new-passphrase-9' },
    });
    assert.equal(res.json().error, 'invalid_credentials');
  }
  const deadline = Date.now() + 10_000;
  while (received.length === 0 && Date.now() < deadline) await new Promise((r) => setTimeout(r, 50));
  assert.equal(received.length, 1, 'one alert');
  assert.equal((received[0] as { rule: string }).rule, 'failed_logins_account');
});
