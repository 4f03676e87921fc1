// The one place that reads and writes captcha_answers: hashes of answers already
// presented, each until its expiry.
import type { Queryable } from '../database.js';

/**
 * Claims an answer hash for ttlSeconds; true for the first claim only. One statement: of
 * parallel claims, exactly one inserts (or takes over a row that has expired but is not
 * pruned yet, as Redis would); the others return no row.
 */
export async function claimAnswer(db: Queryable, hash: string, ttlSeconds: number): Promise<boolean> {
  const rows = await db.query(
    `INSERT INTO captcha_answers (hash, expires_at) VALUES ($1, clock_timestamp() + make_interval(secs => $2::int))
     ON CONFLICT (hash) DO UPDATE SET expires_at = EXCLUDED.expires_at WHERE captcha_answers.expires_at <= clock_timestamp()
     RETURNING hash`,
    [hash, ttlSeconds],
  );
  return rows.length === 1;
}

export async function pruneAnswers(db: Queryable): Promise<void> {
  await db.query('DELETE FROM captcha_answers WHERE expires_at <= clock_timestamp()');
}
