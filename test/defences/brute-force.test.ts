// An attacker with 1,000 password guesses and forged X-Forwarded-For headers.
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { build, uniqueEmail, GOOD_PASSWORD } from '../helpers/build.js';
import { startSiteverify } from '../helpers/siteverify-stand-in.js';

test('1,000 guesses from rotating forged X-Forwarded-For: none succeeds, the real user still gets in', async (t) => {
  const siteverify = await startSiteverify();
  t.after(() => siteverify.close());
  const { app } = await build(t, {
    TRUST_PROXY: 'false',
    CAPTCHA_PROVIDER: 'hcaptcha',
    CAPTCHA_SECRET: 'test-secret',
    CAPTCHA_VERIFY_URL: siteverify.url,
    LOGIN_RATE_LIMIT: '30',
    LOGIN_DELAY_MAX_MS: '5000',
  });
  const email = uniqueEmail('victim');
  assert.equal(
    (await app.inject({ method: 'POST', url: '/users', payload: { email, password: GOOD_PASSWORD } })).statusCode,
    201,
  );

  const counts = new Map<string, number>();
  for (let i = 0; i < 1000; i++) {
    const forged = `${(i * 7) % 223}.${(i * 13) % 251}.${i % 250}.${(i * 3) % 254}`;
    const res = await app.inject({
      method: 'POST',
      url: '/auth/login',
      remoteAddress: '127.0.0.9',
      headers: { 'x-forwarded-for': forged, 'x-real-ip': forged },
      // Every guess is wrong but one: the right password must not get through either.
      payload: {
        email,
        password: i === 500 ? GOOD_PASSWORD : `guess-${i}-password`,
        ...(i % 2 ? { captcha_token: 'bot-answer' } : {}),
      },
    });
    const key = res.statusCode === 200 ? 'success' : (res.json().error as string);
    counts.set(key, (counts.get(key) ?? 0) + 1);
    if (res.statusCode === 429) assert.ok(Number(res.headers['retry-after']) >= 1);
  }
  t.diagnostic(`outcomes of 1000 guesses: ${JSON.stringify(Object.fromEntries(counts))}`);
  assert.equal(counts.get('success') ?? 0, 0, 'no guess succeeded');
  assert.ok((counts.get('rate_limited') ?? 0) >= 900, 'the forged header did not dodge the per-IP limit');
  assert.ok((counts.get('captcha_required') ?? 0) >= 1, 'the captcha was demanded');
  assert.ok(
    (counts.get('invalid_credentials') ?? 0) <= 3,
    'at most the threshold of guesses reached the password check',
  );

  // The real user, from their own address, solves the captcha and logs in.
  const real = (captcha_token?: string) =>
    app.inject({
      method: 'POST',
      url: '/auth/login',
      remoteAddress: '127.0.0.2',
      payload: { email, password: GOOD_PASSWORD, ...(captcha_token ? { captcha_token } : {}) },
    });
  assert.equal((await real()).json().error, 'captcha_required');
  const ok = await real('good-answer');
  assert.equal(ok.statusCode, 200, ok.body);
});
