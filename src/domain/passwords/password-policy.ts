// Password rules after NIST SP 800-63B: length, not composition. NFKC-normalized so
// the same password typed on another keyboard still matches; never truncated.
import { dictionary } from '@zxcvbn-ts/language-common';
import { builtFromContextWords } from './context-words.js';

/** Longest password accepted, in UTF-8 bytes, checked before any hashing. */
export const MAX_PASSWORD_BYTES = 1024;
/** Longest password accepted, in characters (well above the 64 NIST asks for). */
export const MAX_PASSWORD_CHARS = 256;

const COMMON = new Set<string>(dictionary['passwords-common'].map((p) => p.toLowerCase()));

export type PasswordProblem = 'too_short' | 'too_long' | 'common' | 'contains_email' | 'context';

export function normalizePassword(password: string): string {
  return password.normalize('NFKC');
}

/** True when the raw input is small enough to hash at all. */
export function withinHashLimit(password: string): boolean {
  return Buffer.byteLength(password, 'utf8') <= MAX_PASSWORD_BYTES && [...password].length <= MAX_PASSWORD_CHARS;
}

export function checkPassword(
  password: string,
  options: { minLength: number; email?: string; contextWords?: readonly string[] },
): PasswordProblem | undefined {
  if (!withinHashLimit(password)) return 'too_long';
  const normalized = normalizePassword(password);
  if (!withinHashLimit(normalized)) return 'too_long';
  if ([...normalized].length < options.minLength) return 'too_short';
  const lower = normalized.toLowerCase();
  if (COMMON.has(lower)) return 'common';
  if (options.email) {
    const email = options.email.toLowerCase();
    const local = email.split('@')[0] ?? '';
    if (lower === email || (local.length >= 4 && lower === local)) return 'contains_email';
  }
  // The service's own words (config.password.contextWords, see context-words.ts).
  if (options.contextWords && builtFromContextWords(normalized, options.contextWords)) return 'context';
  return undefined;
}

export const commonPasswordCount = () => COMMON.size;
