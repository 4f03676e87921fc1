// The one place that reads and writes login_failures: one row per counter key and attempt,
// failed or still in flight, counted over a sliding window.
import type { Queryable } from '../database.js';

/** Advisory locks of the counters live under their own class id, apart from the other locks. */
const ATTEMPT_LOCK_CLASS = 72_460_014;

/**
 * Inside the caller's transaction: locks each key (in one order everywhere, so two
 * reservations cannot deadlock), then adds one row per key only if every key's count in
 * the window is below its limit (null: no limit). The count runs in a later statement than
 * the locks, so its snapshot sees every attempt committed before they were granted.
 * Per key: the count with this attempt, and the new row's id (null when nothing was added).
 */
export async function reserveAttempt(
  tx: Queryable,
  p: { keys: readonly string[]; limits: readonly (number | null)[]; windowSeconds: number },
): Promise<{ key: string; n: number; id: string | null }[]> {
  await tx.query(
    `SELECT pg_advisory_xact_lock($2::int, h) FROM (SELECT DISTINCT hashtext(k) AS h FROM unnest($1::text[]) AS k ORDER BY h) AS locks`,
    [p.keys, ATTEMPT_LOCK_CLASS],
  );
  return tx.query<{ key: string; n: number; id: string | null }>(
    `WITH counted AS (
       SELECT k, lim, (SELECT count(*)::int FROM login_failures f
                        WHERE f.key = k AND f.at > clock_timestamp() - make_interval(secs => $3::int)) AS n
         FROM unnest($1::text[], $2::int[]) AS u(k, lim)
     ), allowed AS (
       SELECT bool_and(lim IS NULL OR n < lim) AS ok FROM counted
     ), added AS (
       INSERT INTO login_failures (key) SELECT k FROM counted, allowed WHERE allowed.ok RETURNING id, key
     )
     SELECT c.k AS key, c.n + 1 AS n, a.id::text AS id FROM counted c LEFT JOIN added a ON a.key = c.k`,
    [p.keys, p.limits, p.windowSeconds],
  );
}

/** Deletes these rows, and with `clear`, every earlier row of that key (ids below `before`). */
export async function deleteAttempts(
  db: Queryable,
  ids: readonly string[],
  clear: { key: string; before: string } | null,
): Promise<void> {
  await db.query(`DELETE FROM login_failures WHERE id = ANY($1::bigint[]) OR (key = $2 AND id < $3::bigint)`, [
    ids,
    clear?.key ?? null,
    clear?.before ?? '0',
  ]);
}

export async function countAttempts(
  db: Queryable,
  keys: readonly string[],
  windowSeconds: number,
): Promise<{ key: string; n: number }[]> {
  return db.query<{ key: string; n: number }>(
    `SELECT key, count(*)::int AS n FROM login_failures
      WHERE key = ANY($1::text[]) AND at > clock_timestamp() - make_interval(secs => $2::int) GROUP BY key`,
    [keys, windowSeconds],
  );
}

export async function pruneAttempts(db: Queryable, windowSeconds: number): Promise<void> {
  await db.query('DELETE FROM login_failures WHERE at <= clock_timestamp() - make_interval(secs => $1::int)', [
    windowSeconds,
  ]);
}
