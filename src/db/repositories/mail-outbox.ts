// The one place that reads and writes mail_outbox: mails waiting for an SMTP server to
// take them, sealed (the message column is a SecretBox ciphertext, never the mail itself).
import type { Queryable } from '../database.js';

export interface OutboxRow {
  id: string;
  kind: string;
  /** The sealed MailRequest (aad `mail_outbox:{id}`). */
  message: string;
  created_at: Date;
  attempts: number;
}

export async function insertMail(db: Queryable, row: { id: string; kind: string; message: string }): Promise<void> {
  await db.query('INSERT INTO mail_outbox (id, kind, message) VALUES ($1, $2, $3)', [row.id, row.kind, row.message]);
}

/**
 * Claims up to `limit` due mails for `leaseSeconds`, in one statement: rows another
 * instance is claiming right now are skipped (SKIP LOCKED), rows it holds a lease on are
 * not due, and a lease that ran out (a crashed instance) makes its row due again.
 */
export async function claimDueMails(db: Queryable, limit: number, leaseSeconds: number): Promise<OutboxRow[]> {
  const rows = await db.query<OutboxRow>(
    `UPDATE mail_outbox SET claimed_until = now() + make_interval(secs => $2)
      WHERE id IN (
        SELECT id FROM mail_outbox
         WHERE next_attempt_at <= now() AND (claimed_until IS NULL OR claimed_until <= now())
         ORDER BY next_attempt_at, created_at
         LIMIT $1
         FOR UPDATE SKIP LOCKED)
      RETURNING id, kind, message, created_at, attempts`,
    [limit, leaseSeconds],
  );
  return rows.map((r) => ({ ...r, created_at: new Date(r.created_at), attempts: Number(r.attempts) }));
}

/** Delivered, or given up on: the row goes. Returns whether it was still there. */
export async function deleteMail(db: Queryable, id: string): Promise<boolean> {
  const rows = await db.query('DELETE FROM mail_outbox WHERE id = $1 RETURNING id', [id]);
  return rows.length > 0;
}

/** A failed attempt: counted, the reason kept, the lease released, due again after `delaySeconds`. */
export async function rescheduleMail(db: Queryable, id: string, error: string, delaySeconds: number): Promise<void> {
  await db.query(
    `UPDATE mail_outbox
        SET attempts = attempts + 1, last_error = $2, claimed_until = NULL,
            next_attempt_at = now() + make_interval(secs => $3)
      WHERE id = $1`,
    [id, error, delaySeconds],
  );
}

/** Every queued mail's sealed message, for re-sealing under a new master key. */
export async function listSealedMail(db: Queryable): Promise<{ id: string; message: string }[]> {
  return db.query<{ id: string; message: string }>('SELECT id, message FROM mail_outbox');
}

/** Replaces a mail's sealed message only if it is still the one read (compare-and-set). */
export async function replaceSealedMail(db: Queryable, id: string, old: string, message: string): Promise<boolean> {
  const rows = await db.query('UPDATE mail_outbox SET message = $3 WHERE id = $1 AND message = $2 RETURNING id', [
    id,
    old,
    message,
  ]);
  return rows.length === 1;
}
