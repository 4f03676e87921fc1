// The one place that reads and writes sessions (refresh families).
import type { Queryable } from '../database.js';
import type { RotationRow } from '../../domain/sessions/refresh-family.js';

export interface SessionRow {
  id: string;
  user_id: string;
  client_id: string;
  scope: string;
  audience: string;
  auth_time: Date;
  created_at: Date;
  last_used_at: Date;
  expires_at: Date;
  current_jti: string;
  current_issued_at: Date;
  ended_at: Date | null;
  user_agent: string | null;
  ip: string | null;
}

export interface NewSession {
  userId: string;
  clientId: string;
  scope: string;
  audience: string;
  jti: string;
  ttlSeconds: number;
  userAgent: string | null;
  ip: string | null;
}

export async function createSession(db: Queryable, s: NewSession): Promise<SessionRow> {
  const rows = await db.query<SessionRow>(
    `INSERT INTO sessions (user_id, client_id, scope, audience, auth_time, expires_at, current_jti, current_issued_at, user_agent, ip)
     VALUES ($1, $2, $3, $4, date_trunc('second', now()), now() + make_interval(secs => $5), $6, date_trunc('second', now()), $7, $8)
     RETURNING *`,
    [s.userId, s.clientId, s.scope, s.audience, s.ttlSeconds, s.jti, s.userAgent, s.ip],
  );
  return rows[0]!;
}

export interface RotationResult extends RotationRow {
  id: string;
  user_id: string;
  client_id: string;
  scope: string;
  audience: string;
  auth_time: Date;
  expires_at: Date;
  roles: string[];
}

/**
 * One conditional UPDATE decides a refresh: compare-and-set on the current jti; a
 * replay of the just-retired jti within grace gets the same successor; anything else
 * ends the family and records a security event in the same statement. Row locking
 * makes parallel presentations of one token queue up and see each other's result.
 */
export async function rotateRefresh(
  db: Queryable,
  p: { sessionId: string; userId: string; presentedJti: string; newJti: string; graceSeconds: number; idleSeconds: number; ip: string | null; clientId: string | null },
): Promise<RotationResult | undefined> {
  const rows = await db.query<RotationResult>(
    `WITH hit AS (
       UPDATE sessions s SET
         previous_jti      = CASE WHEN s.current_jti = $3::uuid THEN s.current_jti ELSE s.previous_jti END,
         current_jti       = CASE WHEN s.current_jti = $3::uuid THEN $4::uuid ELSE s.current_jti END,
         current_issued_at = CASE WHEN s.current_jti = $3::uuid THEN date_trunc('second', now()) ELSE s.current_issued_at END,
         rotated_at        = CASE WHEN s.current_jti = $3::uuid THEN now() ELSE s.rotated_at END,
         last_used_at      = now(),
         ended_at          = CASE WHEN s.current_jti = $3
                                    OR ($5::int > 0 AND s.previous_jti = $3::uuid AND s.rotated_at > now() - make_interval(secs => $5::int))
                                  THEN NULL ELSE now() END,
         end_reason        = CASE WHEN s.current_jti = $3
                                    OR ($5::int > 0 AND s.previous_jti = $3::uuid AND s.rotated_at > now() - make_interval(secs => $5::int))
                                  THEN NULL ELSE 'refresh_reuse' END
       FROM users u
       WHERE s.id = $1 AND s.user_id = $2 AND u.id = s.user_id AND NOT u.disabled
         AND s.ended_at IS NULL AND s.expires_at > now()
         AND s.last_used_at > now() - make_interval(secs => $6::int)
         AND ($8::text IS NULL OR s.client_id = $8::text)
       RETURNING s.id, s.user_id, s.client_id, s.scope, s.audience, s.auth_time, s.expires_at,
                 s.current_jti, s.current_issued_at, s.ended_at, u.roles
     ), event AS (
       INSERT INTO security_events (type, user_id, session_id, ip, detail)
       SELECT 'refresh_reuse', hit.user_id, hit.id, $7, jsonb_build_object('jti', $3::uuid::text)
         FROM hit WHERE hit.ended_at IS NOT NULL
     )
     SELECT * FROM hit`,
    [p.sessionId, p.userId, p.presentedJti, p.newJti, p.graceSeconds, p.idleSeconds, p.ip, p.clientId],
  );
  return rows[0];
}

/** A live session's grant and current refresh jti, read without changing anything. */
export async function findLiveSession(db: Queryable, sessionId: string, userId: string): Promise<Pick<SessionRow, 'scope' | 'audience' | 'current_jti'> | undefined> {
  const rows = await db.query<Pick<SessionRow, 'scope' | 'audience' | 'current_jti'>>(
    `SELECT scope, audience, current_jti FROM sessions WHERE id = $1 AND user_id = $2 AND ended_at IS NULL AND expires_at > now()`,
    [sessionId, userId],
  );
  return rows[0];
}

/** A live session, for checks on access tokens at our own endpoints. */
export async function isSessionLive(db: Queryable, sessionId: string): Promise<boolean> {
  const rows = await db.query<{ ok: boolean }>(
    `SELECT true AS ok FROM sessions WHERE id = $1 AND ended_at IS NULL AND expires_at > now()`,
    [sessionId],
  );
  return rows.length === 1;
}
