// What an attacker can put on the hosted pages stays inert, in Chromium: script-shaped
// payloads in the client's name, login_hint, state, the email field and everything the
// error and logout pages could echo are rendered as text (no dialog opens, no element or
// handler is created). The CSP and framing are page-headers.test.ts's.
import { test } from 'node:test';
import assert from 'node:assert/strict';
import type { Page } from 'playwright-core';
import { launchBrowser, watchedPage, type WatchedPage } from '../helpers/browser.js';
import { XSS_PAYLOADS, decide, hostedPage, injectedElements, submitLogin, world } from './helpers.js';

const HOSTILE_NAME = XSS_PAYLOADS.join(' ');

test('hosted pages under hostile input', async (t) => {
  const w = await world(t, {}, { firstParty: HOSTILE_NAME, thirdParty: `${HOSTILE_NAME} (3rd)` });
  const { server, user, firstParty, thirdParty } = w;
  const browser = await launchBrowser(t);

  /** A fresh browser profile for each check, so that no session carries over (the last one is closed). */
  let current: WatchedPage | undefined;
  const fresh = async (): Promise<WatchedPage & { page: Page }> => {
    await current?.context.close();
    current = await watchedPage(browser);
    return current;
  };
  const assertInert = async (watch: WatchedPage, what: string) => {
    assert.deepEqual(await injectedElements(watch.page), [], `${what}: no element or handler from a payload`);
    watch.assertClean(what);
  };

  await t.test('the client name on the login and consent pages is text', async () => {
    const watch = await fresh();
    await watch.page.goto(firstParty.loginUrl());
    assert.equal(await hostedPage(watch.page), 'login');
    assert.ok((await watch.page.locator('main').innerText()).includes(HOSTILE_NAME), 'the name is shown as text');
    await assertInert(watch, 'login page');

    await watch.page.goto(thirdParty.loginUrl());
    await submitLogin(watch.page, user.email, user.password);
    assert.equal(await hostedPage(watch.page), 'consent', await watch.page.content());
    assert.ok((await watch.page.locator('main').innerText()).includes(`${HOSTILE_NAME} (3rd)`));
    await assertInert(watch, 'consent page');
    await decide(watch.page, 'deny');
    assert.equal(thirdParty.callbacks.at(-1)?.error?.error, 'access_denied');
    await assertInert(watch, 'after deny');
  });

  await t.test('login_hint: the email field holds it as text', async () => {
    const watch = await fresh();
    for (const payload of XSS_PAYLOADS) {
      await watch.page.goto(firstParty.loginUrl({ login_hint: payload }));
      assert.equal(await hostedPage(watch.page), 'login', await watch.page.content());
      assert.equal(await watch.page.locator('input[name="email"]').inputValue(), payload);
      await assertInert(watch, `login page with login_hint ${payload}`);
    }
  });

  await t.test('the email field: a wrong password re-renders it as text, with a generic message', async () => {
    const watch = await fresh();
    await watch.page.goto(firstParty.loginUrl());
    for (const payload of XSS_PAYLOADS) {
      const [response] = await Promise.all([
        watch.page.waitForResponse((r) => r.request().method() === 'POST'),
        submitLogin(watch.page, payload, 'not-the-password-1'),
      ]);
      assert.equal(response.status(), 401);
      assert.equal(await hostedPage(watch.page), 'login');
      assert.equal(
        await watch.page.locator('input[name="email"]').inputValue(),
        payload,
        'the email comes back as text',
      );
      const message = await watch.page.locator('main').innerText();
      assert.match(message, /incorrect|invalid|wrong/i, 'a message says the login failed');
      assert.doesNotMatch(
        message,
        /no account|not found|unknown|does not exist/i,
        'without saying which part was wrong',
      );
      await assertInert(watch, `wrong password, email ${payload}`);
    }
  });

  await t.test('state: returned exactly (codes and errors), never rendered', async () => {
    const watch = await fresh();
    for (const [i, payload] of XSS_PAYLOADS.entries()) {
      const state = `${payload}-${i}`;
      await watch.page.goto(firstParty.loginUrl({ state }));
      await assertInert(watch, 'login page with state');
      // A password the first time; single sign-on after that.
      if ((await hostedPage(watch.page)) === 'login') await submitLogin(watch.page, user.email, user.password);
      assert.equal(firstParty.lastSuccess().state, state, 'openid-client checked it against the one it sent');
      await assertInert(watch, 'callback with state');
    }
    // On an error response too: the third party's consent, denied.
    const state = XSS_PAYLOADS.join('');
    await watch.page.goto(thirdParty.loginUrl({ state }));
    assert.equal(await hostedPage(watch.page), 'consent');
    await decide(watch.page, 'deny');
    const last = thirdParty.callbacks.at(-1)!;
    assert.equal(last.state, state);
    assert.equal(last.error?.error, 'access_denied', JSON.stringify(last.error));
    await assertInert(watch, 'error response with state');
  });

  await t.test('the error page shows no caller-controlled markup', async () => {
    const watch = await fresh();
    const hostile = Object.fromEntries(
      ['client_id', 'redirect_uri', 'state', 'scope', 'error', 'error_description', 'login_hint', 'nonce'].map((k) => [
        k,
        HOSTILE_NAME,
      ]),
    );
    const cases: [string, Record<string, string>][] = [
      ['an unknown client', { ...hostile, response_type: 'code' }],
      [
        'an unregistered redirect_uri (javascript:)',
        {
          ...hostile,
          client_id: w.firstPartyClient.client_id,
          redirect_uri: 'javascript:alert(1)',
          response_type: 'code',
        },
      ],
      ['no client_id at all', { error_description: HOSTILE_NAME, state: HOSTILE_NAME }],
    ];
    for (const [what, params] of cases) {
      const response = await watch.page.goto(`${server.url}/oauth/authorize?${new URLSearchParams(params).toString()}`);
      assert.equal(response?.status(), 400, `${what}: an error page, never a redirect`);
      assert.equal(new URL(watch.page.url()).origin, server.url, `${what}: the browser stays at Tessera`);
      assert.equal(response?.headers()['content-type'], 'text/html; charset=utf-8');
      const text = await watch.page.locator('main').innerText();
      assert.match(text, /invalid_client|invalid_request/, `${what}: the OAuth error code is shown`);
      await assertInert(watch, `error page: ${what}`);
    }
  });

  await t.test(
    'logout: a javascript: post_logout_redirect_uri is never followed; a hostile state is carried as text',
    async () => {
      const watch = await fresh();
      await watch.page.goto(firstParty.loginUrl());
      await submitLogin(watch.page, user.email, user.password);
      firstParty.lastSuccess();

      const hostile = new URLSearchParams({
        post_logout_redirect_uri: 'javascript:alert(1)',
        state: HOSTILE_NAME,
        client_id: w.firstPartyClient.client_id,
      });
      const refused = await watch.page.goto(`${server.url}/oauth/logout?${hostile.toString()}`);
      assert.equal(new URL(watch.page.url()).origin, server.url, 'the browser stays at Tessera');
      const kind = await hostedPage(watch.page);
      assert.ok(
        refused?.status() === 400 || kind === 'logout-confirm',
        `an error page, or a confirmation that does not carry the URI: ${refused?.status()} ${kind}`,
      );
      if (kind === 'logout-confirm') {
        assert.equal(await watch.page.locator('input[name="post_logout_redirect_uri"]').count(), 0);
        await decide(watch.page, 'cancel');
        assert.equal(new URL(watch.page.url()).origin, server.url);
      }
      await assertInert(watch, 'logout with a javascript: URI');

      // Registered URI, no hint: the confirmation page carries state and client as text.
      const asked = new URLSearchParams({
        post_logout_redirect_uri: firstParty.postLogoutRedirectUri,
        state: HOSTILE_NAME,
        client_id: w.firstPartyClient.client_id,
      });
      const confirm = await watch.page.goto(`${server.url}/oauth/logout?${asked.toString()}`);
      assert.equal(confirm?.status(), 200);
      assert.equal(await hostedPage(watch.page), 'logout-confirm', await watch.page.content());
      assert.ok((await watch.page.locator('main').innerText()).includes(HOSTILE_NAME), 'the client name as text');
      await assertInert(watch, 'logout confirmation');
      await decide(watch.page, 'logout');
      assert.equal(watch.page.url().split('?')[0], firstParty.postLogoutRedirectUri, 'to the registered URI');
      assert.equal(firstParty.loggedOut.at(-1)?.state, HOSTILE_NAME, 'state returned unchanged');
      await assertInert(watch, 'after logout');
    },
  );
});
