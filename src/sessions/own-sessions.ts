// A signed-in user's own sessions: listing them, and ending one. Another user's session
// and no session look the same.
import type { Queryable } from '../db/database.js';
import { endSession, listLiveSessions, type SessionView } from '../db/repositories/sessions.js';
import { recordSecurityEvent } from '../audit/audit-log.js';

export function listOwnSessions(db: Queryable, userId: string): Promise<SessionView[]> {
  return listLiveSessions(db, userId);
}

/** False when the id names no live session of this user (a malformed id names none). */
export async function endOwnSession(
  db: Queryable,
  p: { userId: string; sessionId: string; ip: string },
): Promise<boolean> {
  const ended = await endSession(db, { sessionId: p.sessionId, userId: p.userId, reason: 'ended_by_user' });
  if (!ended) return false;
  await recordSecurityEvent(db, {
    type: 'session_ended',
    userId: p.userId,
    sessionId: ended.id,
    ip: p.ip,
    detail: { by: p.userId },
  });
  return true;
}
