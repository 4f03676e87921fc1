// The one place that reads and writes stored alerts and the alert rules' read position.
// Rule names and severities are the alert rules' business; here they are stored text.
// A pending alert is also a queued webhook delivery: due at next_attempt_at, claimed by
// one instance at a time under a lease (claimed_until, claim_token), retried with backoff.
import type { Queryable } from '../database.js';

export interface AlertRow {
  id: number;
  rule: string;
  subject: string;
  severity: string;
  summary: string;
  count: number;
  first_seen_at: Date;
  last_seen_at: Date;
  first_event_id: number | null;
  last_event_id: number | null;
  detail: Record<string, unknown>;
  delivery: 'pending' | 'delivered' | 'failed' | 'not_configured';
  delivery_attempts: number;
  delivered_at: Date | null;
  delivery_error: string | null;
}

/** What an alert reads as everywhere (the queue's own columns are the delivery worker's). */
const COLUMNS = `id, rule, subject, severity, summary, count, first_seen_at, last_seen_at, first_event_id,
  last_event_id, detail, delivery, delivery_attempts, delivered_at, delivery_error`;

const toAlert = (r: AlertRow): AlertRow => ({
  ...r,
  delivery_attempts: Number(r.delivery_attempts),
  id: Number(r.id),
  first_event_id: r.first_event_id === null ? null : Number(r.first_event_id),
  last_event_id: r.last_event_id === null ? null : Number(r.last_event_id),
  first_seen_at: new Date(r.first_seen_at),
  last_seen_at: new Date(r.last_seen_at),
  delivered_at: r.delivered_at ? new Date(r.delivered_at) : null,
});

/**
 * The rules' read position (the last leaf of the audit tree they read, and the id up to
 * which events were read before the tree existed), locked for this transaction;
 * undefined when another instance holds it (that one is evaluating the same events now).
 */
export async function lockAlertCursor(tx: Queryable): Promise<{ lastLeaf: number; legacyFloor: number } | undefined> {
  const [row] = await tx.query<{ last_leaf_index: string | number; last_event_id: string | number }>(
    'SELECT last_leaf_index, last_event_id FROM alert_cursor FOR UPDATE SKIP LOCKED',
  );
  return row ? { lastLeaf: Number(row.last_leaf_index), legacyFloor: Number(row.last_event_id) } : undefined;
}

export async function advanceAlertCursor(tx: Queryable, lastLeaf: number): Promise<void> {
  await tx.query('UPDATE alert_cursor SET last_leaf_index = greatest(last_leaf_index, $1)', [lastLeaf]);
}

export async function latestAlert(db: Queryable, rule: string, subject: string): Promise<AlertRow | undefined> {
  const [row] = await db.query<AlertRow>(
    `SELECT ${COLUMNS} FROM alerts WHERE rule = $1 AND subject = $2 ORDER BY first_seen_at DESC, id DESC LIMIT 1`,
    [rule, subject],
  );
  return row ? toAlert(row) : undefined;
}

export interface NewAlert {
  rule: string;
  subject: string;
  severity: string;
  summary: string;
  count: number;
  seenAt: Date;
  firstEventId: number;
  lastEventId: number;
  detail: Record<string, unknown>;
  delivery: 'pending' | 'not_configured';
}

/**
 * A new alert; a pending one is due for delivery at once. In the caller's transaction (the
 * one that advances the rules' read position), so it is queued exactly when it is committed.
 */
export async function insertAlert(db: Queryable, a: NewAlert): Promise<AlertRow> {
  const [row] = await db.query<AlertRow>(
    `INSERT INTO alerts (rule, subject, severity, summary, count, first_seen_at, last_seen_at, first_event_id, last_event_id, detail,
                         delivery, next_attempt_at)
     VALUES ($1, $2, $3, $4, $5, $6, $6, $7, $8, $9::jsonb, $10::text, CASE WHEN $10::text = 'pending' THEN now() END)
     RETURNING ${COLUMNS}`,
    [
      a.rule,
      a.subject,
      a.severity,
      a.summary,
      a.count,
      a.seenAt,
      a.firstEventId,
      a.lastEventId,
      JSON.stringify(a.detail),
      a.delivery,
    ],
  );
  return toAlert(row!);
}

/** One more batch of occurrences of an alert already raised within the dedupe window. */
export async function foldIntoAlert(
  db: Queryable,
  id: number,
  p: { occurrences: number; seenAt: Date; lastEventId: number },
): Promise<void> {
  await db.query(
    'UPDATE alerts SET count = count + $2, last_seen_at = greatest(last_seen_at, $3), last_event_id = greatest(last_event_id, $4) WHERE id = $1',
    [id, p.occurrences, p.seenAt, p.lastEventId],
  );
}

/** A pending alert claimed for one delivery attempt; the token proves the claim is still this worker's. */
export interface ClaimedAlert extends AlertRow {
  /** Random, fixed when the alert was stored: with the id, the webhook-id receivers dedupe by. */
  delivery_key: string;
  claim_token: string;
}

/**
 * Claims up to `limit` due deliveries for `leaseSeconds`, in one statement: rows another
 * instance is claiming right now are skipped (SKIP LOCKED), rows under a live lease are
 * not due, and a lease that ran out (its instance died) makes the row due again.
 */
export async function claimDueAlerts(db: Queryable, limit: number, leaseSeconds: number): Promise<ClaimedAlert[]> {
  const rows = await db.query<ClaimedAlert>(
    `WITH due AS (
       SELECT id FROM alerts
        WHERE delivery = 'pending' AND next_attempt_at <= now() AND (claimed_until IS NULL OR claimed_until <= now())
        ORDER BY next_attempt_at, id
        LIMIT $1
        FOR UPDATE SKIP LOCKED)
     UPDATE alerts SET claimed_until = now() + make_interval(secs => $2), claim_token = gen_random_uuid()
      WHERE id IN (SELECT id FROM due)
     RETURNING ${COLUMNS}, delivery_key, claim_token`,
    [limit, leaseSeconds],
  );
  return rows.map((r) => ({ ...toAlert(r), delivery_key: r.delivery_key, claim_token: r.claim_token }));
}

/** How one attempt ended: delivered, due again after a delay, or given up on. */
export type AttemptRecord =
  | { outcome: 'delivered' }
  | { outcome: 'retry'; error: string; delayMs: number }
  | { outcome: 'failed'; error: string };

/**
 * Counts the attempt and ends the claim. Nothing changes unless the claim is still the
 * caller's (a worker whose lease ran out is not the one that decides); returns whether it was.
 */
export async function recordAttempt(
  db: Queryable,
  claim: { id: number; token: string },
  r: AttemptRecord,
): Promise<boolean> {
  const error = r.outcome === 'delivered' ? null : r.error.slice(0, 200);
  const delayMs = r.outcome === 'retry' ? r.delayMs : null;
  const rows = await db.query(
    `UPDATE alerts
        SET delivery = $3::text, delivery_attempts = delivery_attempts + 1,
            delivered_at = CASE WHEN $3::text = 'delivered' THEN now() END, delivery_error = $4,
            next_attempt_at = CASE WHEN $3::text = 'pending' THEN now() + make_interval(secs => $5::float8 / 1000) END,
            claimed_until = NULL, claim_token = NULL
      WHERE id = $1 AND claim_token = $2
      RETURNING id`,
    [claim.id, claim.token, r.outcome === 'retry' ? 'pending' : r.outcome, error, delayMs],
  );
  return rows.length > 0;
}

/** Gives a claim back without counting an attempt (closing): due again at once, for any instance. */
export async function releaseAlertClaim(db: Queryable, claim: { id: number; token: string }): Promise<void> {
  await db.query('UPDATE alerts SET claimed_until = NULL, claim_token = NULL WHERE id = $1 AND claim_token = $2', [
    claim.id,
    claim.token,
  ]);
}

export async function listAlerts(db: Queryable, limit = 100): Promise<AlertRow[]> {
  return (await db.query<AlertRow>(`SELECT ${COLUMNS} FROM alerts ORDER BY id DESC LIMIT $1`, [limit])).map(toAlert);
}

/** Alerts are not chained; they go with the events they summarize. */
export async function pruneAlerts(db: Queryable, retentionDays: number): Promise<void> {
  if (retentionDays <= 0) return;
  await db.query('DELETE FROM alerts WHERE last_seen_at < now() - make_interval(days => $1::int)', [retentionDays]);
}
