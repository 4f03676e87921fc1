// The headers that keep the hosted pages to themselves, in Chromium: every answer carries
// a Content-Security-Policy with a fresh nonce, the pages load under it without a
// violation, and the login page does not render inside another origin's frame
// (frame-ancestors 'none').
import { test } from 'node:test';
import assert from 'node:assert/strict';
import type { Page } from 'playwright-core';
import { launchBrowser, watchedPage, type WatchedPage } from '../helpers/browser.js';
import { HtmlAgent } from '../helpers/html-agent.js';
import { cspNonce, world } from './helpers.js';

test('hosted pages: CSP nonce and framing', async (t) => {
  const { server, firstParty } = await world(t);
  const browser = await launchBrowser(t);
  let current: WatchedPage | undefined;
  const fresh = async (): Promise<WatchedPage & { page: Page }> => {
    await current?.context.close();
    current = await watchedPage(browser);
    return current;
  };

  await t.test('every answer carries a CSP with a fresh nonce; pages load without CSP violations', async () => {
    const agent = new HtmlAgent();
    const nonces: string[] = [];
    for (let i = 0; i < 2; i++) {
      const page = await agent.get(firstParty.loginUrl(), { follow: true });
      assert.equal(page.status, 200);
      const csp = page.headers.get('content-security-policy');
      assert.ok(csp, 'a CSP header');
      for (const directive of ["default-src 'none'", "frame-ancestors 'none'", "base-uri 'none'", "form-action 'self'"])
        assert.ok(csp.includes(directive), `${directive} in ${csp}`);
      assert.doesNotMatch(csp, /'unsafe-inline'|'unsafe-eval'/);
      const nonce = cspNonce(csp);
      assert.ok(nonce, `a nonce in script-src: ${csp}`);
      assert.match(nonce, /^[A-Za-z0-9+/_-]+={0,2}$/, 'base64');
      assert.ok(Buffer.from(nonce, 'base64').length >= 16, 'at least 128 bits');
      nonces.push(nonce);
    }
    assert.notEqual(nonces[0], nonces[1], 'a fresh nonce for every answer');

    const watch = await fresh();
    await watch.page.goto(firstParty.loginUrl());
    const styled = await watch.page.evaluate<number>('document.styleSheets.length');
    assert.ok(styled >= 1, 'the stylesheet loaded');
    assert.deepEqual(watch.cspViolations(), [], 'no CSP violation on the login page');
    await watch.page.goto(`${server.url}/oauth/authorize?client_id=nobody`);
    assert.deepEqual(watch.cspViolations(), [], 'none on the error page');
    watch.assertClean('CSP');
  });

  await t.test('the login page does not render in another origin’s frame', async () => {
    const watch = await fresh();
    const blocked = watch.page.waitForEvent('console', {
      predicate: (m) => /frame-ancestors/.test(m.text()),
      timeout: 10_000,
    });
    await watch.page.goto(`${firstParty.url}/frame`);
    await blocked;
    const framed = watch.page.frames().find((f) => f !== watch.page.mainFrame());
    assert.ok(framed, 'the iframe exists');
    // The blocked frame ends on Chromium's error page (chrome-error://); until then its URL
    // may still be empty or the one it was asked to load.
    for (let i = 0; i < 50 && !framed.url().startsWith('chrome-error:'); i++)
      await new Promise((r) => setTimeout(r, 100));
    assert.ok(!framed.url().startsWith(server.url), `the frame holds no Tessera document: ${framed.url()}`);
    assert.equal(await framed.locator('input[name="password"]').count(), 0, 'no login form inside the frame');
    assert.ok(watch.cspViolations().some((m) => m.includes("frame-ancestors 'none'")));
    watch.assertClean('framing');
  });
});
