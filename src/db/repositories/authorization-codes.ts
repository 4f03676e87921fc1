// The one place that reads and writes authorization codes. Rows hold the code's SHA-256.
import type { Queryable } from '../database.js';
import { isUuid } from '../../domain/identifiers.js';

export interface AuthorizationCodeRow {
  code_hash: string;
  client_id: string;
  user_id: string;
  browser_session_id: string | null;
  redirect_uri: string;
  redirect_uri_sent: boolean;
  code_challenge: string | null;
  scope: string;
  audience: string;
  nonce: string | null;
  auth_time: Date;
  amr: string[];
  created_at: Date;
  expires_at: Date;
  redeemed_at: Date | null;
  session_id: string | null;
}

const CODE_HASH = /^[A-Za-z0-9_-]{43}$/;

export interface NewAuthorizationCode {
  codeHash: string;
  clientId: string;
  userId: string;
  browserSessionId: string;
  redirectUri: string;
  redirectUriSent: boolean;
  codeChallenge: string | undefined;
  scope: string;
  audience: string;
  nonce: string | undefined;
  authTime: Date;
  amr: string[];
  ttlSeconds: number;
}

export async function insertAuthorizationCode(db: Queryable, c: NewAuthorizationCode): Promise<void> {
  await db.query(
    `INSERT INTO authorization_codes (code_hash, client_id, user_id, browser_session_id, redirect_uri, redirect_uri_sent,
       code_challenge, scope, audience, nonce, auth_time, amr, expires_at)
     VALUES ($1, $2, $3, $4, $5, $6, $7, $8, $9, $10, $11, $12::text[], now() + make_interval(secs => $13))`,
    [
      c.codeHash,
      c.clientId,
      c.userId,
      c.browserSessionId,
      c.redirectUri,
      c.redirectUriSent,
      c.codeChallenge ?? null,
      c.scope,
      c.audience,
      c.nonce ?? null,
      c.authTime,
      c.amr,
      c.ttlSeconds,
    ],
  );
}

/**
 * Marks a code redeemed, once: the winner of parallel presentations gets the row (and
 * holds its lock until its transaction ends); every other presentation gets undefined.
 * `expired` tells an unexpired code from one past its lifetime.
 */
export async function redeemAuthorizationCode(
  db: Queryable,
  codeHash: string,
): Promise<(AuthorizationCodeRow & { expired: boolean }) | undefined> {
  if (!CODE_HASH.test(codeHash)) return undefined;
  const rows = await db.query<AuthorizationCodeRow & { expired: boolean }>(
    `UPDATE authorization_codes SET redeemed_at = now()
      WHERE code_hash = $1 AND redeemed_at IS NULL
      RETURNING *, expires_at <= now() AS expired`,
    [codeHash],
  );
  return rows[0];
}

/** A code presented again: the token session its first redemption opened, if any. */
export async function findRedeemedCode(
  db: Queryable,
  codeHash: string,
): Promise<Pick<AuthorizationCodeRow, 'client_id' | 'user_id' | 'session_id'> | undefined> {
  if (!CODE_HASH.test(codeHash)) return undefined;
  const rows = await db.query<Pick<AuthorizationCodeRow, 'client_id' | 'user_id' | 'session_id'>>(
    'SELECT client_id, user_id, session_id FROM authorization_codes WHERE code_hash = $1 AND redeemed_at IS NOT NULL',
    [codeHash],
  );
  return rows[0];
}

export async function linkCodeSession(db: Queryable, codeHash: string, sessionId: string): Promise<void> {
  if (!isUuid(sessionId)) return;
  await db.query('UPDATE authorization_codes SET session_id = $2 WHERE code_hash = $1', [codeHash, sessionId]);
}

/**
 * A disabled or narrowed client's unredeemed codes expire now: none may be redeemed later
 * (after it is enabled again) for a session under the old state.
 */
export async function expireClientCodes(db: Queryable, clientId: string): Promise<void> {
  await db.query(
    'UPDATE authorization_codes SET expires_at = least(expires_at, now()) WHERE client_id = $1 AND redeemed_at IS NULL',
    [clientId],
  );
}

/** A withdrawn consent: the user's unredeemed codes for that client expire now. */
export async function expireUserClientCodes(db: Queryable, userId: string, clientId: string): Promise<void> {
  await db.query(
    `UPDATE authorization_codes SET expires_at = least(expires_at, now())
      WHERE user_id = $1 AND client_id = $2 AND redeemed_at IS NULL`,
    [userId, clientId],
  );
}

/** Codes live a minute; their rows a day, so a late second use is still recognised and answered. */
export async function pruneAuthorizationCodes(db: Queryable): Promise<number> {
  const rows = await db.query(
    `DELETE FROM authorization_codes WHERE expires_at < now() - interval '1 day' RETURNING code_hash`,
  );
  return rows.length;
}
