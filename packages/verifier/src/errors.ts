// The one error type the verifier kit throws. Callers branch on `code`, which is
// stable; the message is for logs only and never belongs in a response.

export const VERIFIER_ERROR_CODES = [
  'ERR_TOKEN_MALFORMED',
  'ERR_TOKEN_TOO_LARGE',
  'ERR_ALG_NOT_ALLOWED',
  'ERR_KEY_ALG_MISMATCH',
  'ERR_TYP',
  'ERR_KEY_REFERENCE_HEADER',
  'ERR_UNKNOWN_KID',
  'ERR_SIGNATURE',
  'ERR_CLAIM_INVALID',
  'ERR_EXPIRED',
  'ERR_NOT_YET_VALID',
  'ERR_ISSUED_IN_FUTURE',
  'ERR_REVOKED',
  'ERR_JWKS_UNAVAILABLE',
] as const;

export type VerifierErrorCode = (typeof VERIFIER_ERROR_CODES)[number];

export class VerifierError extends Error {
  override readonly name = 'VerifierError';

  constructor(
    readonly code: VerifierErrorCode,
    message: string = code,
    options?: { cause?: unknown },
  ) {
    super(message, options);
  }
}

/** Whether the problem lies with the verifier's access to the issuer, not with the token. */
export const isUnavailable = (error: unknown): boolean =>
  error instanceof VerifierError && error.code === 'ERR_JWKS_UNAVAILABLE';
