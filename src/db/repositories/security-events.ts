// The audit log (table security_events): appends and reads. An append is one plain
// insert; the sealer (src/audit/sealer.ts, repository audit-tree.ts) later gives each
// committed event its leaf in the audit tree. It stores what it is given: completing an
// event (actor, request, redaction) is src/audit/audit-log.ts's work.
import type { Queryable } from '../database.js';
import type { Outcome } from '../../audit/event-types.js';

/** One event as stored: every column given. */
export interface StoredEventInput {
  type: string;
  outcome: Outcome;
  actor: string | null;
  target: string | null;
  userId: string | null;
  sessionId: string | null;
  ip: string | null;
  userAgent: string | null;
  requestId: string | null;
  detail: Record<string, unknown>;
}

/**
 * Appends one event. Inside a caller's transaction (tx) it is part of that transaction:
 * it commits or rolls back with the change it describes. It waits for nothing.
 */
export async function insertSecurityEvent(db: Queryable, row: StoredEventInput): Promise<void> {
  await db.query(
    `INSERT INTO security_events (type, outcome, actor, target, user_id, session_id, ip, user_agent, request_id, detail)
     VALUES ($1, $2, $3, $4, $5, $6, $7, $8, $9, $10::jsonb)`,
    [
      row.type,
      row.outcome,
      row.actor,
      row.target,
      row.userId,
      row.sessionId,
      row.ip,
      row.userAgent,
      row.requestId,
      JSON.stringify(row.detail),
    ],
  );
}

/** Appends several events in one statement, in order (one commit when db is not a transaction). */
export async function insertSecurityEvents(db: Queryable, rows: readonly StoredEventInput[]): Promise<void> {
  const column = <K extends keyof StoredEventInput>(key: K) => rows.map((r) => r[key]);
  await db.query(
    `INSERT INTO security_events (type, outcome, actor, target, user_id, session_id, ip, user_agent, request_id, detail)
     SELECT type, outcome, actor, target, user_id, session_id, ip, user_agent, request_id, detail::jsonb
       FROM unnest($1::text[], $2::text[], $3::text[], $4::text[], $5::uuid[], $6::uuid[], $7::text[], $8::text[], $9::text[], $10::text[])
         WITH ORDINALITY AS e(type, outcome, actor, target, user_id, session_id, ip, user_agent, request_id, detail, n)
      ORDER BY n`,
    [
      column('type'),
      column('outcome'),
      column('actor'),
      column('target'),
      column('userId'),
      column('sessionId'),
      column('ip'),
      column('userAgent'),
      column('requestId'),
      rows.map((r) => JSON.stringify(r.detail)),
    ],
  );
}

export interface AuditEvent {
  id: number;
  created_at: Date;
  type: string;
  outcome: Outcome;
  actor: string | null;
  target: string | null;
  user_id: string | null;
  session_id: string | null;
  ip: string | null;
  user_agent: string | null;
  request_id: string | null;
  detail: Record<string, unknown>;
  /** The event's leaf hash (hex) and place in the audit tree; null until sealed. */
  hash: string | null;
  leaf_index: number | null;
}

const EVENT_COLUMNS =
  'id, created_at, type, outcome, actor, target, user_id, session_id, ip, user_agent, request_id, detail, hash, leaf_index';
const toEvent = (r: AuditEvent): AuditEvent => ({
  ...r,
  id: Number(r.id),
  created_at: new Date(r.created_at),
  leaf_index: r.leaf_index === null ? null : Number(r.leaf_index),
});

export interface AuditFilter {
  types?: string[];
  actor?: string;
  target?: string;
  userId?: string;
  outcome?: Outcome;
  since?: Date;
  until?: Date;
  /** Events older than this id (the cursor), newest first. */
  beforeId?: number;
  limit: number;
}

/** Newest first, one page; `next` is the id to pass as beforeId for the page after. */
export async function queryAuditEvents(
  db: Queryable,
  f: AuditFilter,
): Promise<{ events: AuditEvent[]; next: number | null }> {
  const where: string[] = [];
  const params: unknown[] = [];
  const add = (sql: string, value: unknown) => {
    params.push(value);
    where.push(sql.replace('?', `$${params.length}`));
  };
  if (f.types?.length) add('type = ANY(?::text[])', f.types);
  if (f.actor !== undefined) add('actor = ?', f.actor);
  if (f.target !== undefined) add('target = ?', f.target);
  if (f.userId !== undefined) add('user_id = ?::uuid', f.userId);
  if (f.outcome !== undefined) add('outcome = ?', f.outcome);
  if (f.since !== undefined) add('created_at >= ?', f.since);
  if (f.until !== undefined) add('created_at < ?', f.until);
  if (f.beforeId !== undefined) add('id < ?', f.beforeId);
  params.push(f.limit + 1);
  const rows = await db.query<AuditEvent>(
    `SELECT ${EVENT_COLUMNS} FROM security_events ${where.length ? `WHERE ${where.join(' AND ')}` : ''} ORDER BY id DESC LIMIT $${params.length}`,
    params,
  );
  const events = rows.slice(0, f.limit).map(toEvent);
  return { events, next: rows.length > f.limit ? events[events.length - 1]!.id : null };
}

/**
 * Sealed events after a leaf index, in leaf order (for the alert rules). Leaves appear in
 * order (one sealer at a time, each sealing transaction after the last committed), so a
 * reader that follows them misses none, whatever order the events' transactions
 * committed in.
 */
export async function listSealedEventsAfter(db: Queryable, afterLeaf: number, limit: number): Promise<AuditEvent[]> {
  const rows = await db.query<AuditEvent>(
    `SELECT ${EVENT_COLUMNS} FROM security_events WHERE leaf_index > $1 ORDER BY leaf_index LIMIT $2`,
    [afterLeaf, limit],
  );
  return rows.map(toEvent);
}

/**
 * How many sealed events of a type share a subject (an IP, or detail->>'account') in the
 * window that ends with the event at leaf `throughLeaf` (timestamps here carry
 * microseconds, Dates do not).
 */
export async function countEventsInWindow(
  db: Queryable,
  p: {
    types: readonly string[];
    field: 'ip' | 'account';
    subject: string;
    throughLeaf: number;
    windowSeconds: number;
    /** A detail field giving how many occurrences an event stands for (a summary of dropped refusals). */
    weight?: 'dropped' | undefined;
  },
): Promise<number> {
  const column = p.field === 'ip' ? 'ip' : `detail->>'account'`;
  const counted = p.weight ? 'coalesce(sum(coalesce((detail->>$5::text)::int, 1)), 0)::int' : 'count(*)::int';
  const [row] = await db.query<{ n: number }>(
    `SELECT ${counted} AS n FROM security_events
      WHERE type = ANY($1::text[]) AND ${column} = $2 AND leaf_index <= $3
        AND created_at > (SELECT created_at FROM security_events WHERE leaf_index = $3) - make_interval(secs => $4::int)`,
    [p.types, p.subject, p.throughLeaf, p.windowSeconds, ...(p.weight ? [p.weight] : [])],
  );
  return row?.n ?? 0;
}
