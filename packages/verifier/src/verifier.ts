// Verifies Tessera access tokens (RFC 9068) for resource services, on their own: keys
// come from the issuer's published JWKS (or a caller's key resolver), never from the
// token. Depends on jose and Node built-ins only.
import { VerifierError } from './errors.js';
import { JwksCache, type JwksCounters } from './jwks-cache.js';
import { RevocationList, type RevocationCounters, type RevocationOptions } from './revocation.js';
import {
  DEFAULT_ALGORITHMS,
  DEFAULT_LEEWAY,
  SUPPORTED_ALGORITHMS,
  verifyJwt,
  type AccessTokenClaims,
  type JwtPolicy,
  type KeyResolver,
} from './verify-jwt.js';
import { assertSecureUrl, type FetchLike } from './http.js';

export type { AccessTokenClaims } from './verify-jwt.js';

const ACCESS_TYP = 'at+jwt';

export interface VerifierOptions {
  /** Exact `iss` of the tokens, and the base of discovery. */
  issuer: string;
  /** Accepted `aud` value(s): a token must carry at least one. */
  audience: string | readonly string[];
  /** Skips discovery when set. */
  jwksUri?: string;
  /**
   * Where keys come from instead of the issuer's JWKS (then nothing is fetched for
   * keys, and jwksUri and cooldown do not apply).
   */
  keys?: KeyResolver;
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
  /** Polls the issuer for ended sessions, users and clients and revoked tokens; those are refused. */
  revocation?: RevocationOptions;
  /** Called with background failures (JWKS fetch, revocation poll) for logging. */
  onError?: (error: Error, source: 'jwks' | 'revocation') => void;
  /**
   * Allows http: issuer, JWKS and revocation URLs that are not on loopback (an issuer
   * reached through a sidecar or mesh that adds TLS); default false: only https:, or
   * http: to localhost, 127.0.0.0/8 and ::1.
   */
  allowInsecureHttp?: boolean;
}

export interface VerifierStats extends JwksCounters, RevocationCounters {
  verified: number;
  rejected: number;
  /** Keys currently cached (0 with a caller's key resolver). */
  keys: number;
  revokedSessions: number;
  revokedUsers: number;
  revokedClients: number;
  revokedTokens: number;
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
  if (options.allowInsecureHttp !== undefined && typeof options.allowInsecureHttp !== 'boolean')
    throw new TypeError('allowInsecureHttp must be a boolean');
  const allowInsecureHttp = options.allowInsecureHttp === true;
  assertSecureUrl(issuer, 'issuer', allowInsecureHttp);
  if (options.jwksUri !== undefined) assertSecureUrl(options.jwksUri, 'jwksUri', allowInsecureHttp);
  const audience = typeof options.audience === 'string' ? [options.audience] : [...(options.audience ?? [])];
  if (audience.length === 0 || audience.some((a) => typeof a !== 'string' || a.length === 0))
    throw new TypeError('audience must be a non-empty string or list');
  const algorithms = [...(options.algorithms ?? DEFAULT_ALGORITHMS)];
  for (const alg of algorithms)
    if (!SUPPORTED_ALGORITHMS.has(alg)) throw new TypeError(`algorithm ${alg} may not be allowed`);
  if (options.keys !== undefined && typeof options.keys !== 'function')
    throw new TypeError('keys must be a key resolver function');
  if (options.keys && options.jwksUri !== undefined) throw new TypeError('keys and jwksUri exclude each other');
  const leeway = seconds(options.leeway ?? DEFAULT_LEEWAY, 'leeway', true);
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

  const jwks = options.keys
    ? undefined
    : new JwksCache({
        issuer,
        ...(options.jwksUri !== undefined ? { jwksUri: options.jwksUri } : {}),
        fetch: fetchImpl,
        now,
        timeoutMs,
        cooldownMs,
        signal: closing.signal,
        counters,
        allowInsecureHttp,
        onError: (error) => options.onError?.(error, 'jwks'),
      });
  const policy: JwtPolicy = {
    issuer,
    audience,
    typ: ACCESS_TYP,
    algorithms,
    leeway,
    // A closure, since TypeScript does not narrow jwks inside it: set exactly when keys is not.
    keys: options.keys ?? ((kid, alg) => jwks!.getKey(kid, alg)),
  };
  const revocation = options.revocation
    ? new RevocationList(issuer, options.revocation, {
        fetch: fetchImpl,
        now,
        timeoutMs,
        signal: closing.signal,
        counters,
        allowInsecureHttp,
        onError: (error) => options.onError?.(error, 'revocation'),
      })
    : undefined;

  async function check(token: unknown): Promise<AccessTokenClaims> {
    const claims = await verifyJwt(token, policy, now());
    if (revocation) {
      // Entries older than the window are pruned, which is only safe when no accepted
      // token lives longer than it.
      if (claims.exp - claims.iat > revocation.window)
        throw new VerifierError('ERR_CLAIM_INVALID', 'token lifetime exceeds the revocation window');
      await revocation.ready;
      if (revocation.isRevoked(claims))
        throw new VerifierError('ERR_REVOKED', 'session, user or client ended, or token revoked');
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
      keys: jwks?.size ?? 0,
      revokedSessions: revocation?.size.sessions ?? 0,
      revokedUsers: revocation?.size.users ?? 0,
      revokedClients: revocation?.size.clients ?? 0,
      revokedTokens: revocation?.size.jtis ?? 0,
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
