// Recording security events: every one goes through recordSecurityEvent, which completes
// what the caller left out (the acting user, IP, user agent and request id the HTTP layer
// collected in the request context; the target the event names), redacts the detail and
// hands the finished row to the security_events repository. Retention lives here too.
import { Database, type Queryable } from '../db/database.js';
import { insertSecurityEvent, insertSecurityEvents } from '../db/repositories/security-events.js';
import { pruneAlerts } from '../db/repositories/alerts.js';
import {
  firstLeafSince,
  insertPruneAndDelete,
  checkpointAtOrAfter,
  latestPrune,
  listCheckpointsFrom,
  readExportedSize,
  readTree,
  waitSealLock,
} from '../db/repositories/audit-tree.js';
import { formatCheckpoint, signCheckpoint, verifyCheckpoint } from '../domain/audit/checkpoint.js';
import { TreeFrontier } from '../domain/audit/merkle-tree.js';
import type { AuditKey } from './audit-key.js';
import { replayLeaves } from './verify-log.js';
import { defaultOutcome, type Outcome } from './event-types.js';
import { auditContext, noteSecurityEvent } from './request-context.js';
import { redactDeep } from '../lib/redact.js';

/** A detail larger than this (as JSON) is replaced by a note saying so. */
const MAX_DETAIL_BYTES = 4096;

export interface SecurityEventInput {
  type: string;
  userId?: string | null;
  sessionId?: string | null;
  ip?: string | null;
  detail?: Record<string, unknown>;
  /** Defaults by type (EVENT_TYPES). */
  outcome?: Outcome;
  /** The acting user or client id, 'cli', or null for anonymous/system; defaults to the request's user, then detail.by. */
  actor?: string | null;
  /** What was acted on; defaults to the key (key_*) or client (client_created) in detail, the user, then the session. */
  target?: string | null;
  userAgent?: string | null;
  requestId?: string | null;
}

const clip = (value: string | null | undefined, max: number) =>
  typeof value === 'string' ? value.slice(0, max) : null;

/** The small JSON detail: no secrets (by key name, at any depth) and bounded in size. */
export function sanitizeDetail(detail: Record<string, unknown> | undefined): Record<string, unknown> {
  const clean = (redactDeep(detail ?? {}) ?? {}) as Record<string, unknown>;
  const size = Buffer.byteLength(JSON.stringify(clean), 'utf8');
  return size <= MAX_DETAIL_BYTES ? clean : { truncated: true, bytes: size };
}

/** Key and client events act on the key or client their detail names. */
function subjectOf(type: string, detail: Record<string, unknown> | undefined): string | undefined {
  const value = type.startsWith('key_') ? detail?.kid : type === 'client_created' ? detail?.client_id : undefined;
  return typeof value === 'string' ? value : undefined;
}

/** Fills what the caller left out from the request context and the event itself. */
function completeEvent(e: SecurityEventInput) {
  const context = auditContext();
  const by = typeof e.detail?.by === 'string' && e.detail.by !== 'revocation' ? e.detail.by : undefined;
  return {
    type: e.type.slice(0, 64),
    outcome: e.outcome ?? defaultOutcome(e.type),
    actor: clip(e.actor !== undefined ? e.actor : (context?.actor?.() ?? by ?? null), 200),
    target: clip(
      e.target !== undefined ? e.target : (subjectOf(e.type, e.detail) ?? e.userId ?? e.sessionId ?? null),
      200,
    ),
    userId: e.userId ?? null,
    sessionId: e.sessionId ?? null,
    ip: clip(e.ip ?? context?.ip ?? null, 64),
    userAgent: clip(e.userAgent !== undefined ? e.userAgent : (context?.userAgent ?? null), 512),
    requestId: clip(e.requestId !== undefined ? e.requestId : (context?.requestId ?? null), 64),
    detail: sanitizeDetail(e.detail),
  };
}

/**
 * Appends one event. Inside a caller's transaction (tx) it is part of that transaction:
 * it commits or rolls back with the change it describes. On its own (db is the Database)
 * it is written together with the other events recorded at the same moment (one
 * statement and one commit for all; group commit), and resolves once it is committed.
 */
export async function recordSecurityEvent(db: Queryable, e: SecurityEventInput): Promise<void> {
  const row = completeEvent(e);
  if (db instanceof Database) await batcherOf(db).append(row);
  else await insertSecurityEvent(db, row);
  noteSecurityEvent({ type: row.type, outcome: row.outcome });
}

type StoredEvent = ReturnType<typeof completeEvent>;
interface Pending {
  row: StoredEvent;
  done: (error?: Error) => void;
}
const asError = (error: unknown): Error => (error instanceof Error ? error : new Error('event insert failed'));

/** Rows per statement at most; statements in flight per database at most; rows waiting at most. */
const BATCH_ROWS = 500;
const FLUSHES_IN_FLIGHT = 2;
const MAX_WAITING = 10_000;

/**
 * Group commit for events recorded outside a transaction: whatever arrives while a flush
 * is in flight goes out in the next one. Each caller gets its own row's outcome.
 */
class EventBatcher {
  private readonly queue: Pending[] = [];
  private inFlight = 0;

  constructor(private readonly db: Database) {}

  append(row: StoredEvent): Promise<void> {
    // A database that stopped answering must not turn into unbounded memory here.
    if (this.queue.length >= MAX_WAITING)
      return Promise.reject(new Error('too many security events waiting for the database'));
    return new Promise<void>((resolve, reject) => {
      this.queue.push({ row, done: (error) => (error === undefined ? resolve() : reject(error)) });
      this.flush();
    });
  }

  private flush(): void {
    while (this.inFlight < FLUSHES_IN_FLIGHT && this.queue.length > 0) {
      const batch = this.queue.splice(0, BATCH_ROWS);
      this.inFlight++;
      void this.write(batch).finally(() => {
        this.inFlight--;
        this.flush();
      });
    }
  }

  /** A failed batch is split in halves until the rows that fail are alone (their callers get the error). */
  private async write(batch: Pending[]): Promise<void> {
    try {
      if (batch.length === 1) await insertSecurityEvent(this.db, batch[0]!.row);
      else
        await insertSecurityEvents(
          this.db,
          batch.map((b) => b.row),
        );
      for (const b of batch) b.done();
    } catch (error) {
      if (batch.length === 1) return batch[0]!.done(asError(error));
      const half = Math.ceil(batch.length / 2);
      await this.write(batch.slice(0, half));
      await this.write(batch.slice(half));
    }
  }
}

const batchers = new WeakMap<Database, EventBatcher>();
const batcherOf = (db: Database): EventBatcher => {
  let batcher = batchers.get(db);
  if (!batcher) batchers.set(db, (batcher = new EventBatcher(db)));
  return batcher;
};

export interface PruneResult {
  deleted: number;
  /** Leaves [0, prunedSize) are gone; null when nothing was old enough. */
  prunedSize: number | null;
}

export interface PruneOptions {
  /** AUDIT_EXPORT_URL is set: events not exported yet are kept, however old (pruning stops at exported_size). */
  keepUnexported?: boolean;
}

/**
 * Deletes the sealed events older than the retention, oldest leaves first, keeping what
 * the tree needs to go on (the frontier at the prune point) in a prune record signed by
 * the audit key, and records an audit_pruned event in the same transaction. Before
 * deleting anything it recomputes the leaves it removes, and those up to the next signed
 * checkpoint, and refuses a log that no longer matches its checkpoints (a prune must not
 * launder tampering).
 */
export async function pruneAuditLog(
  db: Database,
  key: AuditKey,
  retentionDays: number,
  options: PruneOptions = {},
): Promise<PruneResult> {
  if (retentionDays <= 0) return { deleted: 0, prunedSize: null };
  const total: PruneResult = { deleted: 0, prunedSize: null };
  // A long backlog goes in bounded transactions, each under its own signed record.
  for (;;) {
    const step = await pruneStep(db, key, retentionDays, options);
    if (step.prunedSize === null) return total;
    total.deleted += step.deleted;
    total.prunedSize = step.prunedSize;
  }
}

/** Leaves removed per prune transaction at most. */
const PRUNE_STEP = 50_000;

function pruneStep(db: Database, key: AuditKey, retentionDays: number, options: PruneOptions): Promise<PruneResult> {
  return db.transaction(async (tx) => {
    await waitSealLock(tx); // no sealing while the tree's start moves
    const tree = await readTree(tx, true);
    const [{ cutoff } = { cutoff: new Date(0) }] = await tx.query<{ cutoff: Date }>(
      'SELECT now() - make_interval(days => $1::int) AS cutoff',
      [retentionDays],
    );
    const pruneAt = Math.min(
      await firstLeafSince(tx, tree.prunedSize, new Date(cutoff), tree.size),
      tree.prunedSize + PRUNE_STEP,
      options.keepUnexported ? await readExportedSize(tx) : tree.size,
    );
    if (pruneAt <= tree.prunedSize) return { deleted: 0, prunedSize: null };

    const previous = await latestPrune(tx);
    const frontier = previous ? TreeFrontier.fromJSON(previous.frontier) : new TreeFrontier();
    // The checkpoints over what goes, and the first one past it (the newest, if no kept one is).
    const next = (await checkpointAtOrAfter(tx, pruneAt)) ?? {
      treeSize: tree.size,
      rootHash: tree.rootHash,
      note: tree.checkpoint ?? '',
    };
    const checkpoints = [...(await listCheckpointsFrom(tx, tree.prunedSize, pruneAt)), next];
    const checks = new Map(
      checkpoints.map((c) => {
        const checked = verifyCheckpoint(c.note, key);
        if (checked.size !== c.treeSize || Buffer.from(checked.rootHash).toString('base64') !== c.rootHash) {
          throw new Error(`audit prune refused: the checkpoint at size ${c.treeSize} does not match its signature`);
        }
        return [c.treeSize, { rootHash: c.rootHash, what: `the signed checkpoint at size ${c.treeSize}` }] as const;
      }),
    );
    const refuse = (problem: { reason: string } | undefined) => {
      if (problem) throw new Error(`audit prune refused: ${problem.reason}; run tessera audit verify`);
    };
    refuse(await replayLeaves(tx, frontier, checks, { until: pruneAt }));
    if (frontier.size !== pruneAt) refuse({ reason: `leaves end at ${frontier.size}, before ${pruneAt}` });
    const kept = frontier.toJSON();
    const rootHash = frontier.root();
    refuse(await replayLeaves(tx, frontier, checks, { until: next.treeSize }));
    if (frontier.size !== next.treeSize) refuse({ reason: `leaves end at ${frontier.size}, before ${next.treeSize}` });

    const note = signCheckpoint(
      formatCheckpoint({
        origin: key.name,
        size: pruneAt,
        rootHash,
        timestamp: new Date(),
        extensions: [`tessera-prune ${pruneAt - tree.prunedSize} events older than ${retentionDays} days`],
      }),
      key,
    );
    const deleted = await insertPruneAndDelete(tx, {
      treeSize: pruneAt,
      rootHash: Buffer.from(rootHash).toString('base64'),
      frontier: kept,
      retentionDays,
      note,
      unlock: key.pruneUnlock(tree.pruneCount),
      nextLock: key.pruneLock(tree.pruneCount + 1),
    });
    await recordSecurityEvent(tx, {
      type: 'audit_pruned',
      target: null,
      detail: { pruned_size: pruneAt, deleted, retention_days: retentionDays },
    });
    return { deleted, prunedSize: pruneAt };
  });
}

/** Audit retention: the log (keeping its tree checkable) and the alerts that summarize it. */
export async function applyAuditRetention(
  db: Database,
  key: AuditKey,
  retentionDays: number,
  options: PruneOptions = {},
): Promise<void> {
  await pruneAuditLog(db, key, retentionDays, options);
  await pruneAlerts(db, retentionDays);
}
