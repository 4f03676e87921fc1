// The modules of the OpenID Foundation's oidcc-basic-certification-test-plan (response_type
// code, client_secret_basic, static client) in the plan's order, where each is emulated,
// and what Tessera does with it. README.md in this folder lists the same, one line each;
// plan-summary.test.ts keeps the three in step.

export type Outcome = 'passes' | 'not applicable' | 'answered differently' | 'fails';

export interface PlanModule {
  module: string;
  file: 'basic-op.test.ts' | 'basic-op-sessions.test.ts' | 'basic-op-requests.test.ts';
  outcome: Outcome;
  note: string;
}

export const BASIC_OP_PLAN: readonly PlanModule[] = [
  {
    module: 'oidcc-server',
    file: 'basic-op.test.ts',
    outcome: 'passes',
    note: 'discovery, JWKS, login + consent, code, ID token, UserInfo',
  },
  {
    module: 'oidcc-response-type-missing',
    file: 'basic-op.test.ts',
    outcome: 'passes',
    note: 'error=invalid_request to the redirect URI with state and iss, no code',
  },
  {
    module: 'oidcc-idtoken-signature',
    file: 'basic-op.test.ts',
    outcome: 'passes',
    note: 'signed with the advertised alg by the JWKS key named by kid',
  },
  {
    module: 'oidcc-idtoken-unsigned',
    file: 'basic-op.test.ts',
    outcome: 'not applicable',
    note: '`none` is not advertised (the suite skips it); no ID token is unsigned',
  },
  { module: 'oidcc-userinfo-get', file: 'basic-op.test.ts', outcome: 'passes', note: 'Bearer header' },
  { module: 'oidcc-userinfo-post-header', file: 'basic-op.test.ts', outcome: 'passes', note: 'POST, Bearer header' },
  {
    module: 'oidcc-userinfo-post-body',
    file: 'basic-op.test.ts',
    outcome: 'passes',
    note: 'POST, access_token in the form body',
  },
  {
    module: 'oidcc-ensure-request-without-nonce-succeeds-for-code-flow',
    file: 'basic-op.test.ts',
    outcome: 'passes',
    note: 'a client registered with require_pkce false may send neither PKCE nor nonce; the ID token has no nonce',
  },
  {
    module: 'oidcc-scope-profile',
    file: 'basic-op.test.ts',
    outcome: 'passes',
    note: 'updated_at is the only profile claim (the suite would warn were there none)',
  },
  { module: 'oidcc-scope-email', file: 'basic-op.test.ts', outcome: 'passes', note: 'email, email_verified' },
  {
    module: 'oidcc-scope-address',
    file: 'basic-op.test.ts',
    outcome: 'not applicable',
    note: 'address is not in scopes_supported (the suite skips it); sent anyway it is ignored',
  },
  {
    module: 'oidcc-scope-phone',
    file: 'basic-op.test.ts',
    outcome: 'not applicable',
    note: 'phone is not in scopes_supported (the suite skips it); sent anyway it is ignored',
  },
  {
    module: 'oidcc-scope-all',
    file: 'basic-op.test.ts',
    outcome: 'not applicable',
    note: 'skipped by the suite (address, phone); the request succeeds with email and profile claims',
  },
  {
    module: 'oidcc-ensure-other-scope-order-succeeds',
    file: 'basic-op.test.ts',
    outcome: 'passes',
    note: 'scope "email openid"',
  },
  { module: 'oidcc-display-page', file: 'basic-op.test.ts', outcome: 'passes', note: 'ignored; login page shown' },
  { module: 'oidcc-display-popup', file: 'basic-op.test.ts', outcome: 'passes', note: 'ignored; login page shown' },
  {
    module: 'oidcc-prompt-login',
    file: 'basic-op-sessions.test.ts',
    outcome: 'passes',
    note: 'login page again in a signed-in browser; auth_time later',
  },
  {
    module: 'oidcc-prompt-none-not-logged-in',
    file: 'basic-op-sessions.test.ts',
    outcome: 'passes',
    note: 'error=login_required to the redirect URI, no page',
  },
  {
    module: 'oidcc-prompt-none-logged-in',
    file: 'basic-op-sessions.test.ts',
    outcome: 'passes',
    note: 'code without a page; same sub and auth_time',
  },
  {
    module: 'oidcc-max-age-1',
    file: 'basic-op-sessions.test.ts',
    outcome: 'passes',
    note: 'login page again after > 1 s; auth_time present and later (the suite waits 2 s)',
  },
  {
    module: 'oidcc-max-age-10000',
    file: 'basic-op-sessions.test.ts',
    outcome: 'passes',
    note: 'no page; auth_time present and unchanged',
  },
  {
    module: 'oidcc-ensure-request-with-unknown-parameter-succeeds',
    file: 'basic-op.test.ts',
    outcome: 'passes',
    note: 'extra=foobar ignored',
  },
  {
    module: 'oidcc-id-token-hint',
    file: 'basic-op-sessions.test.ts',
    outcome: 'passes',
    note: 'prompt=none + the first ID token as hint: code without a page',
  },
  {
    module: 'oidcc-login-hint',
    file: 'basic-op.test.ts',
    outcome: 'passes',
    note: 'the login page’s email input holds the hint',
  },
  { module: 'oidcc-ui-locales', file: 'basic-op.test.ts', outcome: 'passes', note: 'accepted; pages are English only' },
  { module: 'oidcc-claims-locales', file: 'basic-op.test.ts', outcome: 'passes', note: 'accepted and ignored' },
  {
    module: 'oidcc-ensure-request-with-acr-values-succeeds',
    file: 'basic-op.test.ts',
    outcome: 'passes',
    note: 'accepted; no acr claim',
  },
  {
    module: 'oidcc-codereuse',
    file: 'basic-op-sessions.test.ts',
    outcome: 'passes',
    note: '400 invalid_grant on the second exchange',
  },
  {
    module: 'oidcc-codereuse-30seconds',
    file: 'basic-op-sessions.test.ts',
    outcome: 'passes',
    note: 'invalid_grant after a delay (1.5 s, not 30); the first access and refresh tokens are revoked',
  },
  {
    module: 'oidcc-ensure-registered-redirect-uri',
    file: 'basic-op.test.ts',
    outcome: 'passes',
    note: 'error page (400), never redirected to the unregistered URI',
  },
  {
    module: 'oidcc-ensure-post-request-succeeds',
    file: 'basic-op.test.ts',
    outcome: 'passes',
    note: 'authorization request as a form POST',
  },
  {
    module: 'oidcc-server-client-secret-post',
    file: 'basic-op.test.ts',
    outcome: 'passes',
    note: 'the happy path with client_secret_post',
  },
  {
    module: 'oidcc-request-uri-unsigned-supported-correctly-or-rejected-as-unsupported',
    file: 'basic-op-requests.test.ts',
    outcome: 'answered differently',
    note: 'error=request_uri_not_supported (accepted; the suite then skips); the URI is never fetched',
  },
  {
    module: 'oidcc-unsigned-request-object-supported-correctly-or-rejected-as-unsupported',
    file: 'basic-op-requests.test.ts',
    outcome: 'answered differently',
    note: 'error=request_not_supported (accepted; the suite then skips)',
  },
  {
    module: 'oidcc-claims-essential',
    file: 'basic-op-requests.test.ts',
    outcome: 'passes',
    note: 'claims parameter ignored, request succeeds; no name claim (a warning)',
  },
  {
    module: 'oidcc-ensure-request-object-with-redirect-uri',
    file: 'basic-op-requests.test.ts',
    outcome: 'answered differently',
    note: 'request objects unsupported: error page or request_not_supported, never a redirect to a URI inside it',
  },
  {
    module: 'oidcc-refresh-token',
    file: 'basic-op-requests.test.ts',
    outcome: 'passes',
    note: 'offline_access + prompt=consent; refresh with a matching ID token; bound to its client; rotated',
  },
  {
    module: 'oidcc-ensure-request-with-valid-pkce-succeeds',
    file: 'basic-op-requests.test.ts',
    outcome: 'passes',
    note: 'S256',
  },
];

/** The README line of a module. */
export const readmeLine = (m: PlanModule) => `- \`${m.module}\`: ${m.outcome}; ${m.note}.`;
