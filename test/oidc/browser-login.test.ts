// The OpenID Connect login in a real browser (headless Chromium) against a listening
// Tessera, with relying parties that hold only openid-client: a first-party public client
// logs in on the hosted page and gets a validated ID token; a third-party confidential
// client gets the consent page by single sign-on (deny, then allow); a second login of the
// first party is silent; RP-initiated logout ends the browser session and every token
// session it opened.
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { createHash } from 'node:crypto';
import { decodeJwt, decodeProtectedHeader } from 'jose';
import { launchBrowser, watchedPage } from '../helpers/browser.js';
import { basic } from '../access/helpers.js';
import { SCOPE, decide, hostedPage, submitLogin, world } from './helpers.js';

/** OIDC Core 3.1.3.6: base64url of the left half of the access token's hash (SHA-512 for EdDSA). */
function atHash(alg: string, accessToken: string): string {
  const bits = alg === 'EdDSA' ? '512' : alg.slice(-3);
  const digest = createHash(`sha${bits}`).update(accessToken).digest();
  return digest.subarray(0, digest.length / 2).toString('base64url');
}

test('login, single sign-on, consent and logout in Chromium, with openid-client relying parties', async (t) => {
  const started = Math.floor(Date.now() / 1000);
  const w = await world(t);
  const browser = await launchBrowser(t);
  const { page, context, ...watch } = await watchedPage(browser);
  const { server, user, firstParty, thirdParty } = w;

  let first: { access: string; refresh: string; authTime: number; sid: string } | undefined;
  let third: { access: string; refresh: string } | undefined;
  let silent: { access: string; refresh: string } | undefined;

  await t.test('a user signs in on the hosted page; the first party gets tokens and a valid ID token', async () => {
    const response = await page.goto(firstParty.loginUrl());
    assert.ok(response, 'a response');
    assert.equal(new URL(page.url()).origin, server.url, 'the browser is at Tessera');
    assert.equal(new URL(page.url()).pathname, '/oauth/authorize');
    assert.equal(response.status(), 200);
    assert.equal(response.headers()['content-type'], 'text/html; charset=utf-8');
    assert.equal(await hostedPage(page), 'login', await page.content());
    assert.match(await page.locator('main').innerText(), /Notes \(first party\)/, 'names the client');
    assert.equal(await page.locator('input[name="email"]').getAttribute('autocomplete'), 'username');
    assert.equal(await page.locator('input[name="password"]').getAttribute('type'), 'password');
    assert.equal(await page.locator('form[method="post"] button[type="submit"]').count(), 1, 'one submit button');
    const binding = (await context.cookies(server.url)).find((c) => c.name === '__Host-tessera-browser');
    assert.ok(binding, 'the browser binding cookie is set');
    assert.equal(binding.httpOnly, true);
    assert.equal(binding.sameSite, 'Lax');

    const before = Math.floor(Date.now() / 1000);
    await submitLogin(page, user.email, user.password);
    assert.equal(
      page.url().split('?')[0],
      firstParty.callbackUrl,
      `back at the relying party: ${await page
        .locator('main')
        .innerText()
        .catch(() => '')}`,
    );
    assert.equal(await page.locator('#result').innerText(), 'signed in', await page.content());

    const { tokens, claims } = firstParty.lastSuccess();
    // openid-client checked the signature with the published keys, iss, aud, exp, iat and
    // the nonce; these are the claims the contract adds.
    assert.equal(claims.iss, server.url);
    assert.deepEqual([claims.aud].flat(), [w.firstPartyClient.client_id]);
    assert.equal(claims.sub, user.id);
    const sentNonce = firstParty.authorizationUrls.at(-1)!.searchParams.get('nonce');
    assert.equal(claims.nonce, sentNonce);
    assert.equal(typeof claims.sid, 'string');
    assert.equal(typeof claims.auth_time, 'number');
    assert.ok(claims.auth_time! >= before - 1 && claims.auth_time! <= Math.ceil(Date.now() / 1000), 'auth_time is now');
    assert.deepEqual(claims.amr, ['pwd']);
    const header = decodeProtectedHeader(tokens.id_token!);
    assert.equal(header.typ, 'JWT');
    assert.equal(claims.at_hash, atHash(String(header.alg), tokens.access_token), 'at_hash of the access token');

    assert.equal(tokens.token_type.toLowerCase(), 'bearer');
    assert.deepEqual(String(tokens.scope).split(' ').sort(), SCOPE.split(' ').sort());
    assert.equal(typeof tokens.refresh_token, 'string', 'the client has the refresh_token grant');
    const access = decodeJwt(tokens.access_token);
    assert.equal(access.sub, user.id);
    assert.equal(access.client_id, w.firstPartyClient.client_id);
    assert.equal(typeof access.sid, 'string');

    const info = await firstParty.userinfo(tokens.access_token, user.id);
    assert.equal(info.email, user.email);
    assert.equal(typeof info.email_verified, 'boolean');

    const session = (await context.cookies(server.url)).find((c) => c.name === '__Host-tessera-session');
    assert.ok(session, 'the browser session cookie is set');
    assert.equal(session.httpOnly, true);
    assert.equal(session.secure, true);
    assert.equal(session.sameSite, 'Lax');
    assert.equal(session.path, '/');
    first = {
      access: tokens.access_token,
      refresh: tokens.refresh_token!,
      authTime: claims.auth_time!,
      sid: String(access.sid),
    };
    watch.assertClean('login');
  });

  await t.test('the third party: single sign-on without a password, then the consent page; deny', async () => {
    await page.goto(thirdParty.loginUrl());
    assert.equal(await page.locator('input[name="password"]').count(), 0, 'no login form: the browser session is used');
    assert.equal(await hostedPage(page), 'consent', await page.content());
    const text = await page.locator('main').innerText();
    assert.match(text, /Photo Printer Ltd/, 'names the client');
    for (const scope of ['email', 'profile'])
      assert.match(text, new RegExp(`\\b${scope}\\b`), `shows the ${scope} scope`);
    await decide(page, 'deny');
    assert.equal(page.url().split('?')[0], thirdParty.callbackUrl);
    const last = thirdParty.callbacks.at(-1)!;
    assert.equal(last.error?.error, 'access_denied', JSON.stringify(last.error));
    const back = new URL(last.url);
    assert.equal(back.searchParams.get('iss'), server.url, 'RFC 9207 iss on the error response');
    assert.equal(back.searchParams.get('code'), null);
    watch.assertClean('consent (deny)');
  });

  await t.test('the third party again: consent asked again, allow; the same login (auth_time) is used', async () => {
    await page.goto(thirdParty.loginUrl());
    assert.equal(await hostedPage(page), 'consent', await page.content());
    await decide(page, 'allow');
    assert.equal(await page.locator('#result').innerText(), 'signed in', await page.content());
    const { tokens, claims } = thirdParty.lastSuccess();
    assert.deepEqual([claims.aud].flat(), [w.thirdPartyClient.client_id]);
    assert.equal(claims.sub, user.id);
    assert.equal(claims.auth_time, first?.authTime, 'single sign-on: no new authentication');
    assert.deepEqual(claims.amr, ['pwd']);
    assert.equal(typeof tokens.refresh_token, 'string');
    third = { access: tokens.access_token, refresh: tokens.refresh_token! };
    // The consent is remembered: a third login is silent.
    await page.goto(thirdParty.loginUrl());
    assert.equal(page.url().split('?')[0], thirdParty.callbackUrl, 'no consent page the second time');
    assert.equal(await page.locator('#result').innerText(), 'signed in');
    watch.assertClean('consent (allow)');
  });

  await t.test('the first party again: a silent login, no page shown', async () => {
    const seen: string[] = [];
    const onResponse = (r: { url(): string; status(): number }) => seen.push(`${r.status()} ${r.url().split('?')[0]}`);
    page.on('response', onResponse);
    await page.goto(firstParty.loginUrl());
    page.off('response', onResponse);
    assert.equal(await page.locator('#result').innerText(), 'signed in');
    assert.deepEqual(
      seen.filter((s) => s.startsWith('200 ') && s.includes(server.url)),
      [],
      `no Tessera page on the way: ${seen.join(', ')}`,
    );
    const { tokens, claims } = firstParty.lastSuccess();
    assert.equal(claims.auth_time, first?.authTime);
    silent = { access: tokens.access_token, refresh: tokens.refresh_token! };
  });

  await t.test('RP-initiated logout ends the browser session and every token session it opened', async () => {
    assert.ok(first && third && silent, 'the logins above succeeded');
    // Still live before.
    assert.equal((await thirdParty.introspect(first.access)).active, true);
    await page.goto(firstParty.url + '/logout?state=bye-123');
    assert.equal(page.url().split('?')[0], firstParty.postLogoutRedirectUri, await page.content());
    assert.equal(firstParty.loggedOut.at(-1)?.state, 'bye-123', 'state returned');

    for (const [who, rp, refresh] of [
      ['first party', firstParty, first.refresh],
      ['first party (silent login)', firstParty, silent.refresh],
      ['third party', thirdParty, third.refresh],
    ] as const) {
      const result = await rp.refresh(refresh);
      assert.equal(result.error?.error, 'invalid_grant', `${who}: ${JSON.stringify(result)}`);
    }
    for (const token of [first.access, third.access, silent.access])
      assert.equal(
        (await thirdParty.introspect(token)).active,
        false,
        'access tokens of the ended sessions are inactive',
      );

    const revoked = await fetch(`${server.url}/oauth/revoked?since=${started}`, {
      headers: basic(w.thirdPartyClient.client_id, w.thirdPartyClient.client_secret!),
    });
    assert.equal(revoked.status, 200);
    const listed = ((await revoked.json()) as { sessions: { sid: string }[] }).sessions.map((s) => s.sid);
    for (const token of [first.access, third.access, silent.access]) {
      const sid = String(decodeJwt(token).sid);
      assert.ok(listed.includes(sid), `/oauth/revoked lists ${sid}`);
    }

    // The browser session no longer logs in silently.
    await page.goto(firstParty.loginUrl());
    assert.equal(await hostedPage(page), 'login', 'the login page again');
    await page.goto(thirdParty.loginUrl());
    assert.equal(await hostedPage(page), 'login', 'for the third party too');
    watch.assertClean('logout');
  });
});
