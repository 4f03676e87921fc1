// The hosted account pages over real HTTP, walked by the HTML agent as a browser would
// (GET the page, read its form, POST it with the cookies and request metadata a browser
// sends), with the mails taken by a real SMTP server: confirming an address, asking for a
// reset link, choosing the new password; and what a forger or a hostile link gets.
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { GOOD_PASSWORD, uniqueEmail, userWithRoles } from '../helpers/build.js';
import { HtmlAgent, parseForms, type AgentPage } from '../helpers/html-agent.js';
import { accountWorld, assertPageHeaders, jsonLogin, mailedLink, textOf, verifiedUser } from './helpers.js';

const NEW_PASSWORD = 'amber-willow-canyon-93';

/** The one form of a page, its controls by name. */
function formOf(page: AgentPage) {
  const forms = parseForms(page.body, page.url).filter((f) => f.method === 'post');
  assert.equal(forms.length, 1, `one form on ${page.url}: ${page.body}`);
  return { ...forms[0]!, fields: Object.fromEntries(forms[0]!.controls) };
}

test('account pages', async (t) => {
  const { server, smtp } = await accountWorld(t);
  const db = server.services.db;
  const base = server.url;

  await t.test('registration: the mailed link opens a page that confirms only when its button is pressed', async () => {
    const email = uniqueEmail('verify');
    const reg = await fetch(`${base}/users`, {
      method: 'POST',
      headers: { 'content-type': 'application/json' },
      body: JSON.stringify({ email, password: GOOD_PASSWORD }),
    });
    assert.equal(reg.status, 201);
    const link = await mailedLink(smtp, email, 'verify_email');
    assert.equal(new URL(link).pathname, '/account/verify-email');
    const token = new URL(link).searchParams.get('token')!;

    const agent = new HtmlAgent();
    const page = await agent.get(link);
    assert.equal(page.status, 200);
    assertPageHeaders(page, 'verify page', { tokenInUrl: true });
    const form = formOf(page);
    assert.equal(form.action, `${base}/account/verify-email`);
    assert.equal(form.fields.token, token, 'the token in a hidden field');
    assert.ok(form.fields.csrf_token, 'a CSRF token');
    assert.deepEqual(
      form.buttons.map((b) => b.text),
      ['Confirm my email address'],
    );
    // A mail scanner or a link preview opening the link, any number of times, confirms nothing.
    await agent.get(link);
    await new HtmlAgent().get(link);
    assert.equal((await jsonLogin(server, email, GOOD_PASSWORD)).body.error, 'email_not_verified');

    const done = await agent.submitForm(page);
    assert.equal(done.status, 200, done.body);
    assert.match(textOf(done), /Your address is confirmed, you can sign in now/);
    assertPageHeaders(done, 'verified page', { tokenInUrl: false });
    assert.equal((await jsonLogin(server, email, GOOD_PASSWORD)).status, 200, 'signs in now');

    const again = await agent.submitForm(page);
    assert.equal(again.status, 400, 'a link works once');
    assert.match(textOf(again), /The link is invalid, has expired or was already used/);
  });

  await t.test(
    'forgot password: request on the page, the mail, the new password; the old one stops working',
    async () => {
      const user = await verifiedUser(server);
      const agent = new HtmlAgent();
      const login = await jsonLogin(server, user.email, user.password);
      assert.equal(login.status, 200);

      const request = await agent.get(`${base}/account/password-reset`);
      assert.equal(request.status, 200);
      assertPageHeaders(request, 'request page', { tokenInUrl: false });
      assert.match(request.body, /<input id="email" name="email" type="email" autocomplete="username"[^>]* required/);
      const sent = await agent.submitForm(request, { fields: { email: user.email } });
      assert.equal(sent.status, 200, sent.body);
      assertPageHeaders(sent, 'sent page', { tokenInUrl: false });
      assert.match(textOf(sent), /If an account exists for that address, we sent a link\. It works for 30 minutes\./);
      assert.doesNotMatch(
        sent.body,
        new RegExp(user.email.replace(/[.]/g, '\\.')),
        'the page does not repeat the address',
      );

      const link = await mailedLink(smtp, user.email, 'password_reset');
      assert.equal(new URL(link).pathname, '/account/password-reset/confirm');
      const choose = await agent.get(link);
      assert.equal(choose.status, 200, choose.body);
      assertPageHeaders(choose, 'confirm page', { tokenInUrl: true });
      assert.match(choose.body, /<h1>Choose a new password<\/h1>/);
      assert.match(choose.body, /<input id="password" name="password" type="password" autocomplete="new-password"/);
      assert.doesNotMatch(choose.body, /autocomplete="username"/, 'the link does not reveal the address');
      assert.equal(formOf(choose).fields.token, new URL(link).searchParams.get('token'));

      const weak = await agent.submitForm(choose, { fields: { password: 'password' } });
      assert.equal(weak.status, 400);
      assert.match(textOf(weak), /The password is too (short|common)/, 'the policy’s message');
      assert.match(weak.body, /<h1>Choose a new password<\/h1>/, 'the form again');
      assert.equal((await agent.get(link)).status, 200, 'a refused password costs no link');

      const saved = await agent.submitForm(weak, { fields: { password: NEW_PASSWORD } });
      assert.equal(saved.status, 200, saved.body);
      assert.match(textOf(saved), /Your new password is set\. You can sign in with it now\./);
      assert.equal((await jsonLogin(server, user.email, user.password)).status, 401, 'the old password fails');
      assert.equal((await jsonLogin(server, user.email, NEW_PASSWORD)).status, 200, 'the new one signs in');
      await smtp.waitFor(user.email, { kind: 'password_changed' }); // its owner is told

      const used = await agent.get(link);
      assert.equal(used.status, 400);
      assertPageHeaders(used, 'used link', { tokenInUrl: true });
      assert.match(textOf(used), /The link is invalid, has expired or was already used/);
      assert.match(used.body, /<a href="\/account\/password-reset">Ask for a new link<\/a>/);
      assert.equal((await agent.submitForm(choose, { fields: { password: 'another-fine-phrase-77' } })).status, 400);
    },
  );

  await t.test('an unknown address gets the very same page, and no mail', async () => {
    const known = await verifiedUser(server);
    const unknown = uniqueEmail('nobody');
    const agent = new HtmlAgent();
    const a = await agent.submitForm(await agent.get(`${base}/account/password-reset`), {
      fields: { email: known.email },
    });
    const b = await agent.submitForm(await agent.get(`${base}/account/password-reset`), { fields: { email: unknown } });
    assert.equal(a.status, 200);
    assert.equal(b.status, 200);
    assert.equal(a.body, b.body);
    await mailedLink(smtp, known.email, 'password_reset');
    await new Promise((resolve) => setTimeout(resolve, 300));
    assert.equal(smtp.received.filter((m) => m.to.includes(unknown)).length, 0);
  });

  await t.test('forged forms are refused: a wrong CSRF token, another browser’s form, another site', async () => {
    const user = await verifiedUser(server);
    const victim = new HtmlAgent();
    await victim.submitForm(await victim.get(`${base}/account/password-reset`), { fields: { email: user.email } });
    const link = await mailedLink(smtp, user.email, 'password_reset');
    const choose = await victim.get(link);
    const fields = formOf(choose).fields;
    const attempt = (agent: HtmlAgent, body: Record<string, string>, headers: Record<string, string> = {}) =>
      agent.post(`${base}/account/password-reset/confirm`, body, { headers });

    const wrong = await attempt(
      victim,
      { ...fields, password: NEW_PASSWORD, csrf_token: 'A'.repeat(43) },
      {
        origin: base,
        'sec-fetch-site': 'same-origin',
      },
    );
    assert.equal(wrong.status, 403);
    assert.match(textOf(wrong), /This form could not be accepted/);
    // The attacker's own browser: the form's fields, but not the victim's binding cookie.
    const attacker = new HtmlAgent();
    await attacker.get(`${base}/account/password-reset`);
    const stolen = await attempt(attacker, { ...fields, password: NEW_PASSWORD }, { origin: base });
    assert.equal(stolen.status, 403);
    // The victim's browser, posting from another site (the right token, somehow known).
    const crossSite = await attempt(
      victim,
      { ...fields, password: NEW_PASSWORD },
      {
        origin: 'https://evil.example',
        'sec-fetch-site': 'cross-site',
      },
    );
    assert.equal(crossSite.status, 403);
    assert.equal((await jsonLogin(server, user.email, user.password)).status, 200, 'the password did not change');
    assert.equal((await victim.get(link)).status, 200, 'the link still works');

    const request = await victim.get(`${base}/account/password-reset`);
    const forgedRequest = await victim.post(
      `${base}/account/password-reset`,
      { ...formOf(request).fields, email: user.email, csrf_token: 'B'.repeat(43) },
      { headers: { origin: base } },
    );
    assert.equal(forgedRequest.status, 403);

    const email = uniqueEmail('forged');
    await fetch(`${base}/users`, {
      method: 'POST',
      headers: { 'content-type': 'application/json' },
      body: JSON.stringify({ email, password: GOOD_PASSWORD }),
    });
    const verifyLink = await mailedLink(smtp, email, 'verify_email');
    const verifyPage = await victim.get(verifyLink);
    const forgedVerify = await new HtmlAgent().post(`${base}/account/verify-email`, formOf(verifyPage).fields, {
      headers: { origin: base },
    });
    assert.equal(forgedVerify.status, 403);
    assert.equal((await jsonLogin(server, email, GOOD_PASSWORD)).body.error, 'email_not_verified');
  });

  await t.test('a hostile or malformed token gets the invalid-link page and is never echoed', async () => {
    const agent = new HtmlAgent();
    const hostile = [
      '<script>alert(1)</script>',
      '"><img src=x onerror=alert(1)>',
      'A'.repeat(42),
      'A'.repeat(44),
      `${'A'.repeat(42)}=`,
      '',
    ];
    for (const path of ['/account/verify-email', '/account/password-reset/confirm']) {
      for (const token of hostile) {
        const page = await agent.get(`${base}${path}?token=${encodeURIComponent(token)}`);
        assert.equal(page.status, 400, `${path} ${token}`);
        assertPageHeaders(page, `${path} ${token}`, { tokenInUrl: true });
        assert.match(textOf(page), /The link is invalid, has expired or was already used/);
        assert.doesNotMatch(page.body, /<script>alert|<img src=x|onerror|&lt;script|&lt;img/, 'not echoed');
        assert.equal(parseForms(page.body, page.url).length, 0, 'no form to submit');
      }
      const missing = await agent.get(`${base}${path}`);
      assert.equal(missing.status, 400);
      // Well formed but unknown: the reset page knows at once, the verify page when pressed.
      const unknown = await agent.get(`${base}${path}?token=${'x'.repeat(43)}`);
      if (path.includes('confirm')) assert.equal(unknown.status, 400);
      else {
        assert.equal(unknown.status, 200);
        const pressed = await agent.submitForm(unknown);
        assert.equal(pressed.status, 400);
        assert.match(textOf(pressed), /The link is invalid/);
      }
    }
    // The token of a posted form is held to the link pattern too.
    const request = await agent.get(`${base}/account/verify-email?token=${'y'.repeat(43)}`);
    const tampered = await agent.submitForm(request, { fields: { token: '<script>alert(1)</script>' } });
    assert.equal(tampered.status, 400);
    assert.doesNotMatch(tampered.body, /<script>alert|&lt;script/);
  });

  await t.test('parallel presses of one reset form: one password is set, the others get the invalid link', async () => {
    const user = await verifiedUser(server);
    const agent = new HtmlAgent();
    await agent.submitForm(await agent.get(`${base}/account/password-reset`), { fields: { email: user.email } });
    const choose = await agent.get(await mailedLink(smtp, user.email, 'password_reset'));
    const passwords = Array.from({ length: 8 }, (_, i) => `parallel-pass-phrase-${i}-ok`);
    const answers = await Promise.all(passwords.map((password) => agent.submitForm(choose, { fields: { password } })));
    const statuses = answers.map((a) => a.status).sort();
    assert.deepEqual(statuses, [200, ...Array(7).fill(400)], JSON.stringify(statuses));
    const winner = passwords[answers.findIndex((a) => a.status === 200)]!;
    for (const password of passwords)
      assert.equal((await jsonLogin(server, user.email, password)).status, password === winner ? 200 : 401);
    const [row] = await db.query<{ n: number }>(
      "SELECT count(*)::int AS n FROM security_events WHERE type = 'password_reset' AND user_id = $1",
      [user.id],
    );
    assert.equal(row?.n, 1, 'one reset recorded');
  });

  await t.test('parallel presses of one verification form: confirmed once', async () => {
    const email = uniqueEmail('burst');
    await fetch(`${base}/users`, {
      method: 'POST',
      headers: { 'content-type': 'application/json' },
      body: JSON.stringify({ email, password: GOOD_PASSWORD }),
    });
    const agent = new HtmlAgent();
    const page = await agent.get(await mailedLink(smtp, email, 'verify_email'));
    const answers = await Promise.all(Array.from({ length: 8 }, () => agent.submitForm(page)));
    assert.deepEqual(answers.map((a) => a.status).sort(), [200, ...Array(7).fill(400)]);
    assert.equal((await jsonLogin(server, email, GOOD_PASSWORD)).status, 200);
  });

  await t.test('an invitation link asks to set the password, and sets it', async () => {
    const admin = await userWithRoles(server, ['admin']);
    const email = uniqueEmail('invited');
    const created = await server.app.inject({
      method: 'POST',
      url: '/admin/users',
      headers: admin.auth,
      payload: { email, invite: true },
    });
    assert.equal(created.statusCode, 201, created.body);
    const agent = new HtmlAgent();
    const page = await agent.get(await mailedLink(smtp, email, 'invitation'));
    assert.equal(page.status, 200, page.body);
    assert.match(page.body, /<h1>Set your password<\/h1>/);
    const saved = await agent.submitForm(page, { fields: { password: NEW_PASSWORD } });
    assert.equal(saved.status, 200, saved.body);
    assert.equal((await jsonLogin(server, email, NEW_PASSWORD)).status, 200);
  });

  await t.test('the login page links to the request form', async () => {
    const { createPages } = await import('../../src/pages/pages.js');
    const login = createPages({ brandName: 'T', captcha: { provider: 'none', scriptUrl: '' } }).login({
      clientName: 'App',
      action: '/oauth/authorize/login',
      hidden: {},
      captcha: false,
      formActions: [],
    });
    assert.match(login.html, /<a href="\/account\/password-reset">Forgot your password\?<\/a>/);
    assert.equal((await new HtmlAgent().get(`${base}/account/password-reset`)).status, 200, 'and it is there');
  });
});
