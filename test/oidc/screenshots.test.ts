// Screenshots of every hosted page, light and dark (prefers-color-scheme), at a phone-sized
// viewport: login, login with the captcha widget, consent, error, logout confirmation,
// logged out, and the account pages (verify email, forgot password, link sent, new password). Taken in memory and checked on every run; written to docs/screenshots/ only
// with UPDATE_SCREENSHOTS=1 (UPDATE_SCREENSHOTS=1 node --import tsx --test test/oidc/screenshots.test.ts).
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { launchBrowser, screenshotBoth as both, watchedPage } from '../helpers/browser.js';
import { WIDGET_LABEL, startCaptchaWidget } from '../helpers/captcha-widget-stand-in.js';
import { decide, hostedPage, submitLogin, world } from './helpers.js';
import { issueAccountToken } from '../../src/db/repositories/account-tokens.js';
import { findUserByEmail } from '../../src/db/repositories/users.js';

test('screenshots of the hosted pages, light and dark', async (t) => {
  const captcha = await startCaptchaWidget(t, 'hcaptcha');
  const w = await world(
    t,
    { ...captcha.env, CAPTCHA_AFTER_FAILURES: '1', CAPTCHA_AFTER_IP_FAILURES: '100000' },
    { email: 'ada.lovelace@example.com' },
  );
  const { server, user, firstParty, thirdParty } = w;
  const browser = await launchBrowser(t);
  const watch = await watchedPage(browser, { viewport: { width: 480, height: 720 } });
  const { page } = watch;

  await page.goto(firstParty.loginUrl());
  assert.equal(await hostedPage(page), 'login');
  await both(page, 'login');

  await submitLogin(page, user.email, 'not-the-password-1');
  await page.locator('.h-captcha button', { hasText: WIDGET_LABEL }).waitFor();
  await both(page, 'login-with-captcha');

  // The third party's consent, after signing in with the captcha solved (the hint names the
  // account the captcha is due for).
  await page.goto(thirdParty.loginUrl({ login_hint: user.email }));
  await page.locator('.h-captcha button', { hasText: WIDGET_LABEL }).click();
  await page.locator('.h-captcha[data-stand-in="solved"]').waitFor();
  await submitLogin(page, user.email, user.password);
  assert.equal(await hostedPage(page), 'consent', await page.content());
  await both(page, 'consent');
  await decide(page, 'allow');
  thirdParty.lastSuccess();

  await page.goto(`${server.url}/oauth/authorize?client_id=no-such-client&response_type=code`);
  await both(page, 'error');

  await page.goto(`${server.url}/oauth/logout`);
  assert.equal(await hostedPage(page), 'logout-confirm', await page.content());
  await both(page, 'logout-confirm');
  await decide(page, 'logout');
  assert.match(await page.locator('main').innerText(), /signed out/i);
  await both(page, 'logged-out');

  // The account pages, with links made the way the mails make them.
  const account = (await findUserByEmail(server.services.db, user.email))!;
  const link = (purpose: 'verify_email' | 'password_reset') =>
    issueAccountToken(server.services.db, {
      userId: account.id,
      purpose,
      email: account.email,
      ttlSeconds: 600,
      ...(purpose === 'verify_email' ? { passwordHash: account.password_hash } : {}),
    });
  await page.goto(`${server.url}/account/verify-email?token=${await link('verify_email')}`);
  await both(page, 'verify-email');
  await page.goto(`${server.url}/account/password-reset`);
  await both(page, 'password-reset');
  await page.locator('input[name="email"]').fill('someone@example.com');
  await page.locator('button[type="submit"]').click();
  await page
    .locator('main')
    .getByText(/we sent a link/i)
    .waitFor();
  await both(page, 'password-reset-sent');
  await page.goto(`${server.url}/account/password-reset/confirm?token=${await link('password_reset')}`);
  await page.locator('input[name="password"]').waitFor();
  await both(page, 'password-reset-confirm');

  assert.deepEqual(watch.cspViolations(), [], 'no page broke its CSP');
  watch.assertClean('screenshots');
});
