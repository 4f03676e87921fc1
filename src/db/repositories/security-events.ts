// The audit log (table security_events). The database chains each row to the one before
// it (see the audit-log migration); this module appends, reads, verifies and prunes that
// chain. It stores what it is given: completing an event (actor, request, redaction) is
// src/audit/audit-log.ts's work.
import type { Database, Queryable } from '../database.js';
import type { Outcome } from '../../audit/event-types.js';

/** Same constants as the migration: the append lock, and what the first event links to. */
const AUDIT_CHAIN_LOCK = '7246001455018131';
export const GENESIS_HASH = '0'.repeat(64);

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
 * it commits or rolls back with the change it describes, and holds the append lock until then.
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
  hash: string;
}

const EVENT_COLUMNS =
  'id, created_at, type, outcome, actor, target, user_id, session_id, ip, user_agent, request_id, detail, hash';
const toEvent = (r: AuditEvent): AuditEvent => ({ ...r, id: Number(r.id), created_at: new Date(r.created_at) });

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

/** Events after an id, oldest first (for the alert rules). */
export async function listEventsAfter(db: Queryable, afterId: number, limit: number): Promise<AuditEvent[]> {
  const rows = await db.query<AuditEvent>(
    `SELECT ${EVENT_COLUMNS} FROM security_events WHERE id > $1 ORDER BY id LIMIT $2`,
    [afterId, limit],
  );
  return rows.map(toEvent);
}

/**
 * How many events of a type share a subject (an IP, or detail->>'account') in the window
 * that ends with event `throughId` (by id: timestamps here carry microseconds, Dates do not).
 */
export async function countEventsInWindow(
  db: Queryable,
  p: { types: readonly string[]; field: 'ip' | 'account'; subject: string; throughId: number; windowSeconds: number },
): Promise<number> {
  const column = p.field === 'ip' ? 'ip' : `detail->>'account'`;
  const [row] = await db.query<{ n: number }>(
    `SELECT count(*)::int AS n FROM security_events
      WHERE type = ANY($1::text[]) AND ${column} = $2 AND id <= $3
        AND created_at > (SELECT created_at FROM security_events WHERE id = $3) - make_interval(secs => $4::int)`,
    [p.types, p.subject, p.throughId, p.windowSeconds],
  );
  return row?.n ?? 0;
}

export interface ChainReport {
  ok: boolean;
  events: number;
  firstId: number | null;
  head: { id: number; hash: string } | null;
  anchor: { throughId: number; hash: string } | null;
  broken?: { id: number | null; reason: string };
}

/**
 * Walks the chain from the prune anchor (or the genesis value) to the newest event, in
 * one consistent snapshot, and stops at the first event whose link or content is wrong.
 */
export async function verifyAuditChain(db: Database, options: { batch?: number } = {}): Promise<ChainReport> {
  const batch = options.batch ?? 2000;
  return db.transaction(async (tx) => {
    await tx.query('SET TRANSACTION ISOLATION LEVEL REPEATABLE READ, READ ONLY');
    const [anchorRow] = await tx.query<{ through_id: number; hash: string }>(
      'SELECT through_id, hash FROM security_events_anchor',
    );
    const anchor = anchorRow ? { throughId: Number(anchorRow.through_id), hash: anchorRow.hash } : null;
    const report: ChainReport = { ok: true, events: 0, firstId: null, head: null, anchor };
    const fail = (id: number | null, reason: string): ChainReport => ({ ...report, ok: false, broken: { id, reason } });

    // The anchor is itself recorded in the chain by the prune that set it.
    const [lastPrune] = await tx.query<{ id: number; detail: { through_id?: number; through_hash?: string } }>(
      `SELECT id, detail FROM security_events WHERE type = 'audit_pruned' ORDER BY id DESC LIMIT 1`,
    );
    if (
      anchor &&
      (!lastPrune ||
        Number(lastPrune.detail.through_id) !== anchor.throughId ||
        lastPrune.detail.through_hash !== anchor.hash)
    ) {
      return fail(
        lastPrune ? Number(lastPrune.id) : null,
        'the prune anchor does not match the last audit_pruned event',
      );
    }
    if (!anchor && lastPrune)
      return fail(Number(lastPrune.id), 'an audit_pruned event exists but the prune anchor is missing');

    let expected = anchor?.hash ?? GENESIS_HASH;
    let after = anchor?.throughId ?? 0;
    let previousId: number | null = anchor?.throughId ?? null;
    for (;;) {
      const rows = await tx.query<{ id: number; prev_hash: string; hash: string; computed: string }>(
        `SELECT id, prev_hash, hash, security_event_hash(e) AS computed FROM security_events e WHERE id > $1 ORDER BY id LIMIT $2`,
        [after, batch],
      );
      for (const row of rows) {
        const id = Number(row.id);
        report.firstId ??= id;
        if (row.prev_hash !== expected) {
          return fail(
            id,
            previousId === null
              ? 'its link to the start of the log is broken (an earlier event was removed or changed)'
              : `its link to event ${previousId} is broken (an event between was removed, or that one changed)`,
          );
        }
        if (row.computed !== row.hash) return fail(id, 'its content does not match its hash (the event was changed)');
        expected = row.hash;
        previousId = id;
        report.events++;
        report.head = { id, hash: row.hash };
      }
      if (rows.length < batch) break;
      after = Number(rows[rows.length - 1]!.id);
    }
    // Events at or before the anchor should be gone; one left over was put back.
    if (anchor) {
      const [stray] = await tx.query<{ id: number }>(
        'SELECT id FROM security_events WHERE id <= $1 ORDER BY id LIMIT 1',
        [anchor.throughId],
      );
      if (stray) return fail(Number(stray.id), 'it lies before the prune anchor');
    }
    return report;
  });
}

export interface PruneResult {
  deleted: number;
  throughId: number | null;
  /** The last deleted event's hash, the anchor the rest of the chain links to. */
  throughHash: string | null;
}

/**
 * Inside the caller's transaction: deletes the oldest events, up to the newest one older
 * than the retention, and records the anchor (the last deleted event's id and hash), so
 * the rest of the chain stays checkable. The caller records the audit_pruned event that
 * names the anchor in the same transaction.
 */
export async function pruneEventsBefore(tx: Queryable, retentionDays: number): Promise<PruneResult> {
  await tx.query('SELECT pg_advisory_xact_lock($1)', [AUDIT_CHAIN_LOCK]);
  const [last] = await tx.query<{ id: number; hash: string }>(
    `SELECT id, hash FROM security_events WHERE id = (SELECT max(id) FROM security_events WHERE created_at < now() - make_interval(days => $1::int))`,
    [retentionDays],
  );
  if (!last) return { deleted: 0, throughId: null, throughHash: null };
  const throughId = Number(last.id);
  // The one path the append-only trigger lets through, for this transaction only.
  await tx.query(`SELECT set_config('tessera.audit_prune', 'on', true)`);
  const [{ deleted } = { deleted: 0 }] = await tx.query<{ deleted: number }>(
    'WITH gone AS (DELETE FROM security_events WHERE id <= $1 RETURNING 1) SELECT count(*)::int AS deleted FROM gone',
    [throughId],
  );
  await tx.query(
    `INSERT INTO security_events_anchor (through_id, hash, pruned_at) VALUES ($1, $2, now())
     ON CONFLICT (singleton) DO UPDATE SET through_id = EXCLUDED.through_id, hash = EXCLUDED.hash, pruned_at = EXCLUDED.pruned_at`,
    [throughId, last.hash],
  );
  await tx.query(`SELECT set_config('tessera.audit_prune', 'off', true)`);
  return { deleted, throughId, throughHash: last.hash };
}
