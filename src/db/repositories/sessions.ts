// The one place that reads and writes sessions (refresh families). Every lookup by id
// refuses a malformed one itself (it matches nothing and never reaches SQL).
import type { Queryable } from '../database.js';
import { isUuid } from '../../domain/identifiers.js';
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
  browser_session_id: string | null;
  amr: string[];
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
  /** When the password was checked: now for a direct login, the browser session's for a code. */
  authTime?: Date;
  /** The browser session (hosted pages) it was opened from; it ends with that one. */
  browserSessionId?: string;
  amr?: string[];
}

export async function createSession(db: Queryable, s: NewSession): Promise<SessionRow> {
  const rows = await db.query<SessionRow>(
    `INSERT INTO sessions (user_id, client_id, scope, audience, auth_time, expires_at, current_jti, current_issued_at,
                           user_agent, ip, browser_session_id, amr)
     VALUES ($1, $2, $3, $4, coalesce($9::timestamptz, date_trunc('second', now())), now() + make_interval(secs => $5), $6,
             date_trunc('second', now()), $7, $8, $10, coalesce($11::text[], '{pwd}'))
     RETURNING *`,
    [
      s.userId,
      s.clientId,
      s.scope,
      s.audience,
      s.ttlSeconds,
      s.jti,
      s.userAgent,
      s.ip,
      s.authTime ?? null,
      s.browserSessionId ?? null,
      s.amr ?? null,
    ],
  );
  return rows[0]!;
}

/** Advisory locks of per-user session counts live under their own class id, apart from the other locks. */
const SESSION_LIMIT_LOCK_CLASS = 72_460_015;

/**
 * Inside the caller's transaction: waits until no other transaction is opening a session
 * of this user, so the count that follows (in a later statement) sees every session
 * committed before.
 */
export async function lockUserSessions(tx: Queryable, userId: string): Promise<void> {
  await tx.query('SELECT pg_advisory_xact_lock($1::int, hashtext($2::text))', [SESSION_LIMIT_LOCK_CLASS, userId]);
}

/**
 * Ends the user's live sessions but the `keep` most recently used ones, never `exceptId`
 * (the one just opened); returns those it ended. Least recently used: oldest last_used_at
 * (set at creation and at each refresh), then oldest created.
 */
export async function endLeastRecentSessions(
  db: Queryable,
  p: { userId: string; exceptId: string; keep: number; reason: string },
): Promise<{ id: string; client_id: string }[]> {
  if (!isUuid(p.userId) || !isUuid(p.exceptId)) return [];
  return db.query<{ id: string; client_id: string }>(
    `UPDATE sessions SET ended_at = now(), end_reason = $4
      WHERE ended_at IS NULL AND id IN (
        SELECT id FROM sessions
         WHERE user_id = $1 AND ended_at IS NULL AND expires_at > now() AND id <> $2
         ORDER BY last_used_at DESC, created_at DESC, id DESC OFFSET $3)
      RETURNING id, client_id`,
    [p.userId, p.exceptId, Math.max(0, p.keep), p.reason],
  );
}

export interface RotationResult extends RotationRow {
  id: string;
  user_id: string;
  client_id: string;
  scope: string;
  audience: string;
  auth_time: Date;
  expires_at: Date;
  amr: string[];
  roles: string[];
}

/**
 * One conditional UPDATE decides a refresh: compare-and-set on the current jti; a
 * replay of the just-retired jti within grace gets the same successor; anything else
 * ends the family. The same statement records the security event (token_refreshed or
 * refresh_reuse) in the audit log. Row locking makes parallel presentations of one
 * token queue up and see each other's result.
 */
export async function rotateRefresh(
  db: Queryable,
  p: {
    sessionId: string;
    userId: string;
    presentedJti: string;
    newJti: string;
    graceSeconds: number;
    idleSeconds: number;
    clientId: string | null;
    /** Where the request came from, for the audit event the statement records. */
    ip: string | null;
    userAgent: string | null;
    requestId: string | null;
  },
): Promise<RotationResult | undefined> {
  if (!isUuid(p.sessionId) || !isUuid(p.userId) || !isUuid(p.presentedJti) || !isUuid(p.newJti)) return undefined;
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
         -- RFC 6749 6: a confidential client's refresh token works only with that client authenticated.
         AND ($8::text IS NOT NULL OR NOT EXISTS (SELECT 1 FROM clients c WHERE c.id = s.client_id AND c.type = 'confidential'))
       RETURNING s.id, s.user_id, s.client_id, s.scope, s.audience, s.auth_time, s.expires_at,
                 s.current_jti, s.current_issued_at, s.ended_at, s.amr, u.roles
     ), event AS (
       INSERT INTO security_events (type, outcome, actor, target, user_id, session_id, ip, user_agent, request_id, detail)
       SELECT CASE WHEN hit.ended_at IS NULL THEN 'token_refreshed' ELSE 'refresh_reuse' END,
              CASE WHEN hit.ended_at IS NULL THEN 'success' ELSE 'failure' END,
              CASE WHEN hit.ended_at IS NULL THEN hit.user_id::text END,
              hit.user_id::text, hit.user_id, hit.id, $7, $9, $10,
              CASE WHEN hit.ended_at IS NULL
                   THEN jsonb_build_object('client_id', hit.client_id, 'grace_replay', hit.current_jti <> $4::uuid)
                   ELSE jsonb_build_object('client_id', hit.client_id, 'jti', $3::uuid::text) END
         FROM hit
     )
     SELECT * FROM hit`,
    [
      p.sessionId,
      p.userId,
      p.presentedJti,
      p.newJti,
      p.graceSeconds,
      p.idleSeconds,
      p.ip,
      p.clientId,
      p.userAgent?.slice(0, 512) ?? null,
      p.requestId?.slice(0, 64) ?? null,
    ],
  );
  return rows[0];
}

/** A live session's grant and current refresh jti, read without changing anything. */
export async function findLiveSession(
  db: Queryable,
  sessionId: string,
  userId: string,
  graceSeconds = 0,
): Promise<
  (Pick<SessionRow, 'scope' | 'audience' | 'current_jti' | 'client_id'> & { replayable_jti: string | null }) | undefined
> {
  if (!isUuid(sessionId) || !isUuid(userId)) return undefined;
  // replayable_jti: the just-retired jti while it may still be presented (grace window).
  const rows = await db.query<
    Pick<SessionRow, 'scope' | 'audience' | 'current_jti' | 'client_id'> & { replayable_jti: string | null }
  >(
    `SELECT scope, audience, current_jti, client_id,
            CASE WHEN $3::int > 0 AND rotated_at > now() - make_interval(secs => $3::int) THEN previous_jti::text END AS replayable_jti
       FROM sessions WHERE id = $1 AND user_id = $2 AND ended_at IS NULL AND expires_at > now()`,
    [sessionId, userId, graceSeconds],
  );
  return rows[0];
}

/**
 * A live session of this user, for checks on access tokens at our own endpoints: a token
 * whose `sid` names someone else's session is not live.
 */
export async function isSessionLive(db: Queryable, sessionId: string, userId: string): Promise<boolean> {
  if (!isUuid(sessionId) || !isUuid(userId)) return false;
  const rows = await db.query<{ ok: boolean }>(
    `SELECT true AS ok FROM sessions WHERE id = $1 AND user_id = $2 AND ended_at IS NULL AND expires_at > now()`,
    [sessionId, userId],
  );
  return rows.length === 1;
}

export interface SessionView {
  id: string;
  client_id: string;
  created_at: Date;
  last_used_at: Date;
  expires_at: Date;
  user_agent: string | null;
  ip: string | null;
}

export async function listLiveSessions(db: Queryable, userId: string): Promise<SessionView[]> {
  if (!isUuid(userId)) return [];
  return db.query<SessionView>(
    `SELECT id, client_id, created_at, last_used_at, expires_at, user_agent, ip FROM sessions
      WHERE user_id = $1 AND ended_at IS NULL AND expires_at > now() ORDER BY last_used_at DESC LIMIT 500`,
    [userId],
  );
}

/** Ends one session of this user; false when it is not theirs or already ended. */
export async function endSession(
  db: Queryable,
  p: { sessionId: string; userId?: string; reason: string },
): Promise<{ id: string; user_id: string } | undefined> {
  // A lookup by an absent or malformed id matches nothing (and never reaches SQL).
  if (!isUuid(p.sessionId) || (p.userId !== undefined && !isUuid(p.userId))) return undefined;
  const rows = await db.query<{ id: string; user_id: string }>(
    `UPDATE sessions SET ended_at = now(), end_reason = $3
      WHERE id = $1 AND ($2::uuid IS NULL OR user_id = $2::uuid) AND ended_at IS NULL RETURNING id, user_id`,
    [p.sessionId, p.userId ?? null, p.reason],
  );
  return rows[0];
}

/** Ends every live session of a user, but one if named; returns how many ended. */
export async function endUserSessions(
  db: Queryable,
  p: { userId: string; exceptSessionId?: string; reason: string },
): Promise<number> {
  if (!isUuid(p.userId) || (p.exceptSessionId !== undefined && !isUuid(p.exceptSessionId))) return 0;
  const rows = await db.query(
    `UPDATE sessions SET ended_at = now(), end_reason = $3
      WHERE user_id = $1 AND ended_at IS NULL AND ($2::uuid IS NULL OR id <> $2::uuid) RETURNING id`,
    [p.userId, p.exceptSessionId ?? null, p.reason],
  );
  return rows.length;
}

/**
 * Ends every live session of a client (disabled or deleted): each refresh token of it dies,
 * and the sessions appear in GET /oauth/revoked. Returns how many ended.
 */
export async function endClientSessions(db: Queryable, p: { clientId: string; reason: string }): Promise<number> {
  const rows = await db.query(
    'UPDATE sessions SET ended_at = now(), end_reason = $2 WHERE client_id = $1 AND ended_at IS NULL RETURNING id',
    [p.clientId, p.reason],
  );
  return rows.length;
}

/** Sessions and users ended since a time, for verifiers that honour logout at once. */
export async function endedSince(
  db: Queryable,
  since: Date,
): Promise<{ sessions: { sid: string; ended_at: Date }[]; users: { sub: string; ended_at: Date }[]; until: Date }> {
  const [{ until } = { until: new Date() }] = await db.query<{ until: Date }>('SELECT now() AS until');
  const sessions = await db.query<{ sid: string; ended_at: Date }>(
    'SELECT id AS sid, ended_at FROM sessions WHERE ended_at IS NOT NULL AND ended_at >= $1 ORDER BY ended_at LIMIT 10000',
    [since],
  );
  const users = await db.query<{ sub: string; ended_at: Date }>(
    'SELECT id AS sub, sessions_revoked_at AS ended_at FROM users WHERE sessions_revoked_at IS NOT NULL AND sessions_revoked_at >= $1 ORDER BY sessions_revoked_at LIMIT 10000',
    [since],
  );
  return { sessions, users, until: new Date(until) };
}

export async function findSessionClient(
  db: Queryable,
  sessionId: string,
): Promise<{ client_id: string; user_id: string; ended_at: Date | null } | undefined> {
  if (!isUuid(sessionId)) return undefined;
  const rows = await db.query<{ client_id: string; user_id: string; ended_at: Date | null }>(
    'SELECT client_id, user_id, ended_at FROM sessions WHERE id = $1',
    [sessionId],
  );
  return rows[0];
}

/**
 * A session whose user just confirmed their first second factor counts as multi-factor
 * from its next token on: the password opened it, the new factor's code or assertion
 * completed it. Browser sessions of hosted-page logins are kept as they are.
 */
export async function markSessionMultiFactor(
  db: Queryable,
  sessionId: string,
  userId: string,
  amr: string[],
): Promise<void> {
  await db.query(
    `UPDATE sessions SET amr = (SELECT array_agg(DISTINCT m) FROM unnest(amr || $3::text[]) AS m)
      WHERE id = $1 AND user_id = $2 AND ended_at IS NULL`,
    [sessionId, userId, amr],
  );
}
