// ASVS V6 (authentication): passwords never expire, secrets come from the CSPRNG, a password
// reset leaves the second factor in place, and the README documents the brute-force settings
// with the defaults the code starts with.
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { readdirSync, readFileSync } from 'node:fs';
import { fileURLToPath } from 'node:url';
import { loadConfig } from '../../src/config/config.js';
import { build, GOOD_PASSWORD, refresh, registerAndLogin, TEST_MASTER_KEY, userWithRoles } from '../helpers/build.js';
import { freshStep, totpCode } from '../helpers/totp.js';
import { accountsApp, login, tokenFrom } from '../accounts/helpers.js';
import { documentedDefaults, section } from './readme-settings.js';

test('a password set ten years ago still signs in and refreshes: no password expires', async (t) => {
  const { app, services } = await build(t);
  const { email, tokens } = await registerAndLogin(app);
  await services.db.query(
    `UPDATE users SET created_at = now() - interval '10 years', updated_at = now() - interval '10 years',
       password_changed_at = now() - interval '10 years' WHERE email = $1`,
    [email],
  );
  const res = await app.inject({ method: 'POST', url: '/auth/login', payload: { email, password: GOOD_PASSWORD } });
  assert.equal(res.statusCode, 200, res.body);
  assert.equal(res.json<{ error?: string }>().error, undefined);
  assert.equal((await refresh(app, tokens.refresh_token)).statusCode, 200);
});

test('secrets come from the CSPRNG: Math.random serves only the jitter of webhook retries', () => {
  const root = fileURLToPath(new URL('../../', import.meta.url));
  const uses: string[] = [];
  for (const dir of ['src', 'packages/verifier/src']) {
    for (const name of readdirSync(`${root}${dir}`, { recursive: true }) as string[]) {
      if (!name.endsWith('.ts')) continue;
      const text = readFileSync(`${root}${dir}/${name}`, 'utf8');
      for (const line of text.split('\n')) if (/Math\.random/.test(line)) uses.push(`${dir}/${name}: ${line.trim()}`);
    }
  }
  assert.deepEqual(uses, [
    'src/audit/webhook.ts: export function retryDelayMs(failures: number, random: () => number = Math.random): number {',
  ]);
});

test('a password reset leaves the second factor in place: the new password still asks for it', async (t) => {
  const built = await accountsApp(t);
  const { app, smtp } = built;
  const user = await userWithRoles(built, ['user']);
  const start = await app.inject({ method: 'POST', url: '/users/me/mfa/totp', headers: user.auth, payload: {} });
  assert.equal(start.statusCode, 201, start.body);
  const { secret } = start.json<{ secret: string }>();
  await freshStep();
  const confirm = await app.inject({
    method: 'POST',
    url: '/users/me/mfa/totp/confirm',
    headers: user.auth,
    payload: { code: totpCode(secret) },
  });
  assert.ok([200, 201].includes(confirm.statusCode), confirm.body);

  const ask = await app.inject({ method: 'POST', url: '/users/password-reset', payload: { email: user.email } });
  assert.equal(ask.statusCode, 202);
  const token = await tokenFrom(smtp, user.email, 'password_reset');
  const newPassword = 'another-quiet-lantern-58';
  const done = await app.inject({
    method: 'POST',
    url: '/users/password-reset/confirm',
    payload: { token, password: newPassword },
  });
  assert.equal(done.statusCode, 204, done.body);
  assert.equal(done.body, '', 'the reset itself hands out no token');

  const res = await login(app, user.email, newPassword);
  assert.equal(res.statusCode, 401);
  assert.equal(res.json<{ error: string }>().error, 'mfa_required');
  assert.equal(res.json<{ access_token?: string }>().access_token, undefined);
});

test('the README documents the brute-force settings with the defaults the code starts with', () => {
  const config = loadConfig({ MASTER_KEY: TEST_MASTER_KEY });
  const documented = documentedDefaults();
  const expected: Record<string, number> = {
    LOGIN_RATE_LIMIT: config.rateLimits.login,
    CAPTCHA_AFTER_FAILURES: config.captcha.afterFailures,
    CAPTCHA_AFTER_IP_FAILURES: config.captcha.afterIpFailures,
    LOGIN_FAILURE_WINDOW: config.loginDefence.windowSeconds,
    LOGIN_DELAY_MAX_MS: config.loginDefence.maxDelayMs,
  };
  for (const [name, value] of Object.entries(expected)) assert.equal(documented.get(name), String(value), name);
  const guard = section('Brute-force protection');
  for (const name of Object.keys(expected)) {
    assert.ok(guard.includes(name), `the Brute-force protection section explains ${name}`);
  }
  assert.match(guard, /captcha/);
  assert.match(guard, /nothing locks a real user out/, 'how the controls avoid a malicious lockout');
});

test('the README names every way to sign in, and each is a route the app serves', async (t) => {
  const { app } = await build(t);
  const endpoints = section('Endpoints');
  const pathways: [method: 'GET' | 'POST', path: string][] = [
    ['POST', '/auth/login'],
    ['POST', '/auth/mfa'],
    ['GET', '/oauth/authorize'],
    ['POST', '/oauth/authorize/login'],
    ['POST', '/oauth/authorize/mfa'],
    ['POST', '/oauth/authorize/passkey'],
    ['POST', '/oauth/token'],
  ];
  for (const [method, url] of pathways) {
    assert.ok(app.hasRoute({ method, url }), `${method} ${url} is served`);
    const last = url.split('/').pop()!;
    assert.ok(endpoints.includes(url) || endpoints.includes(`\`/${last}\``), `the Endpoints table names ${url}`);
  }
  for (const grant of ['authorization_code', 'refresh_token', 'client_credentials'])
    assert.ok(endpoints.includes(grant), grant);
  const factors = section('Second factors (TOTP, passkeys, recovery codes)');
  for (const word of ['TOTP', 'passkey', 'recovery code']) assert.ok(factors.includes(word), word);
  assert.match(section('Brute-force protection'), /One guard/, 'one guard stands around every password check');
  assert.match(section('Command line'), /users create/);
});
