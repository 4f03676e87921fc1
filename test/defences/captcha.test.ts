// Captcha after repeated failures, verified against a real HTTP stand-in of siteverify:
// what an answer must say (host, reCAPTCHA v3 score and action), and that it passes once,
// on PostgreSQL, PGlite or Redis, across instances.
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { randomBytes } from 'node:crypto';
import { mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { Redis } from 'ioredis';
import { build, uniqueEmail, GOOD_PASSWORD } from '../helpers/build.js';
import { startSiteverify, type Verdict } from '../helpers/siteverify-stand-in.js';
import { CaptchaVerifier, type CaptchaOutcome, type CaptchaSettings } from '../../src/defences/captcha.js';
import {
  answerHash,
  PostgresCaptchaReplay,
  RedisCaptchaReplay,
  type CaptchaReplayStore,
} from '../../src/defences/captcha-replay.js';

const SECRET = 'test-captcha-secret-not-real';
const SITEKEY = 'test-sitekey';

async function setup(t: Parameters<typeof build>[0], extra: Record<string, string> = {}) {
  const siteverify = await startSiteverify({ slowMs: 4000, goodAnswer: /^good-answer/ });
  t.after(() => siteverify.close());
  const built = await build(t, {
    CAPTCHA_PROVIDER: 'hcaptcha',
    CAPTCHA_SECRET: SECRET,
    CAPTCHA_SITEKEY: SITEKEY,
    CAPTCHA_VERIFY_URL: siteverify.url,
    CAPTCHA_AFTER_FAILURES: '3',
    CAPTCHA_TIMEOUT_MS: '2000',
    ...extra,
  });
  const login = (email: string, password: string, captcha_token?: string) =>
    built.app.inject({
      method: 'POST',
      url: '/auth/login',
      payload: { email, password, ...(captcha_token ? { captcha_token } : {}) },
    });
  return { ...built, siteverify, login };
}

async function registered(app: Awaited<ReturnType<typeof build>>['app']) {
  const email = uniqueEmail('captcha');
  const res = await app.inject({ method: 'POST', url: '/users', payload: { email, password: GOOD_PASSWORD } });
  assert.equal(res.statusCode, 201);
  return email;
}

test('after the threshold a captcha is required even with the right password; the right answer gives tokens', async (t) => {
  const { app, siteverify, login } = await setup(t);
  const email = await registered(app);
  for (let i = 0; i < 3; i++)
    assert.equal((await login(email, 'wrong-password-123')).json().error, 'invalid_credentials');

  const demanded = await login(email, GOOD_PASSWORD);
  assert.equal(demanded.statusCode, 401);
  assert.deepEqual(demanded.json(), {
    error: 'captcha_required',
    error_description: 'A captcha answer is required',
    captcha_provider: 'hcaptcha',
    captcha_sitekey: SITEKEY,
  });
  assert.equal(siteverify.received.length, 0, 'no answer sent, so nothing verified');

  const wrong = await login(email, GOOD_PASSWORD, 'wrong-answer');
  assert.equal(wrong.json().error, 'captcha_required');

  const ok = await login(email, GOOD_PASSWORD, 'good-answer');
  assert.equal(ok.statusCode, 200, ok.body);
  assert.ok(ok.json().access_token);
  const last = siteverify.received.at(-1)!;
  assert.equal(last.secret, SECRET);
  assert.equal(last.response, 'good-answer');
  assert.equal(last.remoteip, '127.0.0.1');
  assert.equal(last.sitekey, SITEKEY);
  assert.match(last.contentType ?? '', /application\/x-www-form-urlencoded/);

  // A successful login resets the account's counter.
  assert.equal((await login(email, GOOD_PASSWORD)).statusCode, 200);
});

test('provider down, slow, erroring, answering garbage or too much: still refused (fail closed)', async (t) => {
  const { app, siteverify, login } = await setup(t);
  const email = await registered(app);
  for (let i = 0; i < 3; i++) await login(email, 'wrong-password-123');
  for (const mode of ['slow', 'error', 'garbage', 'oversized'] as const) {
    siteverify.setMode(mode);
    // A new answer each time, so it is the provider's state that refuses it, not a replay.
    const res = await login(email, GOOD_PASSWORD, `good-answer-${mode}`);
    assert.equal(res.statusCode, 401, mode);
    assert.equal(res.json().error, 'captcha_required', mode);
    assert.equal(siteverify.received.at(-1)?.response, `good-answer-${mode}`, `${mode}: siteverify was asked`);
  }
  siteverify.setMode('normal');
  await siteverify.close();
  const down = await login(email, GOOD_PASSWORD, 'good-answer-down');
  assert.equal(down.json().error, 'captcha_required', 'provider unreachable');
});

test('the captcha requirement looks the same for existing and unknown accounts', async (t) => {
  const { app, login } = await setup(t);
  const existing = await registered(app);
  const unknown = uniqueEmail('ghost');
  for (let i = 0; i < 3; i++) {
    await login(existing, 'wrong-password-123');
    await login(unknown, 'wrong-password-123');
  }
  const a = await login(existing, 'wrong-password-123');
  const b = await login(unknown, 'wrong-password-123');
  assert.equal(a.statusCode, b.statusCode);
  assert.equal(a.body, b.body);
  const strip = (h: Record<string, unknown>) =>
    Object.keys(h)
      .filter((k) => !['date', 'ratelimit-reset', 'ratelimit-remaining'].includes(k))
      .sort();
  assert.deepEqual(strip(a.headers), strip(b.headers));
});

test('a captcha is also required from one IP failing across many account names', async (t) => {
  const { login } = await setup(t, { CAPTCHA_AFTER_IP_FAILURES: '5' });
  for (let i = 0; i < 5; i++) await login(uniqueEmail('spray'), 'wrong-password-123');
  const res = await login(uniqueEmail('spray'), 'wrong-password-123');
  assert.equal(res.json().error, 'captcha_required');
});

test('50 parallel wrong passwords count 50', async (t) => {
  const { app, services, login } = await setup(t, {
    CAPTCHA_AFTER_FAILURES: '1000',
    CAPTCHA_AFTER_IP_FAILURES: '100000',
    HASH_QUEUE: '100',
  });
  const email = await registered(app);
  const results = await Promise.all(Array.from({ length: 50 }, () => login(email, 'wrong-password-123')));
  assert.deepEqual(new Set(results.map((r) => r.statusCode)), new Set([401]));
  const keys = services.credentialGuard.keysFor(email, '127.0.0.1');
  const [account] = await services.attempts.count([keys.account]);
  assert.equal(account, 50);
});

// ---- What an answer must say, checked by the verifier itself against the stand-in ----

const REDIS_URL = process.env.TEST_REDIS_URL ?? 'redis://127.0.0.1:6379';
const onPostgres = Boolean(process.env.TEST_DATABASE_URL);
const IP = '203.0.113.7';

/** An answer the stand-in accepts, new each call, so no test meets another's claim. */
const freshAnswer = () => `good-answer-${randomBytes(8).toString('hex')}`;

async function standIn(t: Parameters<typeof build>[0]) {
  const siteverify = await startSiteverify({ goodAnswer: /^good-answer/ });
  t.after(() => siteverify.close());
  return siteverify;
}

/** Claims held in memory, for the checks that are not about replay. */
function memoryReplay(): CaptchaReplayStore {
  const seen = new Set<string>();
  return {
    async claim(token) {
      if (seen.has(token)) return false;
      seen.add(token);
      return true;
    },
    async prune() {},
  };
}

function verifierFor(
  url: string,
  settings: Partial<CaptchaSettings> = {},
  replay: CaptchaReplayStore = memoryReplay(),
) {
  return new CaptchaVerifier(
    {
      provider: 'hcaptcha',
      secret: SECRET,
      sitekey: SITEKEY,
      verifyUrl: url,
      timeoutMs: 500,
      hostnames: ['localhost', 'app.example.com'],
      minScore: 0.5,
      ...settings,
    },
    replay,
  );
}

/** The outcome of one fresh answer while the stand-in answers with `verdict`. */
async function outcomeOf(
  siteverify: Awaited<ReturnType<typeof standIn>>,
  verifier: CaptchaVerifier,
  verdict: Verdict,
  action?: string,
): Promise<CaptchaOutcome> {
  siteverify.setVerdict(verdict);
  return verifier.verify(freshAnswer(), IP, action);
}

for (const provider of ['hcaptcha', 'turnstile', 'recaptcha'] as const) {
  test(`${provider}: the answer must have been solved on one of CAPTCHA_HOSTNAMES; another host, a look-alike or none is refused`, async (t) => {
    const siteverify = await standIn(t);
    const verifier = verifierFor(siteverify.url, { provider });
    assert.equal(await outcomeOf(siteverify, verifier, { hostname: 'localhost' }), 'passed');
    assert.equal(await outcomeOf(siteverify, verifier, { hostname: 'app.example.com' }), 'passed');
    assert.equal(
      await outcomeOf(siteverify, verifier, { hostname: 'App.Example.COM' }),
      'passed',
      'host names are case-insensitive',
    );
    assert.equal(await outcomeOf(siteverify, verifier, { hostname: 'evil.example' }), 'failed');
    assert.equal(await outcomeOf(siteverify, verifier, { hostname: 'app.example.com.evil.example' }), 'failed');
    assert.equal(
      await outcomeOf(siteverify, verifier, { hostname: 'example.com' }),
      'failed',
      'a parent domain is another host',
    );
    assert.equal(await outcomeOf(siteverify, verifier, { hostname: '' }), 'failed');
    assert.equal(await outcomeOf(siteverify, verifier, {}), 'failed', 'no hostname: fail closed');
    assert.equal(await outcomeOf(siteverify, verifier, { hostname: ['localhost'] } as unknown as Verdict), 'failed');
  });
}

test('reCAPTCHA v3: a score of at least CAPTCHA_MIN_SCORE, for the expected action; v2 answers carry neither', async (t) => {
  const siteverify = await standIn(t);
  const verifier = verifierFor(siteverify.url, { provider: 'recaptcha', minScore: 0.5 });
  const v3 = (score: unknown, action: unknown): Verdict => ({ hostname: 'localhost', score, action });
  assert.equal(await outcomeOf(siteverify, verifier, v3(0.9, 'login')), 'passed');
  assert.equal(await outcomeOf(siteverify, verifier, v3(0.5, 'login')), 'passed', 'the minimum itself passes');
  assert.equal(await outcomeOf(siteverify, verifier, v3(0.49, 'login')), 'failed', 'low score');
  assert.equal(await outcomeOf(siteverify, verifier, v3(0, 'login')), 'failed');
  assert.equal(await outcomeOf(siteverify, verifier, v3(0.9, 'signup')), 'failed', 'solved for another action');
  assert.equal(await outcomeOf(siteverify, verifier, v3(0.9, 'LOGIN')), 'failed', 'actions match exactly');
  assert.equal(await outcomeOf(siteverify, verifier, v3(0.9, undefined)), 'failed', 'a score without an action');
  assert.equal(await outcomeOf(siteverify, verifier, v3(undefined, 'login')), 'failed', 'an action without a score');
  assert.equal(await outcomeOf(siteverify, verifier, v3('0.9', 'login')), 'failed', 'a score that is not a number');
  assert.equal(await outcomeOf(siteverify, verifier, v3(null, 'login')), 'failed');
  assert.equal(
    await outcomeOf(siteverify, verifier, v3(0.9, 'password_change'), 'password_change'),
    'passed',
    'the action asked for',
  );
  assert.equal(await outcomeOf(siteverify, verifier, v3(0.9, 'login'), 'password_change'), 'failed');
  assert.equal(await outcomeOf(siteverify, verifier, { hostname: 'localhost' }), 'passed', 'v2: success and hostname');
  assert.equal(
    await outcomeOf(siteverify, verifier, { hostname: 'evil.example', score: 0.9, action: 'login' }),
    'failed',
    'v3 checks the host too',
  );

  const strict = verifierFor(siteverify.url, { provider: 'recaptcha', minScore: 0.8 });
  assert.equal(await outcomeOf(siteverify, strict, v3(0.7, 'login')), 'failed', 'CAPTCHA_MIN_SCORE is taken');
  assert.equal(await outcomeOf(siteverify, strict, v3(0.8, 'login')), 'passed');
});

test('Turnstile: an action, when the widget reports one, must be the expected one', async (t) => {
  const siteverify = await standIn(t);
  const verifier = verifierFor(siteverify.url, { provider: 'turnstile' });
  assert.equal(await outcomeOf(siteverify, verifier, { hostname: 'localhost', action: 'login' }), 'passed');
  assert.equal(await outcomeOf(siteverify, verifier, { hostname: 'localhost', action: 'signup' }), 'failed');
  assert.equal(await outcomeOf(siteverify, verifier, { hostname: 'localhost', action: 7 }), 'failed');
  assert.equal(
    await outcomeOf(siteverify, verifier, { hostname: 'localhost', action: '' }),
    'passed',
    'a widget rendered without an action',
  );
  assert.equal(await outcomeOf(siteverify, verifier, { hostname: 'localhost' }), 'passed');
  assert.equal(
    await outcomeOf(siteverify, verifier, { hostname: 'localhost', action: 'password_change' }, 'password_change'),
    'passed',
  );
});

test('CAPTCHA_MIN_SCORE applies to reCAPTCHA only: an hCaptcha score (a risk score) is not read', async (t) => {
  const siteverify = await standIn(t);
  const verifier = verifierFor(siteverify.url, { provider: 'hcaptcha', minScore: 0.9 });
  assert.equal(await outcomeOf(siteverify, verifier, { hostname: 'localhost', score: 0.1 }), 'passed');
  assert.equal(await outcomeOf(siteverify, verifier, { hostname: 'evil.example', score: 0.1 }), 'failed');
});

test('fail closed: a slow, erroring, garbled, oversized or unreachable provider, or a broken replay store, is "unavailable"', async (t) => {
  const siteverify = await standIn(t);
  const verifier = verifierFor(siteverify.url, { timeoutMs: 300 });
  for (const mode of ['slow', 'error', 'garbage', 'oversized'] as const) {
    siteverify.setMode(mode);
    assert.equal(await verifier.verify(freshAnswer(), IP), 'unavailable', mode);
  }
  siteverify.setMode('normal');
  assert.equal(
    await verifier.verify(freshAnswer(), IP),
    'passed',
    'the same verifier passes once the provider is back',
  );

  const asked = siteverify.received.length;
  const broken = verifierFor(
    siteverify.url,
    {},
    { claim: async () => Promise.reject(new Error('store down')), prune: async () => {} },
  );
  assert.equal(await broken.verify(freshAnswer(), IP), 'unavailable');
  assert.equal(siteverify.received.length, asked, 'without a claim, siteverify is not asked');

  await siteverify.close();
  assert.equal(await verifier.verify(freshAnswer(), IP), 'unavailable', 'unreachable');
});

// ---- Replay: an answer passes once, on each store and across instances ----

const CAPTCHA_ENV = {
  CAPTCHA_PROVIDER: 'hcaptcha',
  CAPTCHA_SECRET: SECRET,
  CAPTCHA_SITEKEY: SITEKEY,
  CAPTCHA_TIMEOUT_MS: '2000',
};

/** A Redis connection and a prefix of this test's own, emptied afterwards. */
async function redisFor(t: Parameters<typeof build>[0]) {
  const redis = new Redis(REDIS_URL, { maxRetriesPerRequest: 1 });
  const prefix = `tessera-test-${randomBytes(4).toString('hex')}:`;
  t.after(async () => {
    const keys = await redis.keys(`${prefix}*`);
    if (keys.length) await redis.del(...keys);
    redis.disconnect();
  });
  return { redis, prefix };
}

interface StoreUnderTest {
  replay: CaptchaReplayStore;
  /** Whether the store holds a claim for this answer, and that it holds no answer itself. */
  holds(answer: string): Promise<boolean>;
  /** Makes the claim on this answer expire now. */
  expire(answer: string): Promise<void>;
}

const stores: Array<[string, (t: Parameters<typeof build>[0]) => Promise<StoreUnderTest>]> = [
  [
    onPostgres ? 'PostgreSQL' : 'PGlite',
    async (t) => {
      const { services } = await build(t, CAPTCHA_ENV);
      const db = services.db;
      return {
        replay: new PostgresCaptchaReplay(db),
        async holds(answer) {
          const rows = await db.query<{ hash: string; live: boolean }>(
            'SELECT hash, expires_at > clock_timestamp() AS live FROM captcha_answers',
          );
          assert.ok(!rows.some((r) => r.hash.includes(answer)), 'the answer itself is not stored');
          return rows.some((r) => r.hash === answerHash(answer) && r.live);
        },
        async expire(answer) {
          await db.query(
            `UPDATE captcha_answers SET expires_at = clock_timestamp() - interval '1 second' WHERE hash = $1`,
            [answerHash(answer)],
          );
        },
      };
    },
  ],
  [
    'Redis',
    async (t) => {
      const { redis, prefix } = await redisFor(t);
      const key = (answer: string) => `${prefix}${answerHash(answer)}`;
      return {
        replay: new RedisCaptchaReplay(redis, prefix),
        async holds(answer) {
          const keys = await redis.keys(`${prefix}*`);
          assert.ok(!keys.some((k) => k.includes(answer)), 'the answer itself is not stored');
          const ttl = await redis.pttl(key(answer));
          if (ttl > 0) assert.ok(ttl <= 600_000, `expires within 10 minutes (${ttl} ms)`);
          return ttl > 0;
        },
        async expire(answer) {
          await redis.pexpire(key(answer), 1);
          await new Promise((r) => setTimeout(r, 20));
        },
      };
    },
  ],
];

for (const [name, make] of stores) {
  test(`${name}: a good answer passes once; presented again it is refused without asking siteverify`, async (t) => {
    const siteverify = await standIn(t);
    const store = await make(t);
    const verifier = verifierFor(siteverify.url, {}, store.replay);
    const answer = freshAnswer();
    assert.equal(await store.holds(answer), false);
    assert.equal(await verifier.verify(answer, IP), 'passed');
    assert.equal(await store.holds(answer), true, 'a SHA-256 of the answer is held');
    assert.equal(await verifier.verify(answer, IP), 'failed', 'replayed');
    assert.equal(await verifier.verify(answer, '198.51.100.1'), 'failed', 'replayed from another address');
    assert.equal(siteverify.received.filter((r) => r.response === answer).length, 1, 'siteverify saw the answer once');
    assert.equal(await verifier.verify(freshAnswer(), IP), 'passed', 'another answer still passes');

    // A wrong answer is claimed too: it cannot be retried once the provider would take it.
    const wrong = `wrong-${randomBytes(4).toString('hex')}`;
    assert.equal(await verifier.verify(wrong, IP), 'failed');
    assert.equal(await store.holds(wrong), true);
  });

  test(`${name}: 20 parallel requests with one answer, exactly one passes`, async (t) => {
    const siteverify = await standIn(t);
    const store = await make(t);
    // Separate verifiers on one store, as separate requests would reach it.
    const answer = freshAnswer();
    const outcomes = await Promise.all(
      Array.from({ length: 20 }, () => verifierFor(siteverify.url, {}, store.replay).verify(answer, IP)),
    );
    assert.deepEqual(outcomes.filter((o) => o === 'passed').length, 1, JSON.stringify(outcomes));
    assert.deepEqual(outcomes.filter((o) => o === 'failed').length, 19);
    assert.equal(
      siteverify.received.filter((r) => r.response === answer).length,
      1,
      'claimed before siteverify: it was asked once',
    );
  });

  test(`${name}: a claim expires; an expired one may be claimed again`, async (t) => {
    const store = await make(t);
    const answer = freshAnswer();
    assert.equal(await store.replay.claim(answer), true);
    assert.equal(await store.replay.claim(answer), false);
    await store.expire(answer);
    assert.equal(await store.holds(answer), false);
    assert.equal(await store.replay.claim(answer), true, 'the provider refuses an answer this old anyway');
    assert.equal(await store.replay.claim(answer), false);
  });
}

test(`${onPostgres ? 'PostgreSQL' : 'PGlite'}: housekeeping prunes expired claims and keeps live ones`, async (t) => {
  // Housekeeping runs on its own timer; a pass is run here at once.
  const { services } = await build(t, { ...CAPTCHA_ENV, KEY_SYNC_INTERVAL: '60' });
  const replay = new PostgresCaptchaReplay(services.db);
  const [old, live] = [freshAnswer(), freshAnswer()];
  await replay.claim(old);
  await replay.claim(live);
  await services.db.query(
    `UPDATE captcha_answers SET expires_at = clock_timestamp() - interval '1 second' WHERE hash = $1`,
    [answerHash(old)],
  );
  await services.housekeeping();
  const rows = await services.db.query<{ hash: string }>(
    'SELECT hash FROM captcha_answers WHERE hash = ANY($1::text[])',
    [[answerHash(old), answerHash(live)]],
  );
  assert.deepEqual(
    rows.map((r) => r.hash),
    [answerHash(live)],
  );
});

/** Logs in through one app; a captcha is due once the account has failed once. */
function loginVia(
  app: Awaited<ReturnType<typeof build>>['app'],
  email: string,
  password: string,
  captcha_token?: string,
) {
  return app.inject({
    method: 'POST',
    url: '/auth/login',
    payload: { email, password, ...(captcha_token ? { captcha_token } : {}) },
  });
}

test('login: an answer solved on another host is refused; a replayed one too', async (t) => {
  const siteverify = await standIn(t);
  const { app, services } = await build(t, {
    ...CAPTCHA_ENV,
    CAPTCHA_VERIFY_URL: siteverify.url,
    CAPTCHA_AFTER_FAILURES: '1',
    CAPTCHA_AFTER_IP_FAILURES: '100000',
  });
  const email = await registered(app);
  assert.equal((await loginVia(app, email, 'wrong-password-123')).json().error, 'invalid_credentials');

  siteverify.setVerdict({ hostname: 'evil.example' });
  assert.equal((await loginVia(app, email, GOOD_PASSWORD, freshAnswer())).json().error, 'captcha_required');
  siteverify.setVerdict({});
  assert.equal(
    (await loginVia(app, email, GOOD_PASSWORD, freshAnswer())).json().error,
    'captcha_required',
    'no hostname',
  );

  siteverify.setVerdict({ hostname: 'localhost' });
  const answer = freshAnswer();
  const ok = await loginVia(app, email, GOOD_PASSWORD, answer);
  assert.equal(ok.statusCode, 200, ok.body);
  // Another failure makes the captcha due again; the same answer is offered again.
  assert.match(
    (await loginVia(app, email, 'wrong-password-123')).json().error,
    /^(invalid_credentials|captcha_required)$/,
  );
  assert.equal((await loginVia(app, email, GOOD_PASSWORD, answer)).json().error, 'captcha_required');
  assert.equal((await loginVia(app, email, GOOD_PASSWORD, freshAnswer())).statusCode, 200);
  // Without REDIS_URL the claims are in the database.
  const [row] = await services.db.query<{ n: number }>(
    'SELECT count(*)::int AS n FROM captcha_answers WHERE hash = $1',
    [answerHash(answer)],
  );
  assert.equal(row?.n, 1);
});

/** 20 parallel logins with one answer, alternating between two instances. */
async function parallelLogins(
  apps: readonly [Awaited<ReturnType<typeof build>>['app'], Awaited<ReturnType<typeof build>>['app']],
  email: string,
  answer: string,
) {
  const results = await Promise.all(
    Array.from({ length: 20 }, (_, i) => loginVia(apps[i % 2]!, email, GOOD_PASSWORD, answer)),
  );
  return results.map((r) => (r.statusCode === 200 ? 'ok' : String(r.json().error)));
}

test(
  'two instances sharing PostgreSQL: 20 parallel logins with one answer, split over both, give one session',
  { skip: !onPostgres && 'two instances in one process need PostgreSQL (TEST_DATABASE_URL)' },
  async (t) => {
    const siteverify = await standIn(t);
    const env = {
      ...CAPTCHA_ENV,
      CAPTCHA_VERIFY_URL: siteverify.url,
      CAPTCHA_AFTER_FAILURES: '1',
      CAPTCHA_AFTER_IP_FAILURES: '100000',
    };
    const a = await build(t, env);
    const b = await build(t, env);
    const email = await registered(a.app);
    assert.equal((await loginVia(b.app, email, 'wrong-password-123')).json().error, 'invalid_credentials');
    const answer = freshAnswer();
    const outcomes = await parallelLogins([a.app, b.app], email, answer);
    assert.equal(outcomes.filter((o) => o === 'ok').length, 1, JSON.stringify(outcomes));
    assert.equal(outcomes.filter((o) => o === 'captcha_required').length, 19);
    assert.equal(siteverify.received.filter((r) => r.response === answer).length, 1);
  },
);

test('two instances sharing only Redis: 20 parallel logins with one answer, split over both, give one session', async (t) => {
  const siteverify = await standIn(t);
  const { redis, prefix } = await redisFor(t);
  // Each instance on an embedded database of its own: Redis is all they share.
  const env = (dir: string) => ({
    ...CAPTCHA_ENV,
    CAPTCHA_VERIFY_URL: siteverify.url,
    CAPTCHA_AFTER_FAILURES: '1',
    CAPTCHA_AFTER_IP_FAILURES: '100000',
    REDIS_URL,
    REDIS_PREFIX: prefix,
    DATABASE_URL: '',
    DATA_DIR: dir,
  });
  const dirs = ['a', 'b'].map((name) => mkdtempSync(join(tmpdir(), `tessera-captcha-${name}-`)));
  const a = await build(t, env(dirs[0]!));
  const b = await build(t, env(dirs[1]!));
  // Registered after the instances' own, so it runs once both have closed.
  t.after(() => dirs.forEach((dir) => rmSync(dir, { recursive: true, force: true })));
  const email = uniqueEmail('captcha');
  for (const { app } of [a, b])
    assert.equal(
      (await app.inject({ method: 'POST', url: '/users', payload: { email, password: GOOD_PASSWORD } })).statusCode,
      201,
    );
  assert.equal((await loginVia(a.app, email, 'wrong-password-123')).json().error, 'invalid_credentials');
  const answer = freshAnswer();
  const outcomes = await parallelLogins([a.app, b.app], email, answer);
  assert.equal(outcomes.filter((o) => o === 'ok').length, 1, JSON.stringify(outcomes));
  assert.equal(outcomes.filter((o) => o === 'captcha_required').length, 19);
  assert.equal(siteverify.received.filter((r) => r.response === answer).length, 1);
  assert.ok(
    (await redis.pttl(`${prefix}captcha:${answerHash(answer)}`)) > 0,
    'the claim is in Redis, under REDIS_PREFIX',
  );
  for (const { services } of [a, b]) {
    const [row] = await services.db.query<{ n: number }>('SELECT count(*)::int AS n FROM captcha_answers');
    assert.equal(row?.n, 0, 'nothing in the database');
  }
});
