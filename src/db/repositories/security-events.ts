// Security events (a table for now; the audit log builds on it).
import type { Queryable } from '../database.js';

export async function recordSecurityEvent(
  db: Queryable,
  e: { type: string; userId?: string | null; sessionId?: string | null; ip?: string | null; detail?: Record<string, unknown> },
): Promise<void> {
  await db.query('INSERT INTO security_events (type, user_id, session_id, ip, detail) VALUES ($1, $2, $3, $4, $5::jsonb)', [
    e.type,
    e.userId ?? null,
    e.sessionId ?? null,
    e.ip ?? null,
    JSON.stringify(e.detail ?? {}),
  ]);
}
