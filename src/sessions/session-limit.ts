// Concurrent sessions (MAX_SESSIONS_PER_USER): every token session is opened here, inside
// the caller's transaction, under a per-user lock, and the user's least recently used
// sessions past the limit end in the same transaction, each with a session_evicted event.
// An ended session is like any other: its refresh token is refused, its sid is listed in
// /oauth/revoked. Browser sessions (hosted pages) are not counted: SESSION_TTL bounds them.
import type { Queryable } from '../db/database.js';
import {
  createSession,
  endLeastRecentSessions,
  lockUserSessions,
  type NewSession,
  type SessionRow,
} from '../db/repositories/sessions.js';
import { recordSecurityEvent } from '../audit/audit-log.js';

/** A new session of the user, and at most `limit` live ones of theirs in all once the transaction commits. */
export async function openSession(tx: Queryable, s: NewSession, limit: number): Promise<SessionRow> {
  // Parallel logins of one user queue here, so none counts before another's insert is visible.
  await lockUserSessions(tx, s.userId);
  const session = await createSession(tx, s);
  const evicted = await endLeastRecentSessions(tx, {
    userId: s.userId,
    exceptId: session.id,
    keep: limit - 1,
    reason: 'session_limit',
  });
  for (const ended of evicted) {
    await recordSecurityEvent(tx, {
      type: 'session_evicted',
      userId: s.userId,
      sessionId: ended.id,
      actor: s.userId,
      ip: s.ip,
      detail: { client_id: ended.client_id, limit, by_session: session.id },
    });
  }
  return session;
}
