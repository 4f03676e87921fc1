// The authorization request (RFC 6749 4.1.1, RFC 7636, OIDC Core 3.1.2.1) checked as a
// pure function: either a fatal error (the client or redirect URI cannot be trusted, so
// the user gets an error page and is never redirected), an error for the client's
// registered redirect URI (RFC 6749 4.1.2.1), or the validated request.
import { resolveAudience } from '../tokens/grant-request.js';

/** What of a client the request is checked against. */
export interface AuthorizingClient {
  id: string;
  type: 'confidential' | 'public';
  redirect_uris: string[];
  grant_types: string[];
  scopes: string[];
  require_pkce: boolean;
  disabled: boolean;
}

type Prompt = 'none' | 'login' | 'consent' | 'select_account';

export interface AuthorizationParams {
  clientId: string;
  redirectUri: string;
  /** Whether the request named the redirect URI (then the token request must repeat it). */
  redirectUriSent: boolean;
  /** The granted scope: what was asked for and the client may have, in the order asked. */
  scope: string;
  state: string | undefined;
  nonce: string | undefined;
  codeChallenge: string | undefined;
  audience: string;
  prompt: Prompt[];
  maxAge: number | undefined;
  loginHint: string | undefined;
  idTokenHint: string | undefined;
}

export type AuthorizationCheck =
  | { kind: 'fatal'; error: string; description: string }
  | { kind: 'redirect'; redirectUri: string; state: string | undefined; error: string; description: string }
  | { kind: 'ok'; params: AuthorizationParams };

const PROMPTS: readonly string[] = ['none', 'login', 'consent', 'select_account'];
const SCOPE_TOKEN = /^[\x21\x23-\x5B\x5D-\x7E]{1,128}$/;
/** RFC 7636 4.2: BASE64URL(SHA-256(verifier)) is 43 characters. */
const S256_CHALLENGE = /^[A-Za-z0-9_-]{43}$/;
const LIMITS = { state: 2048, nonce: 512, loginHint: 320, idTokenHint: 8192 };

export function checkAuthorizationRequest(
  p: Record<string, string>,
  client: AuthorizingClient | undefined,
  settings: { defaultAudience: string; audiences: readonly string[] },
): AuthorizationCheck {
  const fatal = (error: string, description: string): AuthorizationCheck => ({ kind: 'fatal', error, description });
  if (!p.client_id) return fatal('invalid_request', 'The client_id parameter is missing');
  if (!client || client.disabled) return fatal('invalid_client', 'The client is unknown');

  const requestedScopes = (p.scope ?? '').split(' ').filter(Boolean);
  const openid = requestedScopes.includes('openid');
  // RFC 6749 3.1.2.3: the redirect URI must match one registered exactly; it may be left
  // out only by a client with one, and never in OpenID Connect (OIDC Core 3.1.2.1).
  let redirectUri: string;
  if (p.redirect_uri !== undefined) {
    if (!client.redirect_uris.includes(p.redirect_uri))
      return fatal('invalid_request', 'The redirect_uri is not registered for this client');
    redirectUri = p.redirect_uri;
  } else {
    if (client.redirect_uris.length !== 1 || openid)
      return fatal('invalid_request', 'The redirect_uri parameter is missing');
    redirectUri = client.redirect_uris[0]!;
  }

  const state = p.state;
  const fail = (error: string, description: string): AuthorizationCheck => ({
    kind: 'redirect',
    redirectUri,
    state: state !== undefined && state.length <= LIMITS.state ? state : undefined,
    error,
    description,
  });
  if (state !== undefined && state.length > LIMITS.state) return fail('invalid_request', 'The state is too long');
  if (!client.grant_types.includes('authorization_code'))
    return fail('unauthorized_client', 'The client may not use the authorization code flow');
  if (p.response_type === undefined) return fail('invalid_request', 'The response_type parameter is missing');
  if (p.response_type !== 'code') return fail('unsupported_response_type', 'Only response_type=code is supported');
  if (p.response_mode !== undefined && p.response_mode !== 'query')
    return fail('invalid_request', 'Only response_mode=query is supported');
  if (p.request !== undefined) return fail('request_not_supported', 'Request objects are not supported');
  if (p.request_uri !== undefined) return fail('request_uri_not_supported', 'request_uri is not supported');
  if (p.registration !== undefined) return fail('registration_not_supported', 'registration is not supported');

  // OIDC Core 5.4: scope values that are not understood are ignored; RFC 6749 3.3 lets the
  // server grant less than asked. What remains must not be empty.
  if (p.scope === undefined) return fail('invalid_scope', 'The scope parameter is missing');
  if (!requestedScopes.every((s) => SCOPE_TOKEN.test(s))) return fail('invalid_scope', 'A scope is malformed');
  const granted = [...new Set(requestedScopes.filter((s) => client.scopes.includes(s)))];
  if (granted.length === 0) return fail('invalid_scope', 'None of the requested scopes is allowed for this client');

  const nonce = p.nonce;
  if (nonce !== undefined && (nonce.length === 0 || nonce.length > LIMITS.nonce))
    return fail('invalid_request', 'The nonce is empty or too long');

  // RFC 7636 with S256 only (4.4.1: another method is invalid_request); RFC 9700 2.1.1:
  // required of public clients, and of confidential ones unless registered otherwise (an
  // OpenID Connect client that checks its nonce instead; OIDC Core keeps nonce optional
  // in the code flow, so the client that opted out answers for it).
  const method = p.code_challenge_method;
  const challenge = p.code_challenge;
  if (challenge === undefined && method !== undefined)
    return fail('invalid_request', 'code_challenge_method without code_challenge');
  if (challenge !== undefined) {
    if ((method ?? 'plain') !== 'S256')
      return fail('invalid_request', 'Only the S256 code challenge method is supported');
    if (!S256_CHALLENGE.test(challenge)) return fail('invalid_request', 'The code_challenge is malformed');
  } else if (client.type === 'public' || client.require_pkce) {
    return fail('invalid_request', 'PKCE (code_challenge with S256) is required');
  }

  const audience = resolveAudience(p.resource, settings);
  if (audience === undefined) return fail('invalid_target', 'The resource is not known');

  const prompt = (p.prompt ?? '').split(' ').filter(Boolean);
  if (!prompt.every((v) => PROMPTS.includes(v))) return fail('invalid_request', 'Unknown prompt value');
  if (prompt.includes('none') && prompt.length > 1)
    return fail('invalid_request', 'prompt=none cannot be combined with other values');

  let maxAge: number | undefined;
  if (p.max_age !== undefined) {
    if (!/^\d{1,9}$/.test(p.max_age)) return fail('invalid_request', 'max_age must be a number of seconds');
    maxAge = Number(p.max_age);
  }
  const loginHint = p.login_hint !== undefined && p.login_hint.length <= LIMITS.loginHint ? p.login_hint : undefined;
  if (p.id_token_hint !== undefined && (p.id_token_hint.length === 0 || p.id_token_hint.length > LIMITS.idTokenHint))
    return fail('invalid_request', 'The id_token_hint is malformed');

  return {
    kind: 'ok',
    params: {
      clientId: client.id,
      redirectUri,
      redirectUriSent: p.redirect_uri !== undefined,
      scope: granted.join(' '),
      state,
      nonce,
      codeChallenge: challenge,
      audience,
      prompt: [...new Set(prompt)] as Prompt[],
      maxAge,
      loginHint,
      idTokenHint: p.id_token_hint,
    },
  };
}

/** RFC 6749 4.1.2 and RFC 9207: the answer appended to the redirect URI's own query. */
export function redirectWith(redirectUri: string, params: Record<string, string | undefined>): string {
  const url = new URL(redirectUri);
  for (const [name, value] of Object.entries(params)) if (value !== undefined) url.searchParams.append(name, value);
  return url.toString();
}

/** Whether a login must happen (again) before a code is issued. */
export function needsLogin(
  params: Pick<AuthorizationParams, 'prompt' | 'maxAge'>,
  session: { authTime: Date } | undefined,
  loggedInDuringRequest: boolean,
  now: Date,
): boolean {
  if (!session) return true;
  if (loggedInDuringRequest) return false;
  if (params.prompt.includes('login') || params.prompt.includes('select_account')) return true;
  if (params.maxAge !== undefined && now.getTime() - session.authTime.getTime() > params.maxAge * 1000) return true;
  return false;
}

/** Whether the consent page must be shown: a third party without a covering consent, or prompt=consent. */
export function needsConsent(
  params: Pick<AuthorizationParams, 'prompt' | 'scope'>,
  client: { first_party: boolean },
  consented: readonly string[] | undefined,
  consentedDuringRequest: boolean,
): boolean {
  if (client.first_party || consentedDuringRequest) return false;
  if (params.prompt.includes('consent')) return true;
  if (!consented) return true;
  return !params.scope.split(' ').every((s) => consented.includes(s));
}
