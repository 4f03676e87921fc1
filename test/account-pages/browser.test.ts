// The forgot-password flow in Chromium, end to end: the request form, the mail (a real SMTP
// server), the link's page, the new password; under the pages' CSP without a violation, and
// without the link's token ever leaving in a Referer.
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { launchBrowser, watchedPage } from '../helpers/browser.js';
import { accountWorld, jsonLogin, mailedLink, verifiedUser } from './helpers.js';

const NEW_PASSWORD = 'copper-meadow-lantern-58';

test('forgot password in a browser', async (t) => {
  const { server, smtp } = await accountWorld(t);
  const user = await verifiedUser(server);
  const browser = await launchBrowser(t);
  const watch = await watchedPage(browser);
  const { page, context } = watch;
  const referers: string[] = [];
  context.on('request', (request) => {
    const referer = request.headers().referer;
    if (referer) referers.push(referer);
  });
  const postTo = (path: string) =>
    page.waitForResponse((r) => r.request().method() === 'POST' && new URL(r.url()).pathname === path);

  await page.goto(`${server.url}/account/password-reset`);
  assert.equal(await page.locator('h1').innerText(), 'Reset your password');
  await page.locator('#email').fill(user.email);
  const [requested] = await Promise.all([
    postTo('/account/password-reset'),
    page.locator('button[type=submit]').click(),
  ]);
  assert.equal(requested.status(), 200);
  await page.getByText('If an account exists for that address, we sent a link.').waitFor();

  const link = await mailedLink(smtp, user.email, 'password_reset');
  const token = new URL(link).searchParams.get('token')!;
  const opened = await page.goto(link);
  assert.equal(opened?.status(), 200);
  assert.equal(await page.locator('h1').innerText(), 'Choose a new password');
  assert.equal(await page.evaluate<number>('document.styleSheets.length'), 1, 'the stylesheet loaded');
  await page.locator('#password').fill(NEW_PASSWORD);
  const [saved] = await Promise.all([
    postTo('/account/password-reset/confirm'),
    page.getByRole('button', { name: 'Save the password' }).click(),
  ]);
  assert.equal(saved.status(), 200, 'the form post passed the CSRF and origin checks');
  await page.getByText('Your new password is set. You can sign in with it now.').waitFor();

  assert.deepEqual(watch.cspViolations(), [], 'no CSP violation on any page');
  watch.assertClean('forgot password');
  assert.ok(!referers.some((r) => r.includes(token)), `the token in no Referer: ${referers.join(', ')}`);
  assert.equal((await jsonLogin(server, user.email, user.password)).status, 401, 'the old password fails');
  assert.equal((await jsonLogin(server, user.email, NEW_PASSWORD)).status, 200, 'the new one signs in');

  const used = await page.goto(link);
  assert.equal(used?.status(), 400);
  assert.equal(await page.locator('h1').innerText(), 'This link does not work');
  await page.getByRole('link', { name: 'Ask for a new link' }).click();
  await page.waitForURL(`${server.url}/account/password-reset`);
  watch.assertClean('the used link');
});
