// Bearer authentication (RFC 6750) as the Fastify plugin and the Express middleware
// both answer it: reading the header, and the refusals they send, so the two frameworks
// cannot drift apart.
import { VerifierError } from './errors.js';
import { createVerifier, scopesOf, type AccessTokenClaims, type Verifier, type VerifierOptions } from './verifier.js';

interface Shared {
  /** WWW-Authenticate realm; default the (first) audience. */
  realm?: string;
}

export type TesseraAuthOptions = (VerifierOptions & Shared) | ({ verifier: Verifier } & Shared);

/** What to send: the status, the headers and a generic JSON body. */
export interface Answer {
  status: number;
  headers: Record<string, string>;
  body: { error: string; error_description: string };
}

const REALM = /^[\x20\x21\x23-\x5B\x5D-\x7E]{1,200}$/;
/** RFC 6749 3.3 scope-token. */
const SCOPE_TOKEN = /^[\x21\x23-\x5B\x5D-\x7E]+$/;
/** RFC 6750 2.1: "Bearer" 1*SP b64token. */
const BEARER = /^Bearer +([A-Za-z0-9\-._~+/]+=*) *$/i;

/**
 * The realm and the verifier for these options; `owned` when created here, so whoever
 * holds it closes it.
 */
export function setUp(
  options: TesseraAuthOptions,
  onError?: VerifierOptions['onError'],
): { realm: string; verifier: Verifier; owned: boolean } {
  const realm =
    options.realm ?? ('verifier' in options ? options.verifier.audience[0] : [options.audience].flat()[0]) ?? 'api';
  if (!REALM.test(realm)) throw new TypeError('realm must be a short printable string without quotes or backslashes');
  if ('verifier' in options) return { realm, verifier: options.verifier, owned: false };
  const reportTo = options.onError ?? onError;
  return { realm, verifier: createVerifier({ ...options, ...(reportTo ? { onError: reportTo } : {}) }), owned: true };
}

/** The bearer token; undefined when none was sent (another scheme counts as none), null when malformed. */
function bearerToken(header: string | undefined): string | undefined | null {
  if (header === undefined) return undefined;
  if (!/^bearer(\s|$)/i.test(header)) return undefined;
  const match = BEARER.exec(header);
  return match ? match[1]! : null;
}

/**
 * The verified claims, or the refusal to send. Anything but a VerifierError from a
 * caller's verifier counts as a malformed token: refused, never let through.
 */
export async function authenticateHeader(
  verifier: Verifier,
  header: string | undefined,
  realm: string,
): Promise<{ claims: AccessTokenClaims } | { refusal: Answer; error: VerifierError | undefined }> {
  const token = bearerToken(header);
  if (token === undefined) return { refusal: refusal(realm, undefined), error: undefined };
  try {
    if (token === null) throw new VerifierError('ERR_TOKEN_MALFORMED', 'malformed Authorization header');
    return { claims: await verifier.verify(token) };
  } catch (error) {
    const refused =
      error instanceof VerifierError
        ? error
        : new VerifierError('ERR_TOKEN_MALFORMED', 'verification failed', { cause: error });
    return { refusal: refusal(realm, refused), error: refused };
  }
}

function challenge(realm: string, attributes: Record<string, string> = {}): string {
  return [`Bearer realm="${realm}"`, ...Object.entries(attributes).map(([name, value]) => `${name}="${value}"`)].join(
    ', ',
  );
}

function refusal(realm: string, error: VerifierError | undefined): Answer {
  if (error?.code === 'ERR_JWKS_UNAVAILABLE') {
    // The token may well be good: the issuer's keys are out of reach. Not the client's fault.
    return {
      status: 503,
      headers: { 'retry-after': '5' },
      body: { error: 'temporarily_unavailable', error_description: 'Token verification is temporarily unavailable' },
    };
  }
  if (!error) {
    // RFC 6750 3.1: no error attribute when the request carried no token at all.
    return {
      status: 401,
      headers: { 'www-authenticate': challenge(realm) },
      body: { error: 'invalid_token', error_description: 'An access token is required' },
    };
  }
  return {
    status: 401,
    headers: { 'www-authenticate': challenge(realm, { error: 'invalid_token' }) },
    body: { error: 'invalid_token', error_description: 'The access token is invalid' },
  };
}

function forbidden(realm: string, description: string, scope?: string): Answer {
  const attributes: Record<string, string> = { error: 'insufficient_scope' };
  if (scope) attributes.scope = scope;
  return {
    status: 403,
    headers: { 'www-authenticate': challenge(realm, attributes) },
    body: { error: 'insufficient_scope', error_description: description },
  };
}

/** The check behind requireScope: the token must carry every listed scope. */
export function scopeCheck(scopes: string[]): (claims: AccessTokenClaims, realm: string) => Answer | undefined {
  if (scopes.length === 0 || !scopes.every((s) => SCOPE_TOKEN.test(s)))
    throw new TypeError('requireScope needs valid scope tokens');
  const required = scopes.join(' ');
  return (claims, realm) => {
    const granted = new Set(scopesOf(claims));
    return scopes.every((s) => granted.has(s))
      ? undefined
      : forbidden(realm, 'The access token lacks the required scope', required);
  };
}

/** The check behind requireRole: the token must carry at least one listed role. */
export function roleCheck(roles: string[]): (claims: AccessTokenClaims, realm: string) => Answer | undefined {
  if (roles.length === 0 || !roles.every((r) => typeof r === 'string' && r.length > 0))
    throw new TypeError('requireRole needs role names');
  return (claims, realm) => {
    const granted = Array.isArray(claims.roles) ? claims.roles : [];
    return roles.some((r) => granted.includes(r))
      ? undefined
      : forbidden(realm, 'The access token lacks the required role');
  };
}
