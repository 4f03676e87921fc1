// The one verification core for Tessera's tokens: size limit, algorithm list, refused
// headers, typ, signature and claims. Resource services reach it through createVerifier;
// Tessera's own TokenService calls it with its keystore as the key resolver.
import {
  decodeProtectedHeader,
  errors as joseErrors,
  jwtVerify,
  type CryptoKey,
  type JWTPayload,
  type KeyObject,
} from 'jose';
import { VerifierError, type VerifierErrorCode } from './errors.js';

/** Larger tokens are refused before any parsing (8 KiB). */
export const MAX_TOKEN_LENGTH = 8192;
export const DEFAULT_ALGORITHMS = ['ES256', 'EdDSA', 'RS256', 'PS256'] as const;
/** Clock skew tolerated on exp, nbf and iat, in seconds. */
export const DEFAULT_LEEWAY = 5;
/** Asymmetric JWS algorithms a caller may allow; HS* and none never are. */
export const SUPPORTED_ALGORITHMS: ReadonlySet<string> = new Set([
  'ES256',
  'ES384',
  'ES512',
  'EdDSA',
  'Ed25519',
  'RS256',
  'RS384',
  'RS512',
  'PS256',
  'PS384',
  'PS512',
]);
/** Headers that point at or carry keys or extensions; Tessera never sends them. */
const REFUSED_HEADERS = ['jwk', 'jku', 'x5u', 'x5c', 'crit'] as const;
const COMPACT_JWS = /^[A-Za-z0-9_-]+\.[A-Za-z0-9_-]+\.[A-Za-z0-9_-]*$/;

/** The claims Tessera puts in its tokens (refresh tokens carry a subset). */
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

export interface ResolvedKey {
  key: CryptoKey | KeyObject;
  /** The one algorithm the key is for; a token naming another is refused. */
  alg: string;
}

/**
 * Finds the verification key named by a token's kid. `alg` is the header's, already on
 * the allow-list; the core compares it with the key's own alg whatever the resolver does.
 * Answers undefined for an unknown kid; throws VerifierError ERR_JWKS_UNAVAILABLE when
 * keys cannot be had right now (anything else thrown counts as that too).
 */
export type KeyResolver = (kid: string, alg: string) => ResolvedKey | undefined | Promise<ResolvedKey | undefined>;

export interface JwtPolicy {
  /** Exact `iss`. */
  issuer: string;
  /** Accepted `aud` value(s): a token must carry at least one. */
  audience: string | readonly string[];
  /** Required header typ, e.g. `at+jwt`; compared as RFC 7515 4.1.9 allows (any case, `application/` optional). */
  typ: string;
  keys: KeyResolver;
  /** Allowed `alg` values, default DEFAULT_ALGORITHMS; only SUPPORTED_ALGORITHMS ever pass. */
  algorithms?: readonly string[];
  /** Seconds of clock skew, default DEFAULT_LEEWAY. */
  leeway?: number;
}

const normalizeTyp = (typ: string) => typ.toLowerCase().replace(/^application\//, '');

/**
 * The verified claims of token at `now` (epoch ms); throws VerifierError for any token
 * it refuses, and TypeError for an unusable policy.
 */
export async function verifyJwt(
  token: unknown,
  policy: JwtPolicy,
  now: number = Date.now(),
): Promise<AccessTokenClaims> {
  const audience = checkPolicy(policy);
  if (typeof token !== 'string' || token.length === 0) throw new VerifierError('ERR_TOKEN_MALFORMED', 'no token');
  if (token.length > MAX_TOKEN_LENGTH) throw new VerifierError('ERR_TOKEN_TOO_LARGE', 'token exceeds 8 KiB');
  if (!COMPACT_JWS.test(token)) throw new VerifierError('ERR_TOKEN_MALFORMED', 'not a compact JWS');

  // Everything decidable from the header alone is decided before any key lookup, so
  // junk never causes a JWKS fetch.
  let header: Record<string, unknown>;
  try {
    header = decodeProtectedHeader(token);
  } catch (error) {
    throw new VerifierError('ERR_TOKEN_MALFORMED', 'unreadable header', { cause: error });
  }
  const alg = header.alg;
  const allowed = policy.algorithms ?? DEFAULT_ALGORITHMS;
  if (typeof alg !== 'string' || !allowed.includes(alg) || !SUPPORTED_ALGORITHMS.has(alg))
    throw new VerifierError('ERR_ALG_NOT_ALLOWED', 'alg not allowed');
  for (const name of REFUSED_HEADERS) {
    if (Object.hasOwn(header, name)) throw new VerifierError('ERR_KEY_REFERENCE_HEADER', `header carries ${name}`);
  }
  if (typeof header.typ !== 'string' || normalizeTyp(header.typ) !== normalizeTyp(policy.typ))
    throw new VerifierError('ERR_TYP', `not a ${policy.typ} token`);
  const kid = header.kid;
  if (typeof kid !== 'string' || kid.length === 0) throw new VerifierError('ERR_UNKNOWN_KID', 'no kid');
  if (token.endsWith('.')) throw new VerifierError('ERR_SIGNATURE', 'no signature');

  const found = await resolve(policy.keys, kid, alg);
  if (!found) throw new VerifierError('ERR_UNKNOWN_KID', 'no key has this kid');
  // A PS256 header on an RS256 key, or ES384 on a P-256 key, is refused even though the
  // key material would fit.
  if (found.alg !== alg) throw new VerifierError('ERR_KEY_ALG_MISMATCH', 'the key is for another algorithm');

  const leeway = policy.leeway ?? DEFAULT_LEEWAY;
  let payload: JWTPayload;
  try {
    ({ payload } = await jwtVerify(token, found.key, {
      algorithms: [alg],
      issuer: policy.issuer,
      audience,
      clockTolerance: leeway,
      currentDate: new Date(now),
      requiredClaims: ['iss', 'aud', 'sub', 'exp', 'iat', 'jti'],
    }));
  } catch (error) {
    throw fromJose(error);
  }
  const claims = checkClaimTypes(payload);
  if (claims.iat > Math.floor(now / 1000) + leeway)
    throw new VerifierError('ERR_ISSUED_IN_FUTURE', 'iat is in the future');
  return claims;
}

/** Array.isArray, without narrowing a readonly array to any[]. */
const isList = (value: unknown): value is readonly unknown[] => Array.isArray(value);

/**
 * Checked on every call, for JavaScript callers: jose skips the iss check when no issuer
 * is given, and a string spread as a list would accept its characters as audiences.
 */
function checkPolicy(policy: JwtPolicy): string[] {
  const { issuer, audience, typ, keys } = policy ?? ({} as Partial<JwtPolicy>);
  if (typeof issuer !== 'string' || issuer.length === 0)
    throw new TypeError('policy.issuer must be a non-empty string');
  const audiences = typeof audience === 'string' ? [audience] : isList(audience) ? [...audience] : [];
  if (audiences.length === 0 || !audiences.every((a) => typeof a === 'string' && a.length > 0))
    throw new TypeError('policy.audience must name at least one audience');
  if (typeof typ !== 'string' || typ.length === 0) throw new TypeError('policy.typ must be a non-empty string');
  if (typeof keys !== 'function') throw new TypeError('policy.keys must be a key resolver');
  return audiences;
}

async function resolve(keys: KeyResolver, kid: string, alg: string): Promise<ResolvedKey | undefined> {
  try {
    return await keys(kid, alg);
  } catch (error) {
    if (error instanceof VerifierError) throw error;
    throw new VerifierError('ERR_JWKS_UNAVAILABLE', 'the key resolver failed', { cause: error });
  }
}

function fromJose(error: unknown): VerifierError {
  const code = ((): VerifierErrorCode => {
    if (error instanceof joseErrors.JWSSignatureVerificationFailed) return 'ERR_SIGNATURE';
    if (error instanceof joseErrors.JWTExpired) return 'ERR_EXPIRED';
    if (error instanceof joseErrors.JWTClaimValidationFailed)
      return error.claim === 'nbf' && error.reason === 'check_failed' ? 'ERR_NOT_YET_VALID' : 'ERR_CLAIM_INVALID';
    if (error instanceof joseErrors.JOSEAlgNotAllowed) return 'ERR_ALG_NOT_ALLOWED';
    if (error instanceof joseErrors.JWSInvalid || error instanceof joseErrors.JWTInvalid) return 'ERR_TOKEN_MALFORMED';
    return 'ERR_SIGNATURE';
  })();
  return new VerifierError(code, code === 'ERR_SIGNATURE' ? 'signature check failed' : 'token refused', {
    cause: error,
  });
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
  if (payload.roles !== undefined && !(Array.isArray(payload.roles) && payload.roles.every(isString)))
    throw invalid('roles');
  if (payload.auth_time !== undefined && typeof payload.auth_time !== 'number') throw invalid('auth_time');
  return payload as AccessTokenClaims;
}
