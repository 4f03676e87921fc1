// Captcha after repeated failures, verified against a real HTTP stand-in of siteverify.
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { build, uniqueEmail, GOOD_PASSWORD } from '../helpers/build.js';
import { startSiteverify } from '../helpers/siteverify-stand-in.js';

const SECRET = 'test-captcha-secret-not-real';
const SITEKEY = 'test-sitekey';

async function setup(t: Parameters<typeof build>[0], extra: Record<string, string> = {}) {
  const siteverify = await startSiteverify({ slowMs: 1500 });
  t.after(() => siteverify.close());
  const built = await build(t, {
    CAPTCHA_PROVIDER: 'hcaptcha',
    CAPTCHA_SECRET: SECRET,
    CAPTCHA_SITEKEY: SITEKEY,
    CAPTCHA_VERIFY_URL: siteverify.url,
    CAPTCHA_AFTER_FAILURES: '3',
    CAPTCHA_TIMEOUT_MS: '500',
    ...extra,
  });
  const login = (email: string, password: string, captcha_token?: string) =>
    built.app.inject({ method: 'POST', url: '/auth/login', payload: { email, password, ...(captcha_token ? { captcha_token } : {}) } });
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
  for (let i = 0; i < 3; i++) assert.equal((await login(email, 'wrong-password-123')).json().error, 'invalid_credentials');

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

test('provider down, slow, erroring or answering garbage: still refused (fail closed)', async (t) => {
  const { app, siteverify, login } = await setup(t);
  const email = await registered(app);
  for (let i = 0; i < 3; i++) await login(email, 'wrong-password-123');
  for (const mode of ['slow', 'error', 'garbage'] as const) {
    siteverify.setMode(mode);
    const res = await login(email, GOOD_PASSWORD, 'good-answer');
    assert.equal(res.statusCode, 401, mode);
    assert.equal(res.json().error, 'captcha_required', mode);
  }
  siteverify.setMode('normal');
  await siteverify.close();
  const down = await login(email, GOOD_PASSWORD, 'good-answer');
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
  const strip = (h: Record<string, unknown>) => Object.keys(h).filter((k) => !['date', 'ratelimit-reset', 'ratelimit-remaining'].includes(k)).sort();
  assert.deepEqual(strip(a.headers), strip(b.headers));
});

test('a captcha is also required from one IP failing across many account names', async (t) => {
  const { login } = await setup(t, { CAPTCHA_AFTER_IP_FAILURES: '5' });
  for (let i = 0; i < 5; i++) await login(uniqueEmail('spray'), 'wrong-password-123');
  const res = await login(uniqueEmail('spray'), 'wrong-password-123');
  assert.equal(res.json().error, 'captcha_required');
});

test('50 parallel wrong passwords count 50', async (t) => {
  const { app, services, login } = await setup(t, { CAPTCHA_AFTER_FAILURES: '1000', CAPTCHA_AFTER_IP_FAILURES: '100000', HASH_QUEUE: '100' });
  const email = await registered(app);
  const results = await Promise.all(Array.from({ length: 50 }, () => login(email, 'wrong-password-123')));
  assert.deepEqual(new Set(results.map((r) => r.statusCode)), new Set([401]));
  const keys = services.loginGuard.keysFor(email, '127.0.0.1');
  const [account] = await services.failures.count([keys.account]);
  assert.equal(account, 50);
});
