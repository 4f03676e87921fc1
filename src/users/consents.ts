// A user's consents to third-party clients: listing them, and withdrawing one, which takes
// the client's access away at once (its sessions of that user end, its pending codes expire).
import { recordSecurityEvent } from '../audit/audit-log.js';
import type { Database } from '../db/database.js';
import { expireUserClientCodes } from '../db/repositories/authorization-codes.js';
import { deleteConsent, listConsents } from '../db/repositories/consents.js';
import { endSession, listLiveSessions, lockUserSessions } from '../db/repositories/sessions.js';

/** The user's consents to clients that still exist, newest first. */
export function listOwnConsents(db: Database, userId: string) {
  return listConsents(db, userId);
}

/**
 * Deletes the consent and, in the same transaction, ends the user's sessions of that client
 * (each with a session_ended event, listed in /oauth/revoked): the client loses its refresh
 * tokens at once and the next authorization asks again. False when there was no consent.
 */
export async function withdrawConsent(
  db: Database,
  p: { userId: string; clientId: string; ip: string },
): Promise<boolean> {
  return db.transaction(async (tx) => {
    // Waits for a code exchange of this user that is opening a session now, so it is seen below.
    await lockUserSessions(tx, p.userId);
    const scopes = await deleteConsent(tx, p.userId, p.clientId);
    if (!scopes) return false;
    // A code issued before the withdrawal and not yet exchanged opens nothing afterwards.
    await expireUserClientCodes(tx, p.userId, p.clientId);
    const sessions = (await listLiveSessions(tx, p.userId)).filter((s) => s.client_id === p.clientId);
    let ended = 0;
    for (const s of sessions) {
      if (!(await endSession(tx, { sessionId: s.id, userId: p.userId, reason: 'consent_withdrawn' }))) continue;
      ended += 1;
      await recordSecurityEvent(tx, {
        type: 'session_ended',
        userId: p.userId,
        sessionId: s.id,
        ip: p.ip,
        detail: { by: p.userId, client_id: p.clientId },
      });
    }
    await recordSecurityEvent(tx, {
      type: 'consent_withdrawn',
      userId: p.userId,
      ip: p.ip,
      detail: { client_id: p.clientId, scope: scopes.join(' '), sessions_ended: ended },
    });
    return true;
  });
}
