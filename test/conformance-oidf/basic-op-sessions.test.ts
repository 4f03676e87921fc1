// The OpenID Foundation's oidcc-basic-certification-test-plan, emulated (see basic-op.test.ts):
// the modules that authorize twice in one browser (prompt, max_age, id_token_hint) and the
// ones that present a code twice.
//
// The suite waits 30 s in oidcc-codereuse-30seconds; here the second presentation comes
// after a short delay instead: a redeemed code is refused for having been redeemed, however
// long ago, so the wait changes nothing but the run time.
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { HtmlAgent } from '../helpers/html-agent.js';
import {
  authorize,
  codeFlow,
  expectAuthorizationError,
  expectCallback,
  expectCode,
  exchangeCode,
  expectTokenError,
  expectUserinfo,
  now,
  requestParams,
  sleep,
  tokenRequest,
  userinfo,
  useSuite,
  validateIdToken,
  type Flow,
} from './harness.js';

const suite = useSuite();

/** AbstractOIDCCSameAuthTwiceServerTest: the second ID token names the same user, and the same auth_time if present. */
function sameAuthentication(first: Flow, second: Flow) {
  assert.equal(second.idToken.claims.sub, first.idToken.claims.sub, 'CheckIdTokenSubConsistentForSecondAuthorization');
  if (first.idToken.claims.auth_time !== undefined || second.idToken.claims.auth_time !== undefined)
    assert.equal(
      second.idToken.claims.auth_time,
      first.idToken.claims.auth_time,
      'CheckIdTokenAuthTimeClaimsSameIfPresent',
    );
}

/** A second authorization in the first one's browser, with nobody to sign in: the OP must not ask. */
async function silentSecondFlow(first: Flow, params: Record<string, string>): Promise<Flow> {
  const s = suite();
  const sent = requestParams(s.client, params);
  const outcome = await authorize(s, first.browser, sent, {});
  assert.deepEqual(outcome.shown, [], 'no page shown to the user');
  const callback = expectCallback(outcome);
  const code = expectCode(s, callback, sent.state);
  const tokens = await exchangeCode(s, code);
  const idToken = await validateIdToken(s, tokens.id_token!, {
    nonce: sent.nonce,
    accessToken: tokens.access_token,
    authTimeRequired: sent.max_age !== undefined,
  });
  return { ...first, params: sent, outcome, callback, code, tokens, idToken };
}

test('oidcc-prompt-login', async () => {
  // OIDCCPromptLogin: the second authorization, with prompt=login, shows the login page again
  // although the browser is signed in, and its auth_time differs (CheckIdTokenAuthTimeClaimsDifferIfPresent).
  const s = suite();
  const first = await codeFlow(s);
  await sleep(1100); // auth_time counts seconds
  const second = await codeFlow(s, { browser: first.browser, user: first.user, params: { prompt: 'login' } });
  assert.deepEqual(second.outcome.shown, ['login'], 'the login page again (consent was given the first time)');
  assert.equal(second.idToken.claims.sub, first.idToken.claims.sub);
  const [before, after] = [first.idToken.claims.auth_time, second.idToken.claims.auth_time];
  assert.equal(typeof before, 'number');
  assert.equal(typeof after, 'number');
  assert.ok(after! > before!, `auth_time moved on: ${before} then ${after}`);
});

test('oidcc-prompt-none-not-logged-in', async () => {
  // OIDCCPromptNoneNotLoggedIn: a browser without a session and prompt=none: login_required
  // to the redirect URI, nothing shown.
  const s = suite();
  const params = requestParams(s.client, { prompt: 'none' });
  const outcome = await authorize(s, new HtmlAgent(), params);
  assert.deepEqual(outcome.shown, [], 'no login page with prompt=none');
  expectAuthorizationError(s, expectCallback(outcome), params.state, ['login_required']);
});

test('oidcc-prompt-none-logged-in', async () => {
  // OIDCCPromptNoneLoggedIn: signed in (and consented), prompt=none returns a code at once.
  const s = suite();
  const first = await codeFlow(s);
  const second = await silentSecondFlow(first, { prompt: 'none' });
  sameAuthentication(first, second);
});

test('oidcc-max-age-1', async () => {
  // OIDCCMaxAge1: after more than a second, max_age=1 makes the OP ask for the password again;
  // the second ID token has auth_time (CheckIdTokenAuthTimeClaimPresentDueToMaxAge), later than the
  // first (CheckSecondIdTokenAuthTimeIsLaterIfPresent) and recent (CheckIdTokenAuthTimeIsRecentIfPresent).
  const s = suite();
  const first = await codeFlow(s);
  await sleep(1200);
  const startedAt = now();
  const second = await codeFlow(s, { browser: first.browser, user: first.user, params: { max_age: '1' } });
  assert.deepEqual(second.outcome.shown, ['login'], 'the login page again');
  const authTime = second.idToken.claims.auth_time;
  assert.equal(typeof authTime, 'number', 'auth_time present (max_age was sent)');
  assert.ok(authTime! > first.idToken.claims.auth_time!, 'later than the first');
  assert.ok(authTime! >= startedAt - 1 && authTime! <= now() + 1, 'recent');
});

test('oidcc-max-age-10000', async () => {
  // OIDCCMaxAge10000: a recent login satisfies max_age=10000: no login page; auth_time present and unchanged.
  const s = suite();
  const first = await codeFlow(s);
  const second = await silentSecondFlow(first, { max_age: '10000' });
  assert.equal(typeof second.idToken.claims.auth_time, 'number', 'auth_time present (max_age was sent)');
  sameAuthentication(first, second);
});

test('oidcc-id-token-hint', async () => {
  // OIDCCIdTokenHint: prompt=none with the first ID token as id_token_hint returns a code at once.
  const s = suite();
  const first = await codeFlow(s);
  const second = await silentSecondFlow(first, { prompt: 'none', id_token_hint: first.tokens.id_token! });
  sameAuthentication(first, second);
});

test('oidcc-codereuse', async () => {
  // OIDCCAuthCodeReuse: the second presentation of a code is refused: 400, JSON, invalid_grant.
  const s = suite();
  const flow = await codeFlow(s);
  const again = await tokenRequest(s, s.client, {
    grant_type: 'authorization_code',
    code: flow.code,
    redirect_uri: s.client.redirect_uri,
  });
  expectTokenError(again, 'invalid_grant');
});

test('oidcc-codereuse-30seconds', async () => {
  // OIDCCAuthCodeReuseAfter30Seconds: the same, later; then the access token the code was
  // first exchanged for should be revoked (RFC 6749 4.1.2; the suite warns if it still works).
  const s = suite();
  const flow = await codeFlow(s);
  await expectUserinfo(s, flow.tokens.access_token, flow.idToken.claims.sub);
  await sleep(1500);
  const again = await tokenRequest(s, s.client, {
    grant_type: 'authorization_code',
    code: flow.code,
    redirect_uri: s.client.redirect_uri,
  });
  expectTokenError(again, 'invalid_grant');
  const revoked = await userinfo(s, flow.tokens.access_token);
  assert.equal(revoked.status, 401, `the first access token is revoked: ${revoked.status} ${revoked.text}`);
  assert.match(revoked.headers.get('www-authenticate') ?? '', /^Bearer/i, 'RFC 6750 3: a Bearer challenge');
  if (flow.tokens.refresh_token) {
    const refreshed = await tokenRequest(s, s.client, {
      grant_type: 'refresh_token',
      refresh_token: flow.tokens.refresh_token,
    });
    expectTokenError(refreshed, 'invalid_grant');
  }
});
