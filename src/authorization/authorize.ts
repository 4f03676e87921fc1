// The authorization endpoint's use case (RFC 6749 4.1, OIDC Core 3.1.2): check the
// request, then decide the next step: the login page, the consent page, or the redirect
// back to the client with a code or an error. A request that waits for the user is kept
// server-side (authorization_requests), bound to the browser that started it.
import { randomBytes } from 'node:crypto';
import type { AppConfig } from '../app.js';
import type { Database, Queryable } from '../db/database.js';
import { findClient, type ClientRow } from '../db/repositories/clients.js';
import type { BrowserSessionRow } from '../db/repositories/browser-sessions.js';
import {
  completeRequest,
  createAuthorizationRequest,
  findPendingRequest,
  type AuthorizationRequestRow,
} from '../db/repositories/authorization-requests.js';
import { insertAuthorizationCode } from '../db/repositories/authorization-codes.js';
import { findConsent, grantConsent } from '../db/repositories/consents.js';
import {
  checkAuthorizationRequest,
  needsConsent,
  needsLogin,
  redirectWith,
  type AuthorizationParams,
} from '../domain/oauth/authorization-request.js';
import type { TokenService } from '../tokens/token-service.js';
import { recordSecurityEvent } from '../audit/audit-log.js';
import { sha256 } from './browser.js';

export interface AuthorizeDeps {
  db: Database;
  tokens: TokenService;
  config: Pick<AppConfig, 'issuer' | 'defaultAudience' | 'audiences' | 'authCodeTtl' | 'authorizationRequestTtl'>;
}

/** What the endpoint answers next. */
export type AuthorizeStep =
  | { kind: 'error_page'; status: number; error: string; description: string }
  | { kind: 'redirect'; location: string; redirectUri: string }
  | { kind: 'login'; request: AuthorizationRequestRow; client: ClientRow }
  | { kind: 'consent'; request: AuthorizationRequestRow; client: ClientRow };

/** The browser as the use case sees it: its binding token and its live session, if any. */
export interface BrowserState {
  binding: string;
  session: BrowserSessionRow | undefined;
}

const errorRedirect = (
  config: { issuer: string },
  redirectUri: string,
  state: string | undefined,
  error: string,
  description: string,
): AuthorizeStep => ({
  kind: 'redirect',
  redirectUri,
  location: redirectWith(redirectUri, { error, error_description: description, state, iss: config.issuer }),
});

/** GET or POST /oauth/authorize: a new request from a client. */
export async function startAuthorization(
  deps: AuthorizeDeps,
  raw: Record<string, string>,
  browser: BrowserState,
): Promise<AuthorizeStep> {
  const { db, config } = deps;
  const client = raw.client_id ? await findClient(db, raw.client_id) : undefined;
  const check = checkAuthorizationRequest(raw, client, config);
  if (check.kind === 'fatal')
    return { kind: 'error_page', status: 400, error: check.error, description: check.description };
  if (check.kind === 'redirect')
    return errorRedirect(config, check.redirectUri, check.state, check.error, check.description);
  const params = check.params;

  // OIDC Core 3.1.2.1: a hint naming another user than the browser's means that user is not logged in.
  let session = browser.session;
  if (params.idTokenHint !== undefined) {
    const hint = await deps.tokens.verifyIdTokenHint(params.idTokenHint).catch(() => undefined);
    if (!hint)
      return errorRedirect(config, params.redirectUri, params.state, 'invalid_request', 'Invalid id_token_hint');
    if (session && session.user_id !== hint.sub) session = undefined;
  }
  return proceed(deps, client!, params, { ...browser, session }, undefined);
}

/**
 * The next step of a request, new or pending: login, consent, or the code. A pending
 * request is completed (once) when it ends in a redirect.
 */
async function proceed(
  deps: AuthorizeDeps,
  client: ClientRow,
  params: AuthorizationParams,
  browser: BrowserState,
  pending: AuthorizationRequestRow | undefined,
  consentedNow = false,
): Promise<AuthorizeStep> {
  const { db, config } = deps;
  const now = new Date();
  const session = browser.session;
  const loggedInNow = pending?.login_at != null && session?.id === pending.browser_session_id;
  const fail = async (error: string, description: string) => {
    if (pending && !(await completeRequest(db, pending.id))) return alreadyDone();
    return errorRedirect(config, params.redirectUri, params.state, error, description);
  };

  const liveSession = session && { authTime: new Date(session.auth_time) };
  if (needsLogin(params, liveSession, loggedInNow, now)) {
    if (params.prompt.includes('none')) return fail('login_required', 'The user is not logged in');
    return { kind: 'login', client, request: pending ?? (await keep(deps, params, browser)) };
  }
  const user = session!;
  const consent = client.first_party ? undefined : await findConsent(db, user.user_id, client.id);
  if (needsConsent(params, client, consent, consentedNow)) {
    if (params.prompt.includes('none')) return fail('consent_required', 'The user has not consented');
    return { kind: 'consent', client, request: pending ?? (await keep(deps, params, browser)) };
  }

  if (pending && !(await completeRequest(db, pending.id))) return alreadyDone();
  const code = randomBytes(32).toString('base64url');
  await insertAuthorizationCode(db, {
    codeHash: sha256(code),
    clientId: client.id,
    userId: user.user_id,
    browserSessionId: user.id,
    redirectUri: params.redirectUri,
    redirectUriSent: params.redirectUriSent,
    codeChallenge: params.codeChallenge,
    scope: params.scope,
    audience: params.audience,
    nonce: params.nonce,
    authTime: new Date(user.auth_time),
    amr: user.amr,
    ttlSeconds: config.authCodeTtl,
  });
  return {
    kind: 'redirect',
    redirectUri: params.redirectUri,
    location: redirectWith(params.redirectUri, { code, state: params.state, iss: config.issuer }),
  };
}

const alreadyDone = (): AuthorizeStep => ({
  kind: 'error_page',
  status: 400,
  error: 'invalid_request',
  description: 'This sign-in request was already completed. Go back to the application and start again.',
});

async function keep(
  deps: AuthorizeDeps,
  params: AuthorizationParams,
  browser: BrowserState,
): Promise<AuthorizationRequestRow> {
  // The hint was judged at the start; an ID token has no reason to sit in the table.
  return createAuthorizationRequest(deps.db, {
    browserHash: sha256(browser.binding),
    params: { ...params, idTokenHint: undefined },
    ttlSeconds: deps.config.authorizationRequestTtl,
  });
}

/** A pending request of this browser, and its client (still enabled). */
export async function pendingRequest(
  db: Queryable,
  id: unknown,
  binding: string | undefined,
): Promise<{ request: AuthorizationRequestRow; client: ClientRow } | undefined> {
  if (typeof id !== 'string' || !binding) return undefined;
  const request = await findPendingRequest(db, id, sha256(binding));
  if (!request) return undefined;
  const client = await findClient(db, request.client_id);
  if (!client || client.disabled) return undefined;
  return { request, client };
}

const expiredRequest = (): AuthorizeStep => ({
  kind: 'error_page',
  status: 400,
  error: 'invalid_request',
  description: 'This sign-in request has expired or is unknown. Go back to the application and start again.',
});

/** After a login at the hosted page: on to consent or the code. */
export async function resumeAfterLogin(
  deps: AuthorizeDeps,
  pending: { request: AuthorizationRequestRow; client: ClientRow } | undefined,
  browser: BrowserState,
): Promise<AuthorizeStep> {
  if (!pending) return expiredRequest();
  return proceed(deps, pending.client, pending.request.params, browser, pending.request);
}

/** The consent page's answer. */
export async function decideConsent(
  deps: AuthorizeDeps,
  pending: { request: AuthorizationRequestRow; client: ClientRow } | undefined,
  browser: BrowserState,
  decision: 'allow' | 'deny',
  audit: { ip: string },
): Promise<AuthorizeStep> {
  if (!pending) return expiredRequest();
  const { request, client } = pending;
  const params = request.params;
  const session = browser.session;
  // The consent is the logged-in user's: without a session, back to the login page.
  if (!session) return proceed(deps, client, params, browser, request);
  if (decision === 'deny') {
    if (!(await completeRequest(deps.db, request.id))) return alreadyDone();
    await recordSecurityEvent(deps.db, {
      type: 'consent_denied',
      userId: session.user_id,
      ip: audit.ip,
      detail: { client_id: client.id, scope: params.scope },
    });
    return errorRedirect(deps.config, params.redirectUri, params.state, 'access_denied', 'The user denied the request');
  }
  const scopes = params.scope.split(' ');
  await grantConsent(deps.db, session.user_id, client.id, scopes);
  await recordSecurityEvent(deps.db, {
    type: 'consent_granted',
    userId: session.user_id,
    ip: audit.ip,
    detail: { client_id: client.id, scope: params.scope },
  });
  return proceed(deps, client, params, browser, request, true);
}
