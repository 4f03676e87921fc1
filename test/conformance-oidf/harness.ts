// The OpenID Foundation conformance suite's side of the Basic OP plan, emulated: a relying
// party that speaks only HTTP (fetch) and jose, the way the suite's Java client does. It
// reads discovery, builds authorization requests, never fetches its own redirect URI (the
// answer is read off the Location header, as the suite reads its callback), redeems codes
// with client_secret_basic, and checks ID tokens per OIDC Core 3.1.3.7 against the
// published JWKS. The user's browser is the cookie-keeping HtmlAgent. Nothing here reads
// Tessera's code: clients come from POST /admin/clients, users from the test helpers.
import assert from 'node:assert/strict';
import { createHash, randomBytes } from 'node:crypto';
import { after, before } from 'node:test';
import {
  createRemoteJWKSet,
  decodeProtectedHeader,
  jwtVerify,
  type JWTPayload,
  type JWTVerifyGetKey,
  type ProtectedHeaderParameters,
} from 'jose';
import { GOOD_PASSWORD, userWithRoles } from '../helpers/build.js';
import { HtmlAgent, parseForms, type AgentPage } from '../helpers/html-agent.js';
import { startLiveServer, type LiveServer } from '../helpers/live-server.js';

/** The suite's allowed clock skew (ValidateIdToken: five minutes). */
const SKEW_SECONDS = 300;
/** What the plan's static client asks for unless a module says otherwise (the suite's `client.scope`). */
export const DEFAULT_SCOPE = 'openid email';
/** The scopes the static clients are registered with: the ones the contract knows. */
const CLIENT_SCOPES = ['openid', 'email', 'profile', 'offline_access'];
/** RFC 6749 A.7/A.8: error and error_description are %x20-21 / %x23-5B / %x5D-7E. */
const ERROR_CHARSET = /^[\x20-\x21\x23-\x5B\x5D-\x7E]+$/;

export interface Discovery {
  issuer: string;
  authorization_endpoint: string;
  token_endpoint: string;
  userinfo_endpoint: string;
  jwks_uri: string;
  response_types_supported: string[];
  subject_types_supported: string[];
  id_token_signing_alg_values_supported: string[];
  scopes_supported?: string[];
  claims_supported?: string[];
  token_endpoint_auth_methods_supported?: string[];
  grant_types_supported?: string[];
  authorization_response_iss_parameter_supported?: boolean;
  request_parameter_supported?: boolean;
  request_uri_parameter_supported?: boolean;
  request_object_signing_alg_values_supported?: string[];
  [member: string]: unknown;
}

/** A client as the suite's configuration holds it (`client` / `client2`). */
export interface StaticClient {
  client_id: string;
  client_secret: string;
  redirect_uri: string;
}

export interface Suite {
  server: LiveServer;
  discovery: Discovery;
  jwks: JWTVerifyGetKey;
  adminAuth: Record<string, string>;
  client: StaticClient;
  client2: StaticClient;
}

export interface TestUser {
  id: string;
  email: string;
  password: string;
}

/**
 * A listening Tessera with the plan's two static clients (confidential, client_secret_basic,
 * authorization_code + refresh_token, third party, registered with require_pkce false
 * because the suite's modules send no PKCE except the one that tests it). `closers` gets
 * what must run after the file's last test.
 */
export async function startSuite(closers: Array<() => Promise<void>>, env: Record<string, string> = {}) {
  const server = await startLiveServer({ after: (fn: () => Promise<void>) => void closers.push(fn) }, env);
  const adminAuth = (await userWithRoles(server, ['admin'])).auth;
  const res = await fetch(`${server.url}/.well-known/openid-configuration`);
  assert.equal(res.status, 200, 'discovery answers');
  const discovery = (await res.json()) as Discovery;
  const jwks = createRemoteJWKSet(new URL(discovery.jwks_uri));
  const client = await registerStaticClient(server, adminAuth, 'OIDF conformance (client)', 'a');
  const client2 = await registerStaticClient(server, adminAuth, 'OIDF conformance (client2)', 'b');
  return { server, discovery, jwks, adminAuth, client, client2 } satisfies Suite;
}

/**
 * One suite (one listening Tessera) for the whole test file: started before its first
 * test, closed after its last. The getter is for use inside tests.
 */
export function useSuite(env: Record<string, string> = {}): () => Suite {
  const closers: Array<() => Promise<void>> = [];
  let suite: Suite | undefined;
  before(async () => {
    suite = await startSuite(closers, env);
  });
  after(async () => {
    for (const close of closers.reverse()) await close();
  });
  return () => {
    assert.ok(suite, 'the suite started');
    return suite;
  };
}

async function registerStaticClient(
  server: LiveServer,
  adminAuth: Record<string, string>,
  name: string,
  alias: string,
): Promise<StaticClient> {
  // The suite's callback, on a host nobody resolves: the test only ever reads it off Location.
  const redirectUri = `https://conformance.test/test/${alias}/tessera/callback`;
  const body = {
    name,
    type: 'confidential',
    grant_types: ['authorization_code', 'refresh_token'],
    redirect_uris: [redirectUri],
    post_logout_redirect_uris: [],
    scopes: CLIENT_SCOPES,
    first_party: false,
    can_introspect: false,
    require_pkce: false,
  };
  const res = await fetch(`${server.url}/admin/clients`, {
    method: 'POST',
    headers: { ...adminAuth, 'content-type': 'application/json' },
    body: JSON.stringify(body),
  });
  const text = await res.text();
  assert.equal(res.status, 201, `POST /admin/clients ${JSON.stringify(body)}: ${res.status} ${text}`);
  const created = JSON.parse(text) as { client_id?: unknown; client_secret?: unknown };
  assert.equal(typeof created.client_id, 'string', text);
  assert.equal(typeof created.client_secret, 'string', text);
  return {
    client_id: created.client_id as string,
    client_secret: created.client_secret as string,
    redirect_uri: redirectUri,
  };
}

/** A fresh account for one module (created as `tessera users create` does, so verified). */
export async function newUser(suite: Suite): Promise<TestUser> {
  const user = await userWithRoles(suite.server, ['user']);
  return { id: user.id, email: user.email, password: GOOD_PASSWORD };
}

export const randomValue = () => randomBytes(16).toString('base64url');
export const sleep = (ms: number) => new Promise((resolve) => setTimeout(resolve, ms));
export const now = () => Math.floor(Date.now() / 1000);

export type AuthorizationParams = Record<string, string | undefined>;

/**
 * The suite's authorization request: response_type=code, client_id, redirect_uri, scope,
 * a random state and nonce; `params` adds to it, and `undefined` leaves a member out.
 */
export function requestParams(client: StaticClient, params: AuthorizationParams = {}): Record<string, string> {
  const all: AuthorizationParams = {
    response_type: 'code',
    client_id: client.client_id,
    redirect_uri: client.redirect_uri,
    scope: DEFAULT_SCOPE,
    state: randomValue(),
    nonce: randomValue(),
    ...params,
  };
  return Object.fromEntries(Object.entries(all).filter((e): e is [string, string] => e[1] !== undefined));
}

export function authorizationUrl(suite: Suite, params: Record<string, string>): string {
  const url = new URL(suite.discovery.authorization_endpoint);
  for (const [name, value] of Object.entries(params)) url.searchParams.set(name, value);
  return url.href;
}

export type HostedPage = 'login' | 'consent';

export type AuthorizationOutcome =
  /** Back at the client's redirect URI: its query, as the suite's callback reads it. */
  | { kind: 'callback'; url: URL; shown: HostedPage[]; loginPages: AgentPage[] }
  /** A page that is neither login nor consent (the error page), or a login page with no user to sign in. */
  | { kind: 'page'; page: AgentPage; shown: HostedPage[]; loginPages: AgentPage[] }
  /** A redirect somewhere that is neither Tessera nor the registered redirect URI. */
  | { kind: 'elsewhere'; location: string; shown: HostedPage[]; loginPages: AgentPage[] };

function pageKind(page: AgentPage): HostedPage | undefined {
  if (page.status === 200 || page.status === 401) {
    const actions = parseForms(page.body, page.url).map((f) => new URL(f.action).pathname);
    if (actions.includes('/oauth/authorize/login')) return 'login';
    if (actions.includes('/oauth/authorize/consent')) return 'consent';
  }
  return undefined;
}

const atRedirectUri = (location: string, redirectUri: string) => {
  const at = new URL(location);
  return `${at.origin}${at.pathname}` === redirectUri;
};

/**
 * The browser part: sends the user agent to the authorization endpoint (GET, or a form
 * POST), signs `user` in on the login page and allows on the consent page, until Tessera
 * redirects to the registered redirect URI (not followed), or shows another page.
 */
export async function authorize(
  suite: Suite,
  browser: HtmlAgent,
  params: Record<string, string>,
  options: { user?: TestUser | undefined; method?: 'GET' | 'POST'; redirectUri?: string } = {},
): Promise<AuthorizationOutcome> {
  const redirectUri = options.redirectUri ?? suite.client.redirect_uri;
  const shown: HostedPage[] = [];
  const loginPages: AgentPage[] = [];
  let page =
    options.method === 'POST'
      ? await browser.post(suite.discovery.authorization_endpoint, params)
      : await browser.get(authorizationUrl(suite, params));
  for (let step = 0; step < 10; step++) {
    if (page.status >= 300 && page.status < 400 && page.location) {
      if (atRedirectUri(page.location, redirectUri))
        return { kind: 'callback', url: new URL(page.location), shown, loginPages };
      if (new URL(page.location).origin !== suite.server.url)
        return { kind: 'elsewhere', location: page.location, shown, loginPages };
      page = await browser.follow(page);
      continue;
    }
    const kind = pageKind(page);
    if (kind === 'login' && options.user) {
      shown.push('login');
      loginPages.push(page);
      page = await browser.submitForm(page, {
        action: '/oauth/authorize/login',
        fields: { email: options.user.email, password: options.user.password },
      });
      continue;
    }
    if (kind === 'consent') {
      shown.push('consent');
      page = await browser.submitForm(page, {
        action: '/oauth/authorize/consent',
        button: 'allow',
      });
      continue;
    }
    if (kind === 'login') {
      shown.push('login');
      loginPages.push(page);
    }
    return { kind: 'page', page, shown, loginPages };
  }
  throw new Error(`no end to the authorization after 10 steps: ${page.status} ${page.url}`);
}

/** What a page says, without its markup, for failure messages. */
const visibleText = (html: string) =>
  html
    .replace(/<(script|style|head)[\s\S]*?<\/\1>/gi, ' ')
    .replace(/<[^>]*>/g, ' ')
    .replace(/\s+/g, ' ')
    .trim()
    .slice(0, 300);

export function expectCallback(outcome: AuthorizationOutcome): URL {
  if (outcome.kind === 'callback') return outcome.url;
  if (outcome.kind === 'elsewhere') assert.fail(`redirected to ${outcome.location}, not to the redirect URI`);
  const { page } = outcome;
  assert.fail(
    `expected a redirect to the client, got ${page.status} at ${page.url} after ${outcome.shown.join(', ') || 'no page'}: ${visibleText(page.body)}`,
  );
}

/**
 * CheckMatchingStateParameter, RFC 9207 (the issuer advertises
 * authorization_response_iss_parameter_supported, so iss must be there and equal), and a
 * code without an error (CheckIfAuthorizationEndpointError).
 */
export function expectCode(suite: Suite, callback: URL, state: string | undefined): string {
  const q = callback.searchParams;
  assert.equal(q.get('error'), null, `authorization error: ${callback.search}`);
  assert.equal(callback.hash, '', 'the code flow answers in the query, not the fragment');
  assert.equal(q.get('state'), state ?? null, 'state echoed unchanged');
  assert.equal(q.get('iss'), suite.discovery.issuer, 'RFC 9207 iss equals the issuer');
  assert.equal(q.getAll('code').length, 1, 'exactly one code');
  const code = q.get('code')!;
  assert.ok(code.length > 0);
  return code;
}

/** An error answered to the redirect URI (RFC 6749 4.1.2.1, RFC 9207). */
export function expectAuthorizationError(
  suite: Suite,
  callback: URL,
  state: string | undefined,
  errors: readonly string[],
): string {
  const q = callback.searchParams;
  const error = q.get('error');
  assert.ok(error !== null && errors.includes(error), `expected error ${errors.join(' or ')}, got ${callback.search}`);
  assert.match(error, ERROR_CHARSET);
  const description = q.get('error_description');
  if (description !== null) assert.match(description, ERROR_CHARSET, 'error_description charset (RFC 6749 4.1.2.1)');
  assert.equal(q.get('code'), null, 'no code with an error');
  assert.equal(q.get('state'), state ?? null, 'state echoed unchanged');
  assert.equal(q.get('iss'), suite.discovery.issuer, 'RFC 9207 iss equals the issuer');
  return error;
}

/** The error page: HTML, a 4xx status, the OAuth error code on it, and no redirect. */
export function expectErrorPage(outcome: AuthorizationOutcome, error?: string): AgentPage {
  if (outcome.kind === 'elsewhere') assert.fail(`redirected to ${outcome.location}`);
  if (outcome.kind === 'callback') assert.fail(`redirected to the client: ${outcome.url.href}`);
  const { page } = outcome;
  assert.ok(page.status >= 400 && page.status < 500, `error page status ${page.status}`);
  assert.match(page.headers.get('content-type') ?? '', /^text\/html/);
  assert.equal(page.location, undefined, 'no Location on the error page');
  if (error) assert.ok(page.body.includes(error), `the page names the error ${error}`);
  return page;
}

export interface TokenResponse {
  access_token: string;
  token_type: string;
  expires_in?: number;
  refresh_token?: string;
  id_token?: string;
  scope?: string;
}

const basicAuth = (client: StaticClient) =>
  `Basic ${Buffer.from(`${encodeURIComponent(client.client_id)}:${encodeURIComponent(client.client_secret)}`).toString('base64')}`;

/** POST to the token endpoint with the client's secret (client_secret_basic, or _post). */
export async function tokenRequest(
  suite: Suite,
  client: StaticClient,
  params: Record<string, string>,
  auth: 'client_secret_basic' | 'client_secret_post' = 'client_secret_basic',
): Promise<{ status: number; headers: Headers; body: Record<string, unknown> }> {
  const form = new URLSearchParams(params);
  const headers: Record<string, string> = {
    'content-type': 'application/x-www-form-urlencoded',
    accept: 'application/json',
  };
  if (auth === 'client_secret_basic') headers.authorization = basicAuth(client);
  else {
    form.set('client_id', client.client_id);
    form.set('client_secret', client.client_secret);
  }
  const res = await fetch(suite.discovery.token_endpoint, { method: 'POST', headers, body: form.toString() });
  const text = await res.text();
  let body: Record<string, unknown>;
  try {
    body = JSON.parse(text) as Record<string, unknown>;
  } catch {
    assert.fail(`token endpoint answered ${res.status} with a body that is not JSON: ${text.slice(0, 200)}`);
  }
  return { status: res.status, headers: res.headers, body };
}

/** CallTokenEndpoint and the checks after it: 200, JSON, no-store, Bearer, expires_in, an ID token. */
export async function exchangeCode(
  suite: Suite,
  code: string,
  options: {
    client?: StaticClient;
    codeVerifier?: string;
    auth?: 'client_secret_basic' | 'client_secret_post';
  } = {},
): Promise<TokenResponse> {
  const client = options.client ?? suite.client;
  const params: Record<string, string> = { grant_type: 'authorization_code', code, redirect_uri: client.redirect_uri };
  if (options.codeVerifier) params.code_verifier = options.codeVerifier;
  const res = await tokenRequest(suite, client, params, options.auth);
  return expectTokenResponse(res);
}

export function expectTokenResponse(res: { status: number; headers: Headers; body: Record<string, unknown> }) {
  assert.equal(res.status, 200, `token endpoint: ${res.status} ${JSON.stringify(res.body)}`);
  assert.match(res.headers.get('content-type') ?? '', /^application\/json/);
  assert.match(res.headers.get('cache-control') ?? '', /no-store/, 'RFC 6749 5.1: Cache-Control: no-store');
  const body = res.body as unknown as TokenResponse;
  assert.equal(typeof body.access_token, 'string');
  assert.equal(String(body.token_type).toLowerCase(), 'bearer');
  if (body.expires_in !== undefined)
    assert.ok(Number.isInteger(body.expires_in) && body.expires_in > 0, 'ValidateExpiresIn');
  assert.equal(typeof body.id_token, 'string', 'OIDC Core 3.1.3.3: an ID token in the token response');
  return body;
}

/** A refused token request (RFC 6749 5.2): the status, JSON, the code, a well-formed description. */
export function expectTokenError(
  res: { status: number; headers: Headers; body: Record<string, unknown> },
  error: string,
  status = 400,
): void {
  assert.equal(res.status, status, `expected ${status} ${error}, got ${res.status} ${JSON.stringify(res.body)}`);
  assert.match(res.headers.get('content-type') ?? '', /^application\/json/);
  assert.equal(res.body.error, error);
  assert.match(String(res.body.error), ERROR_CHARSET);
  if (res.body.error_description !== undefined) {
    assert.equal(typeof res.body.error_description, 'string');
    assert.match(res.body.error_description as string, ERROR_CHARSET, 'error_description charset, no CR/LF/TAB');
  }
  if (res.body.error_uri !== undefined) assert.doesNotThrow(() => new URL(res.body.error_uri as string));
}

/** OIDC Core 3.1.3.6: base64url of the left half of the hash of the access token (SHA-512 for EdDSA). */
export function atHash(alg: string, accessToken: string): string {
  const bits = alg === 'EdDSA' ? '512' : alg.slice(-3);
  const digest = createHash(`sha${bits}`).update(accessToken, 'ascii').digest();
  return digest.subarray(0, digest.length / 2).toString('base64url');
}

export interface IdTokenChecks {
  client?: StaticClient;
  /** The nonce sent; undefined: none was sent, so none may come back. */
  nonce: string | undefined;
  /** max_age was sent (or auth_time asked for): auth_time is then required (OIDC Core 3.1.2.1). */
  authTimeRequired?: boolean;
  accessToken?: string;
  /** For a refreshed ID token (OIDC Core 12.2): the nonce may be left out. */
  refreshed?: boolean;
}

export interface ValidatedIdToken {
  claims: JWTPayload & { sub: string; aud: string | string[]; exp: number; iat: number; auth_time?: number };
  header: ProtectedHeaderParameters;
}

/**
 * The relying party's checks of OIDC Core 3.1.3.7 (the suite's ValidateIdToken,
 * ValidateIdTokenNonce, ValidateIdTokenSignature(UsingKid), CheckForSubjectInIdToken),
 * with jose against the live JWKS.
 */
export async function validateIdToken(suite: Suite, idToken: string, checks: IdTokenChecks): Promise<ValidatedIdToken> {
  const client = checks.client ?? suite.client;
  const header = decodeProtectedHeader(idToken);
  const advertised = suite.discovery.id_token_signing_alg_values_supported;
  assert.ok(typeof header.alg === 'string' && header.alg !== 'none', `signed (alg ${header.alg})`);
  assert.ok(
    advertised.includes(header.alg),
    `alg ${header.alg} is one the issuer advertises (${advertised.join(' ')})`,
  );
  assert.equal(typeof header.kid, 'string', 'OIDC Core 10.1: kid, so the key is found by it');
  assert.equal(header.typ, 'JWT', 'typ JWT (contract 6)');
  // jose picks the JWKS key by kid and alg and fails on no match, a bad signature, iss, aud or exp.
  const { payload } = await jwtVerify(idToken, suite.jwks, {
    issuer: suite.discovery.issuer,
    audience: client.client_id,
    algorithms: advertised.filter((a) => a !== 'none'),
    clockTolerance: SKEW_SECONDS,
  });
  const t = now();
  assert.equal(typeof payload.sub, 'string', 'CheckForSubjectInIdToken');
  assert.ok(
    payload.sub!.length > 0 && payload.sub!.length <= 255 && /^[\x21-\x7E]+$/.test(payload.sub!),
    'sub: 1-255 ASCII',
  );
  const aud = [payload.aud].flat();
  assert.ok(aud.includes(client.client_id), 'aud contains the client_id');
  if (aud.length > 1) assert.equal(payload.azp, client.client_id, 'several audiences: azp is the client');
  if (payload.azp !== undefined) assert.equal(payload.azp, client.client_id, 'azp, if present, is the client');
  assert.equal(typeof payload.exp, 'number', 'exp');
  assert.equal(typeof payload.iat, 'number', 'iat');
  assert.ok(payload.exp! > t - SKEW_SECONDS, 'not expired');
  assert.ok(payload.iat! <= t + SKEW_SECONDS, 'not issued in the future');
  assert.ok(payload.iat! >= t - SKEW_SECONDS, 'issued just now');
  assert.ok(payload.exp! > payload.iat!, 'exp after iat');
  if (checks.nonce !== undefined) assert.equal(payload.nonce, checks.nonce, 'ValidateIdTokenNonce');
  else if (!checks.refreshed) assert.equal(payload.nonce, undefined, 'no nonce sent, none returned');
  if (checks.authTimeRequired) assert.equal(typeof payload.auth_time, 'number', 'auth_time required (max_age sent)');
  if (payload.auth_time !== undefined) {
    assert.ok(Number.isInteger(payload.auth_time), 'auth_time is a number of seconds');
    assert.ok((payload.auth_time as number) <= t + SKEW_SECONDS, 'auth_time not in the future');
  }
  if (payload.at_hash !== undefined && checks.accessToken !== undefined)
    assert.equal(payload.at_hash, atHash(header.alg, checks.accessToken), 'at_hash matches the access token');
  return { claims: payload as ValidatedIdToken['claims'], header };
}

export type UserinfoMethod = 'get' | 'post-header' | 'post-body';

/** The UserInfo request (OIDC Core 5.3.1) in one of the three ways the plan tries. */
export async function userinfo(suite: Suite, accessToken: string, method: UserinfoMethod = 'get') {
  const endpoint = suite.discovery.userinfo_endpoint;
  const res =
    method === 'get'
      ? await fetch(endpoint, { headers: { authorization: `Bearer ${accessToken}`, accept: 'application/json' } })
      : method === 'post-header'
        ? // As the suite's client sends it: a form content type and an empty body.
          await fetch(endpoint, {
            method: 'POST',
            headers: {
              authorization: `Bearer ${accessToken}`,
              'content-type': 'application/x-www-form-urlencoded',
              accept: 'application/json',
            },
            body: '',
          })
        : await fetch(endpoint, {
            method: 'POST',
            headers: { 'content-type': 'application/x-www-form-urlencoded', accept: 'application/json' },
            body: new URLSearchParams({ access_token: accessToken }).toString(),
          });
  const text = await res.text();
  return { status: res.status, headers: res.headers, text };
}

/**
 * A successful UserInfo answer (OIDC Core 5.3.2 and 5.1: EnsureUserInfoContainsSub,
 * ValidateUserInfoStandardClaims, EnsureUserInfoUpdatedAtValid), its sub equal to the ID
 * token's (VerifyUserInfoAndIdTokenInTokenEndpointSameSub).
 */
export async function expectUserinfo(
  suite: Suite,
  accessToken: string,
  sub: string,
  method: UserinfoMethod = 'get',
): Promise<Record<string, unknown>> {
  const res = await userinfo(suite, accessToken, method);
  assert.equal(res.status, 200, `userinfo (${method}): ${res.status} ${res.text}`);
  assert.match(res.headers.get('content-type') ?? '', /^application\/json/);
  const claims = JSON.parse(res.text) as Record<string, unknown>;
  assert.equal(claims.sub, sub, 'userinfo sub equals the ID token sub');
  const strings = ['name', 'given_name', 'family_name', 'email', 'phone_number', 'locale', 'zoneinfo', 'website'];
  for (const name of strings)
    if (claims[name] !== undefined) assert.equal(typeof claims[name], 'string', `${name} is a string`);
  for (const name of ['email_verified', 'phone_number_verified'])
    if (claims[name] !== undefined) assert.equal(typeof claims[name], 'boolean', `${name} is a boolean`);
  if (claims.updated_at !== undefined) assert.ok(Number.isInteger(claims.updated_at), 'updated_at: seconds');
  if (claims.address !== undefined) assert.equal(typeof claims.address, 'object', 'address is an object');
  return claims;
}

export interface Flow {
  browser: HtmlAgent;
  user: TestUser;
  params: Record<string, string>;
  outcome: AuthorizationOutcome;
  callback: URL;
  code: string;
  tokens: TokenResponse;
  idToken: ValidatedIdToken;
}

/**
 * One authorization code flow as the suite's happy path runs it: authorization request,
 * the user signs in (and consents) in `browser`, the callback is checked, the code is
 * redeemed with client_secret_basic, the ID token validated.
 */
export async function codeFlow(
  suite: Suite,
  options: {
    browser?: HtmlAgent;
    user?: TestUser;
    params?: AuthorizationParams;
    method?: 'GET' | 'POST';
    client?: StaticClient;
    codeVerifier?: string;
    auth?: 'client_secret_basic' | 'client_secret_post';
    authTimeRequired?: boolean;
  } = {},
): Promise<Flow> {
  const browser = options.browser ?? new HtmlAgent();
  const user = options.user ?? (await newUser(suite));
  const client = options.client ?? suite.client;
  const params = requestParams(client, options.params);
  const outcome = await authorize(suite, browser, params, {
    user,
    method: options.method ?? 'GET',
    redirectUri: client.redirect_uri,
  });
  const callback = expectCallback(outcome);
  const code = expectCode(suite, callback, params.state);
  const tokens = await exchangeCode(suite, code, {
    client,
    ...(options.codeVerifier ? { codeVerifier: options.codeVerifier } : {}),
    ...(options.auth ? { auth: options.auth } : {}),
  });
  const idToken = await validateIdToken(suite, tokens.id_token!, {
    client,
    nonce: params.nonce,
    accessToken: tokens.access_token,
    authTimeRequired: options.authTimeRequired ?? params.max_age !== undefined,
  });
  assert.equal(idToken.claims.sub, user.id, 'the ID token names the user who signed in');
  return { browser, user, params, outcome, callback, code, tokens, idToken };
}
