// The one email rule: how an address is normalized before it is stored or looked up, the
// first gate the wire schemas apply, and what a registration must satisfy.

/** Trimmed, NFC, lower-cased: two spellings of one address are one account. */
export function normalizeEmail(email: string): string {
  return email.normalize('NFC').trim().toLowerCase();
}

/**
 * The schema pattern (JSON Schema, compiled with the u flag): one @, no white space inside,
 * no NUL or lone surrogate (PostgreSQL cannot store them as sent); white space around is
 * allowed and trimmed by normalizeEmail.
 */
export const EMAIL_PATTERN = '^\\s*[^\\s@\\u0000\\uD800-\\uDFFF]{1,64}@[^\\s@\\u0000\\uD800-\\uDFFF]{1,252}\\s*$';
export const EMAIL_MAX_LENGTH = 320;

/**
 * A normalized address that may be registered: a local part, a dotted domain, at most 254
 * characters, no control characters, and none of the characters that mail headers give a
 * meaning of their own (`, ; : < > ( ) [ ] " \`): such an address would be split or
 * reinterpreted by a mail library or relay, and its mail sent elsewhere or not at all.
 */
export function isValidEmail(normalized: string): boolean {
  return (
    /^[^\s@]{1,64}@[^\s@]+\.[^\s@]+$/.test(normalized) &&
    normalized.length <= 254 &&
    !/\p{Cc}/u.test(normalized) &&
    !/[,;:<>()[\]"\\]/.test(normalized)
  );
}
