// Verifies Tessera access tokens (RFC 9068) for resource services, on their own: keys
// come from the issuer's published JWKS, never from the token. Depends on jose and
// Node built-ins only.
import { decodeProtectedHeader, errors as joseErrors, jwtVerify, type JWTPayload } from 'jose';
import { VerifierError, type VerifierErrorCode } from './errors.js';
import { JwksCache, type JwksCounters } from './jwks-cache.js';
import { RevocationList, revocationSettings, type RevocationCounters, type RevocationOptions } from './revocation.js';
import type { FetchLike } from './http.js';

/** Larger tokens are refused before any parsing (8 KiB). */
export const MAX_TOKEN_LENGTH = 8192;
export const DEFAULT_ALGORITHMS = ['ES256', 'EdDSA', 'RS256', 'PS256'] as const;
/** Asymmetric JWS algorithms a caller may allow; HS* and none never are. */
const SUPPORTED_ALGORITHMS = new Set(['ES256', 'ES384', 'ES512', 'EdDSA', 'Ed25519', 'RS256', 'RS384', 'RS512', 'PS256', 'PS384', 'PS512']);
/** Headers that point at or carry keys or extensions; Tessera never sends them. */
const REFUSED_HEADERS = ['jwk', 'jku', 'x5u', 'x5c', 'crit'] as const;
const ACCEPTED_TYP = new Set(['at+jwt', 'application/at+jwt']);
const COMPACT_JWS = /^[A-Za-z0-9_-]+\.[A-Za-z0-9_-]+\.[A-Za-z0-9_-]*$/;

export interface VerifierOptions {
  /** Exact `iss` of the tokens, and the base of discovery. */
  issuer: string;
  /** Accepted `aud` value(s): a token must carry at least one. */
  audience: string | readonly string[];
  /** Skips discovery when set. */
  jwksUri?: string;
  /** Allowed `alg` values; default ES256, EdDSA, RS256, PS256. */
  algorithms?: readonly string[];
  /** Clock skew tolerated on exp, nbf and iat, in seconds; default 5. */
  leeway?: number;
  /** Seconds between JWKS fetches caused by unknown kids; default 30. */
  cooldown?: number;
  /** Seconds before an HTTP request to the issuer is abandoned; default 5. */
  timeout?: number;
  /** The clock, epoch milliseconds; default Date.now. */
  now?: () => number;
  /** A fixed clock; shorthand for `now: () => currentDate.getTime()`. */
  currentDate?: Date;
  fetch?: FetchLike;
  /** Polls the issuer for ended sessions and users; tokens of those are refused. */
  revocation?: RevocationOptions;
  /** Called with background failures (JWKS fetch, revocation poll) for logging. */
  onError?: (error: Error, source: 'jwks' | 'revocation') => void;
}

export interface AccessTokenClaims extends JWTPayload {
  iss: string;
  sub: string;
  aud: string | string[];
  exp: number;
  iat: number;
  jti: string;
  nbf?: number;
  client_id?: string;
  scope?: string;
  sid?: string;
  roles?: string[];
  auth_time?: number;
}

export interface VerifierStats extends JwksCounters, RevocationCounters {
  verified: number;
  rejected: number;
  /** Keys currently cached. */
  keys: number;
  revokedSessions: number;
  revokedUsers: number;
}

export interface Verifier {
  readonly issuer: string;
  readonly audience: readonly string[];
  /** The verified claims; throws VerifierError otherwise. */
  verify(token: string): Promise<AccessTokenClaims>;
  /** Polls the revocation list now; resolves when done (failures keep the lists). */
  pollRevocations(): Promise<void>;
  stats(): VerifierStats;
  /** Stops revocation polling and abandons requests in flight. */
  close(): Promise<void>;
}

/** The scopes of a token, from its space-separated `scope` claim. */
export function scopesOf(claims: Pick<AccessTokenClaims, 'scope'>): string[] {
  return typeof claims.scope === 'string' ? claims.scope.split(' ').filter(Boolean) : [];
}

export function createVerifier(options: VerifierOptions): Verifier {
  const issuer = options.issuer;
  if (typeof issuer !== 'string' || !URL.canParse(issuer)) throw new TypeError('issuer must be an absolute URL');
  const audience = typeof options.audience === 'string' ? [options.audience] : [...(options.audience ?? [])];
  if (audience.length === 0 || audience.some((a) => typeof a !== 'string' || a.length === 0)) throw new TypeError('audience must be a non-empty string or list');
  const algorithms = [...(options.algorithms ?? DEFAULT_ALGORITHMS)];
  for (const alg of algorithms) if (!SUPPORTED_ALGORITHMS.has(alg)) throw new TypeError(`algorithm ${alg} may not be allowed`);
  const leeway = seconds(options.leeway ?? 5, 'leeway', true);
  const cooldownMs = seconds(options.cooldown ?? 30, 'cooldown', true) * 1000;
  const timeoutMs = seconds(options.timeout ?? 5, 'timeout', false) * 1000;
  const fixed = options.currentDate;
  const now = options.now ?? (fixed ? () => fixed.getTime() : Date.now);
  const fetchImpl: FetchLike = options.fetch ?? ((input, init) => fetch(input, init));
  const closing = new AbortController();

  const counters: JwksCounters & RevocationCounters & { verified: number; rejected: number } = {
    jwksFetches: 0,
    jwksNotModified: 0,
    jwksFailures: 0,
    discoveryFetches: 0,
    revocationPolls: 0,
    revocationFailures: 0,
    verified: 0,
    rejected: 0,
  };

  const jwks = new JwksCache({
    issuer,
    ...(options.jwksUri !== undefined ? { jwksUri: options.jwksUri } : {}),
    fetch: fetchImpl,
    now,
    timeoutMs,
    cooldownMs,
    signal: closing.signal,
    counters,
    onError: (error) => options.onError?.(error, 'jwks'),
  });
  const revocation = options.revocation
    ? new RevocationList(
        revocationSettings(issuer, options.revocation, {
          fetch: fetchImpl,
          now,
          timeoutMs,
          signal: closing.signal,
          counters,
          onError: (error) => options.onError?.(error, 'revocation'),
        }),
      )
    : undefined;

  async function check(token: unknown): Promise<AccessTokenClaims> {
    if (typeof token !== 'string' || token.length === 0) throw new VerifierError('ERR_TOKEN_MALFORMED', 'no token');
    if (token.length > MAX_TOKEN_LENGTH) throw new VerifierError('ERR_TOKEN_TOO_LARGE', 'token exceeds 8 KiB');
    if (!COMPACT_JWS.test(token)) throw new VerifierError('ERR_TOKEN_MALFORMED', 'not a compact JWS');

    // Everything decidable from the header alone is decided before any key lookup,
    // so junk never causes a JWKS fetch.
    let header: Record<string, unknown>;
    try {
      header = decodeProtectedHeader(token) as Record<string, unknown>;
    } catch (error) {
      throw new VerifierError('ERR_TOKEN_MALFORMED', 'unreadable header', { cause: error });
    }
    const alg = header.alg;
    if (typeof alg !== 'string' || !algorithms.includes(alg)) throw new VerifierError('ERR_ALG_NOT_ALLOWED', 'alg not allowed');
    for (const name of REFUSED_HEADERS) {
      if (Object.hasOwn(header, name)) throw new VerifierError('ERR_KEY_REFERENCE_HEADER', `header carries ${name}`);
    }
    if (typeof header.typ !== 'string' || !ACCEPTED_TYP.has(header.typ.toLowerCase())) throw new VerifierError('ERR_TYP', 'not an access token (typ)');
    const kid = header.kid;
    if (typeof kid !== 'string' || kid.length === 0) throw new VerifierError('ERR_UNKNOWN_KID', 'no kid');
    if (token.endsWith('.')) throw new VerifierError('ERR_SIGNATURE', 'no signature');

    const { key } = await jwks.getKey(kid, alg);
    const current = new Date(now());
    let payload: JWTPayload;
    try {
      ({ payload } = await jwtVerify(token, key, {
        algorithms: [alg],
        issuer,
        audience,
        clockTolerance: leeway,
        currentDate: current,
        requiredClaims: ['iss', 'aud', 'sub', 'exp', 'iat', 'jti'],
      }));
    } catch (error) {
      throw fromJose(error);
    }
    const claims = checkClaimTypes(payload);
    const nowSeconds = Math.floor(current.getTime() / 1000);
    if (claims.iat > nowSeconds + leeway) throw new VerifierError('ERR_ISSUED_IN_FUTURE', 'iat is in the future');
    if (revocation) {
      // Entries older than the window are pruned, which is only safe when no accepted
      // token lives longer than it.
      if (claims.exp - claims.iat > revocation.window) throw new VerifierError('ERR_CLAIM_INVALID', 'token lifetime exceeds the revocation window');
      await revocation.ready;
      if (revocation.isRevoked(claims)) throw new VerifierError('ERR_REVOKED', 'session or user ended');
    }
    return claims;
  }

  return {
    issuer,
    audience,
    async verify(token: string): Promise<AccessTokenClaims> {
      try {
        const claims = await check(token);
        counters.verified += 1;
        return claims;
      } catch (error) {
        counters.rejected += 1;
        if (error instanceof VerifierError) throw error;
        throw new VerifierError('ERR_SIGNATURE', 'verification failed', { cause: error });
      }
    },
    pollRevocations: () => revocation?.poll() ?? Promise.resolve(),
    stats: () => ({
      ...counters,
      keys: jwks.size,
      revokedSessions: revocation?.size.sessions ?? 0,
      revokedUsers: revocation?.size.users ?? 0,
    }),
    async close(): Promise<void> {
      revocation?.close();
      closing.abort();
    },
  };
}

function seconds(value: number, name: string, zeroAllowed: boolean): number {
  if (typeof value !== 'number' || !Number.isFinite(value) || value < 0 || (!zeroAllowed && value === 0)) {
    throw new TypeError(`${name} must be a ${zeroAllowed ? 'non-negative' : 'positive'} number of seconds`);
  }
  return value;
}

function fromJose(error: unknown): VerifierError {
  const code = ((): VerifierErrorCode => {
    if (error instanceof joseErrors.JWSSignatureVerificationFailed) return 'ERR_SIGNATURE';
    if (error instanceof joseErrors.JWTExpired) return 'ERR_EXPIRED';
    if (error instanceof joseErrors.JWTClaimValidationFailed) return error.claim === 'nbf' && error.reason === 'check_failed' ? 'ERR_NOT_YET_VALID' : 'ERR_CLAIM_INVALID';
    if (error instanceof joseErrors.JOSEAlgNotAllowed) return 'ERR_ALG_NOT_ALLOWED';
    if (error instanceof joseErrors.JWSInvalid || error instanceof joseErrors.JWTInvalid) return 'ERR_TOKEN_MALFORMED';
    return 'ERR_SIGNATURE';
  })();
  return new VerifierError(code, code === 'ERR_SIGNATURE' ? 'signature check failed' : 'token refused', { cause: error });
}

const isString = (value: unknown): value is string => typeof value === 'string';

/** jose checked presence and the time claims; the rest must have the types Tessera issues. */
function checkClaimTypes(payload: JWTPayload): AccessTokenClaims {
  const invalid = (claim: string) => new VerifierError('ERR_CLAIM_INVALID', `claim ${claim} has the wrong type`);
  const { sub, jti, iat, exp } = payload;
  if (!isString(sub) || sub.length === 0) throw invalid('sub');
  if (!isString(jti) || jti.length === 0) throw invalid('jti');
  if (typeof iat !== 'number' || !Number.isFinite(iat)) throw invalid('iat');
  if (typeof exp !== 'number' || !Number.isFinite(exp)) throw invalid('exp');
  for (const claim of ['client_id', 'scope', 'sid'] as const) {
    if (payload[claim] !== undefined && !isString(payload[claim])) throw invalid(claim);
  }
  if (payload.roles !== undefined && !(Array.isArray(payload.roles) && payload.roles.every(isString))) throw invalid('roles');
  if (payload.auth_time !== undefined && typeof payload.auth_time !== 'number') throw invalid('auth_time');
  return payload as AccessTokenClaims;
}
