// The one place that reads and writes browser sessions (single sign-on at the hosted
// pages). Rows hold the SHA-256 of the cookie's token, never the token.
import type { Queryable } from '../database.js';
import { isUuid } from '../../domain/identifiers.js';

export interface BrowserSessionRow {
  id: string;
  user_id: string;
  auth_time: Date;
  amr: string[];
  created_at: Date;
  expires_at: Date;
}

const TOKEN_HASH = /^[A-Za-z0-9_-]{43}$/;

export async function createBrowserSession(
  db: Queryable,
  s: {
    tokenHash: string;
    userId: string;
    amr: string[];
    ttlSeconds: number;
    ip: string | null;
    userAgent: string | null;
  },
): Promise<BrowserSessionRow> {
  const rows = await db.query<BrowserSessionRow>(
    `INSERT INTO browser_sessions (token_hash, user_id, auth_time, amr, expires_at, ip, user_agent)
     VALUES ($1, $2, date_trunc('second', now()), $3::text[], now() + make_interval(secs => $4), $5, $6)
     RETURNING id, user_id, auth_time, amr, created_at, expires_at`,
    [s.tokenHash, s.userId, s.amr, s.ttlSeconds, s.ip, s.userAgent?.slice(0, 512) ?? null],
  );
  return rows[0]!;
}

/**
 * The live session behind a cookie: not ended, not expired, its user enabled, and not
 * older than the last time all of the user's sessions were ended (password change,
 * disabling, an admin's revocation).
 */
export async function findLiveBrowserSession(db: Queryable, tokenHash: string): Promise<BrowserSessionRow | undefined> {
  if (!TOKEN_HASH.test(tokenHash)) return undefined;
  const rows = await db.query<BrowserSessionRow>(
    `SELECT b.id, b.user_id, b.auth_time, b.amr, b.created_at, b.expires_at
       FROM browser_sessions b JOIN users u ON u.id = b.user_id
      WHERE b.token_hash = $1 AND b.ended_at IS NULL AND b.expires_at > now() AND NOT u.disabled
        AND (u.sessions_revoked_at IS NULL OR b.created_at > u.sessions_revoked_at)`,
    [tokenHash],
  );
  return rows[0];
}

/** Ends a browser session and every token session opened from it; the token sessions ended. */
export async function endBrowserSession(
  db: Queryable,
  p: { id: string; reason: string },
): Promise<{ ended: boolean; sessions: { id: string; user_id: string; client_id: string }[] }> {
  if (!isUuid(p.id)) return { ended: false, sessions: [] };
  const ended = await db.query<{ id: string }>(
    'UPDATE browser_sessions SET ended_at = now(), end_reason = $2 WHERE id = $1 AND ended_at IS NULL RETURNING id',
    [p.id, p.reason],
  );
  const sessions = await db.query<{ id: string; user_id: string; client_id: string }>(
    `UPDATE sessions SET ended_at = now(), end_reason = $2
      WHERE browser_session_id = $1 AND ended_at IS NULL RETURNING id, user_id, client_id`,
    [p.id, p.reason],
  );
  return { ended: ended.length === 1, sessions };
}

/** Housekeeping: sessions past their lifetime, and ended ones, a day later. */
export async function pruneBrowserSessions(db: Queryable): Promise<number> {
  const rows = await db.query(
    `DELETE FROM browser_sessions
      WHERE expires_at < now() - interval '1 day' OR ended_at < now() - interval '1 day' RETURNING id`,
  );
  return rows.length;
}

/**
 * A new authentication of the session's user in the same browser (prompt=login, max_age,
 * step-up): a new token's hash in place of the presented one (ASVS 7.2.4), and auth_time
 * moves on. One statement keyed on the presented hash: of two parallel re-logins with the
 * same cookie one wins and the other gets nothing, so never two live tokens for one row.
 */
export async function renewBrowserAuthentication(
  db: Queryable,
  p: { id: string; tokenHash: string; newTokenHash: string; amr: string[]; ttlSeconds: number },
): Promise<BrowserSessionRow | undefined> {
  if (!isUuid(p.id) || !TOKEN_HASH.test(p.tokenHash) || !TOKEN_HASH.test(p.newTokenHash)) return undefined;
  const rows = await db.query<BrowserSessionRow>(
    `UPDATE browser_sessions SET token_hash = $3, auth_time = date_trunc('second', now()), amr = $4::text[],
            last_seen_at = now(), expires_at = now() + make_interval(secs => $5)
      WHERE id = $1 AND token_hash = $2 AND ended_at IS NULL AND expires_at > now()
      RETURNING id, user_id, auth_time, amr, created_at, expires_at`,
    [p.id, p.tokenHash, p.newTokenHash, p.amr, p.ttlSeconds],
  );
  return rows[0];
}
