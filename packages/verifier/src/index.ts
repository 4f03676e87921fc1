// Tessera's verifier kit: what resource services import (`@tessera/verifier`, or
// `tessera/verifier` from the server package) to verify Tessera access tokens on their
// own. Depends on jose and Node built-ins only.
export { createVerifier, scopesOf } from './verifier.js';
export type { Verifier, VerifierOptions, VerifierStats } from './verifier.js';
export { verifyJwt, MAX_TOKEN_LENGTH, DEFAULT_ALGORITHMS, DEFAULT_LEEWAY, SUPPORTED_ALGORITHMS } from './verify-jwt.js';
export type { AccessTokenClaims, JwtPolicy, KeyResolver, ResolvedKey } from './verify-jwt.js';
export { VerifierError, VERIFIER_ERROR_CODES, isUnavailable } from './errors.js';
export type { VerifierErrorCode } from './errors.js';
export { JwksCache } from './jwks-cache.js';
export type { JwksCacheOptions, JwksCounters, PublishedKey } from './jwks-cache.js';
export { RevocationList } from './revocation.js';
export type { RevocationOptions, RevocationRuntime, RevocationCounters } from './revocation.js';
export type { FetchLike } from './http.js';
