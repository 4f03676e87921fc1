// The one place that reads and writes account_tokens: the one-time tokens of mail links
// (verification, password reset, invitation, email change). Only the SHA-256 of a token
// is stored; redeeming is one UPDATE, so of two parallel redemptions exactly one wins.
import { createHash, randomBytes } from 'node:crypto';
import type { Queryable } from '../database.js';
import { isUuid } from '../../domain/identifiers.js';

export type AccountTokenPurpose = 'verify_email' | 'password_reset' | 'invitation' | 'email_change';

export interface AccountTokenRow {
  token_hash: string;
  user_id: string;
  purpose: AccountTokenPurpose;
  email: string;
  password_hash: string | null;
  created_at: Date;
  expires_at: Date;
  used_at: Date | null;
}

/** What a link carries: 256 random bits, base64url (43 characters). */
const TOKEN = /^[A-Za-z0-9_-]{43}$/;

function hashToken(token: string): string {
  return createHash('sha256').update(token, 'utf8').digest('base64url');
}

/** At most this many pending verification links per account (each registration makes one). */
const MAX_PENDING_VERIFICATIONS = 5;

/**
 * A new token for a user and purpose, returned once (for the mail). A newer token of the
 * same purpose replaces the live one in the same statement; verification tokens instead
 * accumulate (the oldest beyond five are dropped), one per registration.
 */
export async function issueAccountToken(
  db: Queryable,
  t: { userId: string; purpose: AccountTokenPurpose; email: string; ttlSeconds: number; passwordHash?: string },
): Promise<string> {
  const token = randomBytes(32).toString('base64url');
  if (t.purpose === 'verify_email') {
    await db.query(
      `INSERT INTO account_tokens (token_hash, user_id, purpose, email, password_hash, expires_at)
       VALUES ($1, $2, 'verify_email', $3, $4, now() + make_interval(secs => $5))`,
      [hashToken(token), t.userId, t.email, t.passwordHash, t.ttlSeconds],
    );
    await db.query(
      `DELETE FROM account_tokens WHERE token_hash IN (
         SELECT token_hash FROM account_tokens WHERE user_id = $1 AND purpose = 'verify_email'
          ORDER BY created_at DESC, token_hash OFFSET $2)`,
      [t.userId, MAX_PENDING_VERIFICATIONS],
    );
    return token;
  }
  await db.query(
    `INSERT INTO account_tokens (token_hash, user_id, purpose, email, expires_at)
     VALUES ($1, $2, $3, $4, now() + make_interval(secs => $5))
     ON CONFLICT (user_id, purpose) WHERE used_at IS NULL AND purpose <> 'verify_email'
     DO UPDATE SET token_hash = EXCLUDED.token_hash, email = EXCLUDED.email, created_at = now(),
                   expires_at = EXCLUDED.expires_at`,
    [hashToken(token), t.userId, t.purpose, t.email, t.ttlSeconds],
  );
  return token;
}

/**
 * Marks a live token of one of these purposes used and returns it; undefined when it is
 * unknown, expired, already used or of another purpose. The row stays (used) until
 * housekeeping, so a replay is refused the same way as a wrong token.
 */
export async function redeemAccountToken(
  db: Queryable,
  token: string,
  purposes: readonly AccountTokenPurpose[],
): Promise<AccountTokenRow | undefined> {
  if (typeof token !== 'string' || !TOKEN.test(token)) return undefined;
  const rows = await db.query<AccountTokenRow>(
    `UPDATE account_tokens SET used_at = now()
      WHERE token_hash = $1 AND purpose = ANY($2::text[]) AND used_at IS NULL AND expires_at > now()
      RETURNING *`,
    [hashToken(token), purposes],
  );
  return rows[0];
}

/** A live token without using it (to check a new password against its account first). */
export async function findLiveAccountToken(
  db: Queryable,
  token: string,
  purposes: readonly AccountTokenPurpose[],
): Promise<AccountTokenRow | undefined> {
  if (typeof token !== 'string' || !TOKEN.test(token)) return undefined;
  const rows = await db.query<AccountTokenRow>(
    `SELECT * FROM account_tokens
      WHERE token_hash = $1 AND purpose = ANY($2::text[]) AND used_at IS NULL AND expires_at > now()`,
    [hashToken(token), purposes],
  );
  return rows[0];
}

/** Ends a user's live tokens of these purposes (a password change ends pending resets). */
export async function dropAccountTokens(
  db: Queryable,
  userId: string,
  purposes: readonly AccountTokenPurpose[],
): Promise<void> {
  if (!isUuid(userId)) return;
  await db.query('DELETE FROM account_tokens WHERE user_id = $1 AND purpose = ANY($2::text[]) AND used_at IS NULL', [
    userId,
    purposes,
  ]);
}

/**
 * Housekeeping: tokens a day past their expiry or use. Verification tokens of accounts
 * still unverified stay: they mark the account as one registered under verification,
 * which the unverified-account clean-up deletes after UNVERIFIED_ACCOUNT_TTL.
 */
export async function pruneAccountTokens(db: Queryable): Promise<void> {
  await db.query(
    `DELETE FROM account_tokens t
      WHERE least(t.expires_at, coalesce(t.used_at, t.expires_at)) < now() - interval '1 day'
        AND NOT (t.purpose = 'verify_email'
                 AND EXISTS (SELECT 1 FROM users u WHERE u.id = t.user_id AND u.email_verified_at IS NULL))`,
  );
}
