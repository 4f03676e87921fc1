// The one place that reads and writes revocations: what verifiers must refuse after the
// row that said so is gone or changed (an erased user, a disabled or deleted client, a
// revoked client_credentials token), kept until no token issued before it can be live.
import type { Queryable } from '../database.js';

export type RevocationKind = 'user' | 'client' | 'jti';

export interface RevocationRow {
  kind: RevocationKind;
  subject: string;
  ended_at: Date;
  expires_at: Date;
}

/**
 * Records that tokens of `subject` issued up to now are revoked, until expiresAt. A
 * subject revoked again keeps the later ended_at and the later expiry.
 */
export async function recordRevocation(
  db: Queryable,
  r: { kind: RevocationKind; subject: string; expiresAt: Date },
): Promise<RevocationRow> {
  const rows = await db.query<RevocationRow>(
    `INSERT INTO revocations (kind, subject, ended_at, expires_at) VALUES ($1, $2, now(), $3)
     ON CONFLICT (kind, subject) DO UPDATE SET
       ended_at = greatest(revocations.ended_at, excluded.ended_at),
       expires_at = greatest(revocations.expires_at, excluded.expires_at)
     RETURNING *`,
    [r.kind, r.subject, r.expiresAt],
  );
  return rows[0]!;
}

/** Revocations that ended at or after a time, oldest first (at most 10000, like the other lists of the feed). */
export async function revocationsSince(
  db: Queryable,
  since: Date,
): Promise<Pick<RevocationRow, 'kind' | 'subject' | 'ended_at'>[]> {
  return db.query<Pick<RevocationRow, 'kind' | 'subject' | 'ended_at'>>(
    'SELECT kind, subject, ended_at FROM revocations WHERE ended_at >= $1 ORDER BY ended_at LIMIT 10000',
    [since],
  );
}

/** When each of the named subjects was revoked, if it was (and the entry has not expired). */
export async function findRevocations(
  db: Queryable,
  keys: { kind: RevocationKind; subject: string }[],
): Promise<Pick<RevocationRow, 'kind' | 'subject' | 'ended_at'>[]> {
  if (keys.length === 0) return [];
  return db.query<Pick<RevocationRow, 'kind' | 'subject' | 'ended_at'>>(
    `SELECT r.kind, r.subject, r.ended_at FROM revocations r
       JOIN unnest($1::text[], $2::text[]) AS k (kind, subject) ON r.kind = k.kind AND r.subject = k.subject
      WHERE r.expires_at > now()`,
    [keys.map((k) => k.kind), keys.map((k) => k.subject)],
  );
}

/** Removes entries no live token can need any more; returns how many went. */
export async function pruneRevocations(db: Queryable): Promise<number> {
  const rows = await db.query('DELETE FROM revocations WHERE expires_at < now() RETURNING kind');
  return rows.length;
}
