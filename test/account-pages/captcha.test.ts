// The captcha on the reset request page: requests count like failed logins, so once they
// reach CAPTCHA_AFTER_FAILURES for an address (or CAPTCHA_AFTER_IP_FAILURES from an IP) the
// form comes back (401) with the provider's widget, and only an answer the provider's
// siteverify (a real HTTP stand-in) accepts gets a mail sent.
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { uniqueEmail } from '../helpers/build.js';
import { HtmlAgent, type AgentPage } from '../helpers/html-agent.js';
import { startSiteverify } from '../helpers/siteverify-stand-in.js';
import { accountWorld, assertPageHeaders, mailedLink, textOf, verifiedUser } from './helpers.js';

const SITEKEY = 'test-sitekey';
const SCRIPT_URL = 'https://js.hcaptcha.com/1/api.js';

const hasWidget = (page: AgentPage) =>
  page.body.includes(`<div class="h-captcha" data-sitekey="${SITEKEY}"></div>`) &&
  new RegExp(`<script src="${SCRIPT_URL.replace(/[.]/g, '\\.')}" nonce="[^"]+" async defer></script>`).test(page.body);

test('the captcha on the reset request page', async (t) => {
  const siteverify = await startSiteverify({ goodAnswer: /^good-answer/ });
  t.after(() => siteverify.close());
  const { server, smtp } = await accountWorld(t, {
    CAPTCHA_PROVIDER: 'hcaptcha',
    CAPTCHA_SECRET: 'test-captcha-secret-not-real',
    CAPTCHA_SITEKEY: SITEKEY,
    CAPTCHA_VERIFY_URL: siteverify.url,
    CAPTCHA_SCRIPT_URL: SCRIPT_URL,
    CAPTCHA_AFTER_FAILURES: '3',
    CAPTCHA_AFTER_IP_FAILURES: '8',
  });
  const form = `${server.url}/account/password-reset`;
  const mails = (to: string) =>
    smtp.received.filter((m) => m.to.includes(to) && m.headers.get('x-mail-kind') === 'password_reset');

  await t.test('the address’s fourth request brings the widget; only a good answer sends the mail', async () => {
    const user = await verifiedUser(server);
    const agent = new HtmlAgent();
    let page = await agent.get(form);
    assert.equal(page.status, 200);
    assert.ok(!hasWidget(page), 'no widget before any request');
    assert.doesNotMatch(page.body, /<script/, 'no script while no captcha is due');
    for (let i = 1; i <= 3; i++) {
      page = await agent.submitForm(await agent.get(form), { fields: { email: user.email } });
      assert.equal(page.status, 200, `request ${i}`);
    }
    await mailedLink(smtp, user.email, 'password_reset', 2);

    const demanded = await agent.submitForm(await agent.get(form), { fields: { email: user.email } });
    assert.equal(demanded.status, 401);
    assert.ok(hasWidget(demanded), demanded.body);
    assert.match(textOf(demanded), /Please complete the check below and try again/);
    assert.match(demanded.body, new RegExp(`value="${user.email.replace(/[.]/g, '\\.')}"`), 'the address kept');
    assertPageHeaders(demanded, 'captcha form', { tokenInUrl: false });
    const csp = demanded.headers.get('content-security-policy')!;
    const nonce = /'nonce-([^']+)'/.exec(csp)![1]!;
    assert.ok(demanded.body.includes(`nonce="${nonce}"`), 'the script carries this answer’s nonce');
    assert.match(csp, /script-src [^;]*https:\/\/js\.hcaptcha\.com/);
    assert.match(csp, /frame-src [^;]*https:\/\/\*\.hcaptcha\.com/);

    const wrong = await agent.submitForm(demanded, { fields: { 'h-captcha-response': 'bad-answer' } });
    assert.equal(wrong.status, 401);
    assert.ok(hasWidget(wrong));
    assert.match(textOf(wrong), /The check could not be verified/);
    assert.ok(
      siteverify.received.some((r) => r.response === 'bad-answer'),
      'siteverify was asked',
    );

    const solved = await agent.submitForm(wrong, { fields: { 'h-captcha-response': 'good-answer-1' } });
    assert.equal(solved.status, 200, solved.body);
    assert.match(textOf(solved), /If an account exists for that address, we sent a link/);
    await mailedLink(smtp, user.email, 'password_reset', 3);
    assert.equal(mails(user.email).length, 4, 'three before the captcha, one after the good answer');
  });

  await t.test('once the IP is over its threshold, the form is shown with the widget at once', async () => {
    const agent = new HtmlAgent();
    let last: AgentPage | undefined;
    for (let i = 0; i < 10; i++) {
      last = await agent.submitForm(await agent.get(form), { fields: { email: uniqueEmail('ip') } });
      if (last.status === 401) break;
    }
    assert.equal(last?.status, 401, 'the IP reached CAPTCHA_AFTER_IP_FAILURES');
    const page = await agent.get(form);
    assert.equal(page.status, 200);
    assert.ok(hasWidget(page), 'the widget on the first view');
  });
});
