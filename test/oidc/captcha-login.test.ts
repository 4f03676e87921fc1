// The captcha on the hosted login page, in Chromium: after CAPTCHA_AFTER_FAILURES wrong
// passwords the page holds the provider's widget and loads its script (a local stand-in
// for hCaptcha's, allowed by the page's CSP); a wrong answer is refused, the right one,
// put in the form by the widget when clicked, gets through to the relying party.
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { launchBrowser, watchedPage } from '../helpers/browser.js';
import { WIDGET_DONE_LABEL, WIDGET_LABEL, startCaptchaWidget } from '../helpers/captcha-widget-stand-in.js';
import { HtmlAgent } from '../helpers/html-agent.js';
import { cspNonce, hostedPage, submitLogin, world } from './helpers.js';

test('the captcha widget on the login page', async (t) => {
  const captcha = await startCaptchaWidget(t, 'hcaptcha');
  const w = await world(t, { ...captcha.env, CAPTCHA_AFTER_FAILURES: '3', CAPTCHA_AFTER_IP_FAILURES: '100000' });
  const { user, firstParty } = w;
  const browser = await launchBrowser(t);
  const watch = await watchedPage(browser);
  const { page } = watch;

  const loginPost = () =>
    page.waitForResponse((r) => r.request().method() === 'POST' && r.url().includes('/oauth/authorize'));
  const solve = async () => {
    const button = page.locator('.h-captcha button', { hasText: WIDGET_LABEL });
    await button.click();
    await page.locator('.h-captcha button', { hasText: WIDGET_DONE_LABEL }).waitFor();
  };

  await t.test('no widget before any failure; the page loads no captcha script', async () => {
    await page.goto(firstParty.loginUrl());
    assert.equal(await hostedPage(page), 'login');
    assert.equal(await page.locator('.h-captcha').count(), 0);
    // Only our own passkey script (same origin, under the page's nonce), no provider's.
    const scripts = await page.locator('script').evaluateAll((all) => all.map((s) => s.getAttribute('src') ?? ''));
    assert.deepEqual(
      scripts.map((src) => src.split('?')[0]),
      ['/assets/passkey.js'],
      'no captcha script while no captcha is due',
    );
    assert.equal(captcha.scriptLoads(), 0);
  });

  await t.test('three wrong passwords: 401 each time, then the widget from CAPTCHA_SCRIPT_URL', async () => {
    let csp: string | undefined;
    for (let i = 1; i <= 3; i++) {
      const [response] = await Promise.all([loginPost(), submitLogin(page, user.email, `wrong-password-${i}`)]);
      assert.equal(response.status(), 401, `attempt ${i}`);
      assert.equal(await hostedPage(page), 'login');
      csp = response.headers()['content-security-policy'];
    }
    const widget = page.locator('form .h-captcha');
    assert.equal(await widget.count(), 1, `the widget is in the form: ${await page.content()}`);
    assert.equal(await widget.getAttribute('data-sitekey'), captcha.sitekey);
    const script = page.locator(`script[src="${captcha.scriptUrl}"]`);
    assert.equal(await script.count(), 1, 'the provider script is loaded from CAPTCHA_SCRIPT_URL');
    // Chromium hides the nonce attribute once parsed; the property keeps it.
    const nonce = await page.evaluate<string>(`document.querySelector('script[src]').nonce`);
    assert.equal(nonce, cspNonce(csp), "with the answer's CSP nonce");
    for (const directive of ['script-src', 'connect-src'])
      assert.match(
        csp ?? '',
        new RegExp(`${directive}[^;]* ${captcha.origin.replace(/[.]/g, '\\.')}`),
        `${directive} allows the stand-in`,
      );
    await page.locator('.h-captcha button', { hasText: WIDGET_LABEL }).waitFor();
    assert.ok(captcha.scriptLoads() >= 1);
    assert.deepEqual(watch.cspViolations(), [], 'the CSP lets the widget script run and fetch');
    watch.assertClean('captcha page');
  });

  await t.test('the right password without solving the widget: refused, widget again', async () => {
    const [response] = await Promise.all([loginPost(), submitLogin(page, user.email, user.password)]);
    assert.equal(response.status(), 401);
    assert.equal(await page.locator('form .h-captcha').count(), 1);
    assert.equal(firstParty.callbacks.length, 0);
  });

  await t.test('a wrong answer (clicked) with the right password: refused', async () => {
    captcha.setAnswer('bad');
    await page.locator('.h-captcha button', { hasText: WIDGET_LABEL }).waitFor();
    await solve();
    const answer = captcha.answers.at(-1)!;
    const [response] = await Promise.all([loginPost(), submitLogin(page, user.email, user.password)]);
    assert.equal(response.status(), 401);
    assert.equal(await page.locator('form .h-captcha').count(), 1, 'the widget again');
    assert.equal(firstParty.callbacks.length, 0, 'no code reached the relying party');
    assert.ok(
      captcha.siteverify.received.some((r) => r.response === answer && r.secret === captcha.secret),
      'Tessera asked siteverify about the answer the widget put in the form',
    );
  });

  await t.test('the right answer (clicked) with the right password: signed in', async () => {
    captcha.setAnswer('good');
    await page.locator('.h-captcha button', { hasText: WIDGET_LABEL }).waitFor();
    await solve();
    const answer = captcha.answers.at(-1)!;
    assert.equal(await page.locator('input[name="h-captcha-response"]').inputValue(), answer);
    await submitLogin(page, user.email, user.password);
    assert.equal(await page.locator('#result').innerText(), 'signed in', await page.content());
    const { claims } = firstParty.lastSuccess();
    assert.equal(claims.sub, user.id);
    const asked = captcha.siteverify.received.find((r) => r.response === answer);
    assert.ok(asked, 'the answer was verified server-side');
    assert.equal(asked.sitekey, captcha.sitekey);
    watch.assertClean('captcha login');
  });

  await t.test('without a browser: a replayed answer is refused', async () => {
    // The answer that just passed, posted again by a script with the right password.
    const used = captcha.answers.at(-1)!;
    const agent = new HtmlAgent();
    let page = await agent.get(firstParty.loginUrl(), { follow: true });
    for (let i = 1; i <= 3; i++)
      page = await agent.submitForm(page, { fields: { email: user.email, password: `nope-${i}` } });
    assert.equal(page.status, 401);
    assert.match(page.body, /class="h-captcha"/);
    const replay = await agent.submitForm(page, {
      fields: { email: user.email, password: user.password, 'h-captcha-response': used },
    });
    assert.equal(replay.status, 401, 'an answer passes once');
    assert.match(replay.body, /class="h-captcha"/);
  });
});
