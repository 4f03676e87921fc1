// The one place that reads and writes stored alerts and the alert rules' read position.
// Rule names and severities are the alert rules' business; here they are stored text.
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

const toAlert = (r: AlertRow): AlertRow => ({
  ...r,
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
    'SELECT * FROM alerts WHERE rule = $1 AND subject = $2 ORDER BY first_seen_at DESC, id DESC LIMIT 1',
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

export async function insertAlert(db: Queryable, a: NewAlert): Promise<AlertRow> {
  const [row] = await db.query<AlertRow>(
    `INSERT INTO alerts (rule, subject, severity, summary, count, first_seen_at, last_seen_at, first_event_id, last_event_id, detail, delivery)
     VALUES ($1, $2, $3, $4, $5, $6, $6, $7, $8, $9::jsonb, $10) RETURNING *`,
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

export async function recordDelivery(
  db: Queryable,
  id: number,
  d: { delivered: boolean; attempts: number; error?: string },
): Promise<void> {
  await db.query(
    `UPDATE alerts SET delivery = $2, delivery_attempts = $3, delivered_at = CASE WHEN $2 = 'delivered' THEN now() ELSE NULL END, delivery_error = $4 WHERE id = $1`,
    [id, d.delivered ? 'delivered' : 'failed', d.attempts, d.error?.slice(0, 200) ?? null],
  );
}

export async function listAlerts(db: Queryable, limit = 100): Promise<AlertRow[]> {
  return (await db.query<AlertRow>('SELECT * FROM alerts ORDER BY id DESC LIMIT $1', [limit])).map(toAlert);
}

/** Alerts are not chained; they go with the events they summarize. */
export async function pruneAlerts(db: Queryable, retentionDays: number): Promise<void> {
  if (retentionDays <= 0) return;
  await db.query('DELETE FROM alerts WHERE last_seen_at < now() - make_interval(days => $1::int)', [retentionDays]);
}
