// The second factors on the hosted login page, in headless Chromium against a listening
// Tessera and an openid-client relying party: password then TOTP (codes computed here,
// RFC 6238), a wrong and a replayed code, a recovery code once, a passkey (Chromium's
// virtual authenticator) as the second step and passwordless, and the TOTP enrolment the
// policy forces. Screenshots of the new pages, light and dark (UPDATE_SCREENSHOTS=1 writes them).
import { test } from 'node:test';
import assert from 'node:assert/strict';
import type { BrowserContext, Page } from 'playwright-core';
import { launchBrowser, screenshotBoth as both, watchedPage, type WatchedPage } from '../helpers/browser.js';
import { GOOD_PASSWORD, userWithRoles } from '../helpers/build.js';
import type { LiveServer } from '../helpers/live-server.js';
import { freshStep, totpCode } from '../helpers/totp.js';
import { hostedPage, submitLogin, world } from './helpers.js';

const MFA_FORM = 'form[action$="/oauth/authorize/mfa"]';
const TOTP_FORM = `${MFA_FORM}:has(input[name="method"][value="totp"])`;
const RECOVERY_FORM = `${MFA_FORM}:has(input[name="method"][value="recovery_code"])`;
const SESSION_COOKIE = '__Host-tessera-session';

async function api(server: LiveServer, path: string, token: string | undefined, body: unknown) {
  const res = await fetch(`${server.url}${path}`, {
    method: 'POST',
    headers: {
      ...(body === undefined ? {} : { 'content-type': 'application/json' }),
      ...(token ? { authorization: `Bearer ${token}` } : {}),
    },
    body: body === undefined ? undefined : JSON.stringify(body),
  });
  const text = await res.text();
  return { status: res.status, body: text ? (JSON.parse(text) as Record<string, unknown>) : {} };
}

async function accessToken(server: LiveServer, email: string, password: string): Promise<string> {
  const res = await api(server, '/auth/login', undefined, { email, password });
  assert.equal(res.status, 200, JSON.stringify(res.body));
  return String(res.body.access_token);
}

/** TOTP enrolled through the API with a code of the current step: its secret and recovery codes. */
async function enrolTotp(server: LiveServer, token: string) {
  const started = await api(server, '/users/me/mfa/totp', token, {});
  assert.equal(started.status, 201, JSON.stringify(started.body));
  const secret = String(started.body.secret);
  const confirmed = await api(server, '/users/me/mfa/totp/confirm', token, { code: totpCode(secret) });
  assert.equal(confirmed.status, 200, JSON.stringify(confirmed.body));
  return { secret, recoveryCodes: confirmed.body.recovery_codes as string[] };
}

/** Chromium's CTAP2 platform authenticator with resident keys and user verification. */
async function virtualAuthenticator(context: BrowserContext, page: Page): Promise<void> {
  const cdp = await context.newCDPSession(page);
  await cdp.send('WebAuthn.enable');
  await cdp.send('WebAuthn.addVirtualAuthenticator', {
    options: {
      protocol: 'ctap2',
      transport: 'internal',
      hasResidentKey: true,
      hasUserVerification: true,
      isUserVerified: true,
      automaticPresenceSimulation: true,
    },
  });
}

/** A passkey registered through the API, created by the page's authenticator at the issuer's origin. */
async function registerPasskey(server: LiveServer, page: Page, token: string): Promise<void> {
  const options = await api(server, '/users/me/mfa/webauthn/register/options', token, undefined);
  assert.equal(options.status, 200, JSON.stringify(options.body));
  await page.goto(`${server.url}/.well-known/openid-configuration`);
  const credential = await page.evaluate<unknown>(`(async () => {
    const publicKey = PublicKeyCredential.parseCreationOptionsFromJSON(${JSON.stringify(options.body)});
    const created = await navigator.credentials.create({ publicKey });
    return created.toJSON();
  })()`);
  const verified = await api(server, '/users/me/mfa/webauthn/register/verify', token, { credential, label: 'Laptop' });
  assert.equal(verified.status, 200, JSON.stringify(verified.body));
}

async function submitCode(page: Page, form: string, code: string, button = 'Verify'): Promise<void> {
  await page.locator(`${form} input[name="code"]`).fill(code);
  await Promise.all([
    page.waitForNavigation({ waitUntil: 'load' }),
    page.locator(`${form} button[type="submit"]`, { hasText: button }).click(),
  ]);
}

async function clickAndWait(page: Page, selector: string): Promise<void> {
  await Promise.all([page.waitForNavigation({ waitUntil: 'load' }), page.locator(selector).click()]);
}

const hasSession = async (context: BrowserContext, url: string) =>
  (await context.cookies(url)).some((c) => c.name === SESSION_COOKIE && c.value !== '');

/** No dialog, no script error, no CSP report, no console error but the statuses of answers. */
function assertQuiet(watch: WatchedPage, what: string): void {
  watch.assertClean(what);
  assert.deepEqual(watch.cspViolations(), [], `${what}: no CSP report`);
  const errors = watch.consoleErrors.filter(
    (e) => !/Failed to load resource: the server responded with a status of 40[134]/.test(e),
  );
  assert.deepEqual(errors, [], `${what}: no console error`);
}

const messageOf = (page: Page) => page.locator('[role="alert"]:visible').innerText();

test('the second step on the hosted login page: TOTP, recovery code, passkey, passwordless', async (t) => {
  const w = await world(t, {}, { email: 'grace.hopper@example.com' });
  const { server, user, firstParty } = w;
  const browser = await launchBrowser(t);
  const token = await accessToken(server, user.email, user.password);
  await freshStep(20);
  const { secret, recoveryCodes } = await enrolTotp(server, token);
  // The enrolment used this step's code; the next step's is good (±1 step) and unused.
  const nextCode = totpCode(secret, 1);

  await t.test('password then TOTP: the relying party gets a code, the ID token says otp and mfa', async () => {
    const watch = await watchedPage(browser);
    const { page, context } = watch;
    await page.goto(firstParty.loginUrl());
    await submitLogin(page, user.email, user.password);
    assert.equal(await page.locator(MFA_FORM).count(), 2, 'the TOTP and recovery code forms');
    assert.equal(await hasSession(context, server.url), false, 'no browser session after the password alone');
    const code = page.locator(`${TOTP_FORM} input#code`);
    assert.equal(await code.getAttribute('autocomplete'), 'one-time-code');
    assert.equal(await code.getAttribute('inputmode'), 'numeric');
    assert.equal(await page.locator('form.passkey').count(), 0, 'no passkey button without a passkey');
    await both(page, 'mfa');
    await submitCode(page, TOTP_FORM, nextCode);
    assert.equal(page.url().split('?')[0], firstParty.callbackUrl, await page.content());
    const { claims } = firstParty.lastSuccess();
    assert.equal(claims.sub, user.id);
    assert.ok(
      (claims.amr as string[]).includes('otp') && (claims.amr as string[]).includes('mfa'),
      JSON.stringify(claims.amr),
    );
    assert.equal(claims.acr, 'mfa');
    assertQuiet(watch, 'TOTP login');
    await context.close();
  });

  await t.test('a wrong code shows the message and the form again, and opens no session', async (st) => {
    const watch = await watchedPage(browser);
    const { page, context } = watch;
    await page.goto(firstParty.loginUrl());
    await submitLogin(page, user.email, user.password);
    const valid = new Set([-1, 0, 1].map((o) => totpCode(secret, o)));
    const wrong = ['123456', '654321', '111111'].find((c) => !valid.has(c))!;
    await submitCode(page, TOTP_FORM, wrong);
    assert.equal(await messageOf(page), 'The code is incorrect.');
    assert.equal(await page.locator(`${MFA_FORM} input[name="mfa_token"]`).count(), 2, 'the same step again');
    assert.equal(await hasSession(context, server.url), false);

    await st.test('and a replayed code is refused like a wrong one', async () => {
      await submitCode(page, TOTP_FORM, nextCode);
      assert.equal(await messageOf(page), 'The code is incorrect.');
      assert.equal(await hasSession(context, server.url), false);
    });

    await st.test('a recovery code works, once', async () => {
      await page.locator('details.recovery summary').click();
      const form = RECOVERY_FORM;
      await submitCode(page, form, recoveryCodes[0]!, 'Use recovery code');
      assert.equal(page.url().split('?')[0], firstParty.callbackUrl, await page.content());
      const { claims } = firstParty.lastSuccess();
      assert.ok((claims.amr as string[]).includes('mfa'));

      const again = await watchedPage(browser);
      await again.page.goto(firstParty.loginUrl());
      await submitLogin(again.page, user.email, user.password);
      await again.page.locator('details.recovery summary').click();
      await submitCode(again.page, form, recoveryCodes[0]!, 'Use recovery code');
      assert.equal(await messageOf(again.page), 'The code is incorrect.');
      assert.equal(await hasSession(again.context, server.url), false);
      assertQuiet(again, 'recovery code reused');
      await again.context.close();
    });
    assertQuiet(watch, 'wrong code');
    await context.close();
  });

  await t.test('a passkey: as the second step, then passwordless from the login page', async () => {
    const watch = await watchedPage(browser);
    const { page, context } = watch;
    await virtualAuthenticator(context, page);
    await registerPasskey(server, page, token);

    await page.goto(firstParty.loginUrl());
    await submitLogin(page, user.email, user.password);
    const button = page.locator('form.passkey button', { hasText: 'Use a passkey' });
    await button.waitFor({ state: 'visible' });
    await Promise.all([page.waitForURL((url) => url.href.startsWith(firstParty.callbackUrl)), button.click()]);
    let claims = firstParty.lastSuccess().claims;
    assert.equal(claims.sub, user.id);
    assert.ok((claims.amr as string[]).includes('hwk'), JSON.stringify(claims.amr));
    assert.equal(claims.acr, 'phr');

    await page.goto(firstParty.loginUrl({ prompt: 'login' }));
    assert.equal(await hostedPage(page), 'login');
    const passwordless = page.locator('.passkey button', { hasText: 'Sign in with a passkey' });
    await passwordless.waitFor({ state: 'visible' });
    await Promise.all([page.waitForURL((url) => url.href.startsWith(firstParty.callbackUrl)), passwordless.click()]);
    claims = firstParty.lastSuccess().claims;
    assert.equal(claims.sub, user.id);
    assert.deepEqual(claims.amr, ['hwk', 'user', 'mfa']);
    assert.equal(claims.acr, 'phr');
    assertQuiet(watch, 'passkeys');
    await context.close();
  });
});

test('the policy makes an account without a factor enrol TOTP on the hosted page', async (t) => {
  // The policy covers moderators here: world() needs an admin whose API token keeps its
  // roles to register the clients, which an admin the policy covers has only after enrolling.
  const w = await world(t, { MFA_REQUIRED_ROLES: 'moderator' });
  const { server, firstParty } = w;
  const moderator = await userWithRoles(server, ['moderator']);
  const browser = await launchBrowser(t);
  const watch = await watchedPage(browser);
  const { page, context } = watch;

  await page.goto(firstParty.loginUrl());
  await submitLogin(page, moderator.email, GOOD_PASSWORD);
  const qr = page.locator('img[alt="QR code"]');
  assert.match(String(await qr.getAttribute('src')), /^data:image\/svg\+xml;base64,/);
  assert.ok(
    await page.evaluate<number>(`document.querySelector('img.qr').naturalWidth`),
    'the QR code image loads under the CSP',
  );
  const shown = await page.locator('#totp-secret').innerText();
  assert.match(shown, /^([A-Z2-7]{4} )*[A-Z2-7]{1,4}$/, 'the secret, in groups of four');
  const secret = shown.replace(/\s+/g, '');
  assert.match(String(await page.locator('a[href^="otpauth://totp/"]').getAttribute('href')), new RegExp(secret));
  assert.equal(await page.locator('input#code').getAttribute('autocomplete'), 'one-time-code');
  assert.equal(await hasSession(context, server.url), false);
  await both(page, 'mfa-enrol');

  await freshStep();
  const form = 'form[action$="/oauth/authorize/enrol"]';
  const valid = new Set([-1, 0, 1].map((o) => totpCode(secret, o)));
  await submitCode(
    page,
    form,
    ['123456', '654321', '111111'].find((c) => !valid.has(c))!,
    'Turn on',
  );
  assert.equal(await messageOf(page), 'The code is incorrect.');
  assert.equal((await page.locator('#totp-secret').innerText()).replace(/\s+/g, ''), secret, 'the same secret');

  await submitCode(page, form, totpCode(secret), 'Turn on');
  const codes = await page.locator('.recovery-codes code').allInnerTexts();
  assert.equal(codes.length, 10, await page.content());
  for (const code of codes) assert.match(code, /^[a-z2-9]{5}-[a-z2-9]{5}$/);
  await both(page, 'recovery-codes');
  await clickAndWait(page, 'form[action$="/oauth/authorize/continue"] button');
  assert.equal(page.url().split('?')[0], firstParty.callbackUrl, await page.content());
  const { claims } = firstParty.lastSuccess();
  assert.equal(claims.sub, moderator.id);
  assert.deepEqual(claims.amr, ['pwd', 'otp', 'mfa']);
  assert.equal(claims.acr, 'mfa');
  assertQuiet(watch, 'enrolment');
});
