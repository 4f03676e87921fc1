// The OpenID Foundation's oidcc-basic-certification-test-plan, emulated (see basic-op.test.ts):
// the last group of the plan: request objects and request_uri, the claims parameter,
// refresh tokens, PKCE.
//
// Tessera supports neither request objects nor request_uri nor the claims parameter
// (discovery: request_parameter_supported, request_uri_parameter_supported and
// claims_parameter_supported are false). The suite accepts request_not_supported /
// request_uri_not_supported for the first two (the module is then skipped), and passes
// oidcc-claims-essential when the request succeeds (a missing `name` is only a warning).
//
// REFRESH_REUSE_GRACE=0: without a grace window, a rotated refresh token is refused at once.
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { createHash, randomBytes } from 'node:crypto';
import { createServer } from 'node:http';
import type { AddressInfo } from 'node:net';
import { UnsecuredJWT } from 'jose';
import { HtmlAgent } from '../helpers/html-agent.js';
import {
  authorize,
  codeFlow,
  expectAuthorizationError,
  expectCallback,
  expectErrorPage,
  expectTokenError,
  expectUserinfo,
  newUser,
  requestParams,
  tokenRequest,
  useSuite,
  validateIdToken,
  type Flow,
  type StaticClient,
  type Suite,
} from './harness.js';

const suite = useSuite({ REFRESH_REUSE_GRACE: '0' });

/**
 * ConvertAuthorizationEndpointRequestToRequestObject + AddAud/AddIss +
 * SerializeRequestObjectWithNullAlgorithm: the whole request as an unsigned JWT.
 */
function unsignedRequestObject(s: Suite, params: Record<string, string>): string {
  return new UnsecuredJWT(params).setIssuer(s.client.client_id).setAudience(s.discovery.issuer).encode();
}

/**
 * BuildRequestObjectRedirectToAuthorizationEndpoint: `request` plus the members OAuth
 * requires in the query (response_type, client_id, scope, redirect_uri); state and nonce
 * only in the object.
 */
function withRequestObject(s: Suite, params: Record<string, string>, query: Record<string, string | undefined> = {}) {
  const sent: Record<string, string | undefined> = {
    request: unsignedRequestObject(s, params),
    response_type: params.response_type,
    client_id: params.client_id,
    scope: params.scope,
    redirect_uri: params.redirect_uri,
    ...query,
  };
  return Object.fromEntries(Object.entries(sent).filter((e): e is [string, string] => e[1] !== undefined));
}

test('oidcc-request-uri-unsigned-supported-correctly-or-rejected-as-unsupported', async () => {
  // A request_uri the OP would have to fetch: Tessera refuses it (request_uri_not_supported)
  // and never fetches it.
  const s = suite();
  assert.equal(s.discovery.request_uri_parameter_supported, false, 'request_uri not advertised');
  const params = requestParams(s.client);
  let fetched = 0;
  const host = createServer((_req, res) => {
    fetched += 1;
    res.writeHead(200, { 'content-type': 'application/oauth-authz-req+jwt' }).end(unsignedRequestObject(s, params));
  });
  await new Promise<void>((resolve) => host.listen(0, '127.0.0.1', resolve));
  try {
    const requestUri = `http://127.0.0.1:${(host.address() as AddressInfo).port}/request-object`;
    const query = { ...withRequestObject(s, params, { request: undefined }), request_uri: requestUri };
    const outcome = await authorize(s, new HtmlAgent(), query, { user: await newUser(s) });
    expectAuthorizationError(s, expectCallback(outcome), undefined, ['request_uri_not_supported']);
    assert.equal(fetched, 0, 'the request_uri was never fetched');
  } finally {
    await new Promise((resolve) => host.close(resolve));
  }
});

test('oidcc-unsigned-request-object-supported-correctly-or-rejected-as-unsupported', async () => {
  // The whole request in an unsigned (alg none) request object: either processed correctly,
  // or request_not_supported (OIDC Core 3.1.2.6). Tessera refuses it, to the redirect URI.
  const s = suite();
  assert.equal(s.discovery.request_parameter_supported, false, 'request objects not advertised');
  assert.ok(!(s.discovery.request_object_signing_alg_values_supported ?? []).includes('none'));
  const query = withRequestObject(s, requestParams(s.client));
  const outcome = await authorize(s, new HtmlAgent(), query, { user: await newUser(s) });
  // state was only in the request object, which is not read, so none comes back.
  expectAuthorizationError(s, expectCallback(outcome), undefined, ['request_not_supported']);
});

test('oidcc-claims-essential', async () => {
  // OIDCCClaimsEssential: claims={"userinfo":{"name":{"essential":true}}}. The claims parameter
  // is not supported (so ignored, OIDC Core 5.5); the request must still succeed. Tessera has
  // no name claim: the suite warns about its absence.
  const s = suite();
  assert.equal(s.discovery.claims_parameter_supported, false);
  const claims = JSON.stringify({ userinfo: { name: { essential: true } } });
  const flow = await codeFlow(s, { params: { claims } });
  const info = await expectUserinfo(s, flow.tokens.access_token, flow.idToken.claims.sub);
  assert.equal(info.name, undefined, 'no name claim (a warning in the suite)');
});

test('oidcc-ensure-request-object-with-redirect-uri', async () => {
  // OIDCCEnsureRequestObjectWithRedirectUri: the registered redirect_uri in the request
  // object, another in the query. An OP that does not read request objects must never send
  // the browser to a redirect URI that is only in the object.
  const s = suite();
  const user = await newUser(s);
  const attacker = 'https://attacker.test/callback';
  const params = requestParams(s.client);

  // As the suite sends it: an unregistered redirect_uri in the query: the error page.
  const invalid = `${s.client.redirect_uri}/invalid`;
  const suiteRequest = withRequestObject(s, params, { redirect_uri: invalid });
  const asSuite = await authorize(s, new HtmlAgent(), suiteRequest, { user, redirectUri: invalid });
  expectErrorPage(asSuite, 'invalid_request');

  // The redirect_uri only in the object (an attacker's): the query has none, the error page.
  const onlyInObject = withRequestObject(s, { ...params, redirect_uri: attacker }, { redirect_uri: undefined });
  const hidden = await authorize(s, new HtmlAgent(), onlyInObject, { user, redirectUri: attacker });
  expectErrorPage(hidden);

  // The registered one in the query, an attacker's in the object: refused to the registered one.
  const both = withRequestObject(s, { ...params, redirect_uri: attacker }, { redirect_uri: s.client.redirect_uri });
  const refused = await authorize(s, new HtmlAgent(), both, { user });
  assert.equal(refused.kind, 'callback', 'back at the registered redirect URI, not the attacker’s');
  expectAuthorizationError(s, expectCallback(refused), undefined, ['request_not_supported']);
});

/** The RefreshTokenRequestSteps of the suite: refresh, check the new tokens and ID token (OIDC Core 12.2). */
async function refreshAndCheck(s: Suite, client: StaticClient, flow: Flow) {
  const refreshToken = flow.tokens.refresh_token;
  assert.equal(typeof refreshToken, 'string', 'a refresh token was issued');
  assert.match(refreshToken!, /^[\x20-\x7E]+$/, 'RFC 6749 A.17: VSCHAR only');
  const res = await tokenRequest(s, client, { grant_type: 'refresh_token', refresh_token: refreshToken! });
  assert.equal(res.status, 200, `refresh: ${res.status} ${JSON.stringify(res.body)}`);
  const refreshed = res.body as { access_token?: string; id_token?: string; refresh_token?: string };
  assert.equal(typeof refreshed.access_token, 'string');
  assert.notEqual(refreshed.access_token, flow.tokens.access_token, 'a new access token');
  if (refreshed.id_token !== undefined) {
    const renewed = await validateIdToken(s, refreshed.id_token, {
      client,
      nonce: undefined,
      refreshed: true,
      accessToken: refreshed.access_token!,
    });
    const [before, after] = [flow.idToken.claims, renewed.claims];
    assert.equal(after.iss, before.iss, 'EnsureIdTokenFromRefreshResponseHasSameIssuer');
    assert.equal(after.sub, before.sub, 'same sub');
    assert.deepEqual([after.aud].flat(), [before.aud].flat(), 'same aud');
    assert.equal(after.azp, before.azp, 'same azp');
    assert.ok(after.iat >= before.iat, 'iat of the new token');
    if (before.auth_time !== undefined || after.auth_time !== undefined)
      assert.equal(after.auth_time, before.auth_time, 'auth_time of the original authentication');
    if (after.nonce !== undefined) assert.equal(after.nonce, before.nonce, 'nonce, if any, the original one');
  }
  await expectUserinfo(s, refreshed.access_token!, flow.idToken.claims.sub);
  return refreshed;
}

test('oidcc-refresh-token', async () => {
  // OIDCCRefreshToken: scope openid offline_access with prompt=consent (OIDC Core 11); the
  // refresh works, its ID token matches the first; a refresh token is bound to its client;
  // and (Tessera's rotation) the one just used is refused afterwards.
  const s = suite();
  assert.ok(
    s.discovery.grant_types_supported?.includes('refresh_token'),
    'EnsureServerConfigurationSupportsRefreshToken',
  );
  const offline = { scope: 'openid offline_access', prompt: 'consent' };

  const first = await codeFlow(s, { params: offline });
  assert.deepEqual(first.outcome.shown, ['login', 'consent'], 'prompt=consent shows the consent page');
  assert.ok(String(first.tokens.scope).split(' ').includes('offline_access'), 'offline_access granted');
  const refreshed = await refreshAndCheck(s, s.client, first);
  assert.equal(typeof refreshed.refresh_token, 'string', 'rotation: a new refresh token');
  assert.notEqual(refreshed.refresh_token, first.tokens.refresh_token);

  const second = await codeFlow(s, { client: s.client2, params: offline });
  const live = (await refreshAndCheck(s, s.client2, second)).refresh_token;
  assert.equal(typeof live, 'string');
  // RefreshTokenRequestExpectingErrorSteps: client2's (live) refresh token presented by client 1.
  const foreign = await tokenRequest(s, s.client, { grant_type: 'refresh_token', refresh_token: live! });
  expectTokenError(foreign, 'invalid_grant');

  // The refresh token the first refresh retired is refused.
  const reused = await tokenRequest(s, s.client, {
    grant_type: 'refresh_token',
    refresh_token: first.tokens.refresh_token!,
  });
  expectTokenError(reused, 'invalid_grant');
});

test('oidcc-ensure-request-with-valid-pkce-succeeds', async () => {
  // OIDCCEnsureRequestWithValidPkceSucceeds: code_challenge (S256) in the request, the
  // code_verifier at the token endpoint.
  const s = suite();
  assert.ok((s.discovery.code_challenge_methods_supported as string[] | undefined)?.includes('S256'));
  const codeVerifier = randomBytes(32).toString('base64url');
  const codeChallenge = createHash('sha256').update(codeVerifier).digest('base64url');
  const flow = await codeFlow(s, {
    params: { code_challenge: codeChallenge, code_challenge_method: 'S256' },
    codeVerifier,
  });
  await expectUserinfo(s, flow.tokens.access_token, flow.idToken.claims.sub);
});
