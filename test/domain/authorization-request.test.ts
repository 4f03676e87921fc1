// The authorization request checks as pure functions: what is fatal (no redirect), what
// goes back to the redirect URI, and what is granted.
import { test } from 'node:test';
import assert from 'node:assert/strict';
import {
  checkAuthorizationRequest,
  needsConsent,
  needsLogin,
  redirectWith,
  type AuthorizingClient,
} from '../../src/domain/oauth/authorization-request.js';

const settings = { defaultAudience: 'https://id.example', audiences: ['https://api.example'] };
const client: AuthorizingClient = {
  id: 'client-aaaaaaaaaaaaaaaa',
  type: 'public',
  redirect_uris: ['https://app.example/cb', 'com.example.app:/cb'],
  grant_types: ['authorization_code', 'refresh_token'],
  scopes: ['openid', 'email', 'profile'],
  require_pkce: true,
  disabled: false,
};
const CHALLENGE = 'E9Melhoa2OwvFrEMTJguCHaoeK1t8URWbuGJSstw-cM';
const good = {
  response_type: 'code',
  client_id: client.id,
  redirect_uri: 'https://app.example/cb',
  scope: 'openid email',
  state: 's1',
  nonce: 'n1',
  code_challenge: CHALLENGE,
  code_challenge_method: 'S256',
};
const check = (p: Record<string, string | undefined>, c: AuthorizingClient | null = client) =>
  checkAuthorizationRequest(
    Object.fromEntries(Object.entries(p).filter(([, v]) => v !== undefined)) as Record<string, string>,
    c ?? undefined,
    settings,
  );

test('a good request is granted the scopes asked for, in order', () => {
  const r = check(good);
  assert.equal(r.kind, 'ok');
  if (r.kind !== 'ok') return;
  assert.equal(r.params.scope, 'openid email');
  assert.equal(r.params.audience, 'https://id.example');
  assert.equal(r.params.redirectUriSent, true);
  assert.equal(r.params.codeChallenge, CHALLENGE);
});

test('unknown client, disabled client, unregistered or altered redirect_uri: fatal, never a redirect', () => {
  for (const [p, c] of [
    [{ ...good, client_id: undefined }, client],
    [good, null],
    [good, { ...client, disabled: true }],
    [{ ...good, redirect_uri: 'https://evil.example/cb' }, client],
    [{ ...good, redirect_uri: 'https://app.example/cb/' }, client],
    [{ ...good, redirect_uri: 'https://app.example/cb?x=1' }, client],
    [{ ...good, redirect_uri: 'https://APP.example/cb' }, client],
    [{ ...good, redirect_uri: undefined }, client],
  ] as const) {
    assert.equal(check(p, c).kind, 'fatal', JSON.stringify(p));
  }
});

test('errors after the redirect URI is trusted go back to it with state', () => {
  const cases: [Record<string, string | undefined>, string][] = [
    [{ ...good, response_type: undefined }, 'invalid_request'],
    [{ ...good, response_type: 'token' }, 'unsupported_response_type'],
    [{ ...good, code_challenge: undefined, code_challenge_method: undefined }, 'invalid_request'],
    [{ ...good, code_challenge_method: 'plain' }, 'invalid_request'],
    [{ ...good, code_challenge_method: undefined }, 'invalid_request'],
    [{ ...good, code_challenge: 'short' }, 'invalid_request'],
    [{ ...good, scope: 'admin' }, 'invalid_scope'],
    [{ ...good, scope: undefined }, 'invalid_scope'],
    [{ ...good, resource: 'https://other.example' }, 'invalid_target'],
    [{ ...good, prompt: 'none login' }, 'invalid_request'],
    [{ ...good, prompt: 'bogus' }, 'invalid_request'],
    [{ ...good, max_age: '-1' }, 'invalid_request'],
    [{ ...good, request: 'eyJ...' }, 'request_not_supported'],
    [{ ...good, request_uri: 'https://x.example/r' }, 'request_uri_not_supported'],
    [{ ...good, response_mode: 'fragment' }, 'invalid_request'],
  ];
  for (const [p, error] of cases) {
    const r = check(p);
    assert.equal(r.kind, 'redirect', JSON.stringify(p));
    if (r.kind !== 'redirect') continue;
    assert.equal(r.error, error, JSON.stringify(p));
    assert.equal(r.state, 's1');
    assert.equal(r.redirectUri, 'https://app.example/cb');
  }
  const noGrant = check(good, { ...client, grant_types: ['client_credentials'] });
  assert.equal(noGrant.kind === 'redirect' && noGrant.error, 'unauthorized_client');
});

test('scopes the client may not have are dropped (OIDC Core 5.4), unknown ones too', () => {
  const r = check({ ...good, scope: 'openid address phone email' });
  assert.equal(r.kind === 'ok' && r.params.scope, 'openid email');
});

test('only a confidential client registered with require_pkce false may go without PKCE', () => {
  const confidential = { ...client, type: 'confidential' as const, require_pkce: false };
  const noPkce = { ...good, code_challenge: undefined, code_challenge_method: undefined };
  assert.equal(check(noPkce, confidential).kind, 'ok');
  // OIDC Core 3.1.2.1: nonce stays optional in the code flow.
  assert.equal(check({ ...noPkce, nonce: undefined }, confidential).kind, 'ok');
  // Public clients and clients that kept the default never go without.
  assert.equal(check(noPkce, { ...client, require_pkce: false }).kind, 'redirect');
  assert.equal(check(noPkce, { ...confidential, require_pkce: true }).kind, 'redirect');
  // A sent challenge is enforced even for a client that need not send one.
  const plain = check({ ...good, code_challenge_method: 'plain' }, confidential);
  assert.equal(plain.kind === 'redirect' && plain.error, 'invalid_request');
});

test('without redirect_uri only a client with one registered URI and no openid scope goes on', () => {
  const one = { ...client, redirect_uris: ['https://app.example/cb'] };
  const r = check({ ...good, redirect_uri: undefined, scope: 'email' }, one);
  assert.equal(r.kind === 'ok' && r.params.redirectUriSent, false);
  assert.equal(check({ ...good, redirect_uri: undefined }, one).kind, 'fatal');
});

test('redirectWith keeps the redirect URI’s own query and escapes values', () => {
  assert.equal(
    redirectWith('https://app.example/cb?x=1', { code: 'a b&c', state: undefined, iss: 'https://id.example' }),
    'https://app.example/cb?x=1&code=a+b%26c&iss=https%3A%2F%2Fid.example',
  );
  assert.equal(redirectWith('com.example.app:/cb', { code: 'c' }), 'com.example.app:/cb?code=c');
});

test('login is needed without a session, with prompt=login, and past max_age', () => {
  const now = new Date('2026-12-01T12:00:00Z');
  const session = { authTime: new Date('2026-12-01T11:59:00Z') };
  assert.equal(needsLogin({ prompt: [], maxAge: undefined }, undefined, false, now), true);
  assert.equal(needsLogin({ prompt: [], maxAge: undefined }, session, false, now), false);
  assert.equal(needsLogin({ prompt: ['login'], maxAge: undefined }, session, false, now), true);
  assert.equal(needsLogin({ prompt: ['login'], maxAge: undefined }, session, true, now), false);
  assert.equal(needsLogin({ prompt: [], maxAge: 30 }, session, false, now), true);
  assert.equal(needsLogin({ prompt: [], maxAge: 120 }, session, false, now), false);
});

test('consent is needed for third parties without a covering consent, or with prompt=consent', () => {
  const third = { first_party: false };
  assert.equal(needsConsent({ prompt: [], scope: 'openid' }, { first_party: true }, undefined, false), false);
  assert.equal(needsConsent({ prompt: [], scope: 'openid' }, third, undefined, false), true);
  assert.equal(needsConsent({ prompt: [], scope: 'openid email' }, third, ['openid'], false), true);
  assert.equal(needsConsent({ prompt: [], scope: 'openid' }, third, ['openid', 'email'], false), false);
  assert.equal(needsConsent({ prompt: ['consent'], scope: 'openid' }, third, ['openid'], false), true);
  assert.equal(needsConsent({ prompt: ['consent'], scope: 'openid' }, third, ['openid'], true), false);
});
