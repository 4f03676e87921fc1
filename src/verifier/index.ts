// Tessera's verifier kit: what resource services import (`tessera/verifier`) to verify
// Tessera access tokens on their own. Depends on jose and Node built-ins only.
export { createVerifier, scopesOf, MAX_TOKEN_LENGTH, DEFAULT_ALGORITHMS } from './verifier.js';
export type { Verifier, VerifierOptions, VerifierStats, AccessTokenClaims } from './verifier.js';
export { VerifierError, VERIFIER_ERROR_CODES, isUnavailable } from './errors.js';
export type { VerifierErrorCode } from './errors.js';
export type { RevocationOptions } from './revocation.js';
export type { FetchLike } from './http.js';
