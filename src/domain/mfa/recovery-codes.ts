// Recovery codes: ten single-use codes of 10 base32 characters (50 bits each), shown once
// as xxxxx-xxxxx and stored as keyed hashes (HMAC-SHA-256 under a random key kept sealed
// by the master key in sealed_secrets), so a database dump yields nothing to try. Input is normalised (case,
// spaces, dashes) before hashing; regenerating replaces the whole set.
import { createHmac, randomBytes } from 'node:crypto';

const ALPHABET = 'abcdefghijkmnpqrstuvwxyz23456789'; // 32 symbols, no 0/o, 1/l
export const RECOVERY_CODE_COUNT = 10;

export function newRecoveryCodes(): string[] {
  return Array.from({ length: RECOVERY_CODE_COUNT }, () => {
    const bytes = randomBytes(10);
    const chars = [...bytes].map((b) => ALPHABET[b & 31]).join('');
    return `${chars.slice(0, 5)}-${chars.slice(5)}`;
  });
}

/** The code as typed, reduced to its 10 symbols, or null when it cannot be one. */
export function normaliseRecoveryCode(input: string): string | null {
  const s = input.toLowerCase().replace(/[\s-]/g, '');
  return s.length === 10 && [...s].every((c) => ALPHABET.includes(c)) ? s : null;
}

export function hashRecoveryCode(key: Buffer, userId: string, normalised: string): Buffer {
  return createHmac('sha256', key).update(`mfa-recovery:${userId}:${normalised}`).digest();
}
