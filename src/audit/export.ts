// AUDIT_EXPORT_URL: ships the sealed audit events themselves to a system apart from this
// database (ASVS 16.4.3), in leaf order and in batches, each with the newest signed
// checkpoint covering it so the receiver can recompute the leaves and check the tree.
// Like the checkpoint push: a claim in the database (one instance sends a batch; a crash
// leaves it due again), retries from 1 s doubling to 5 min, no redirects, a timeout, and
// a batch counts as exported only after a 2xx. The receiver sees a batch again only when
// an answer was lost; from_leaf lets it drop what it already has.
import type { Database } from '../db/database.js';
import { SingleFlight } from '../lib/single-flight.js';
import {
  claimExport,
  deferExport,
  listSealedFrom,
  markExported,
  type SealedLeaf,
} from '../db/repositories/audit-tree.js';
import type { AuditKey } from './audit-key.js';
import { checkpointDocument, type CheckpointDocument } from './checkpoint-document.js';

interface Log {
  warn(obj: object, msg: string): void;
  error(obj: object, msg: string): void;
}

export interface ExportSettings {
  url: string | undefined;
  /** How often a pass looks for sealed events to send. */
  intervalMs: number;
  timeoutMs: number;
  /** Events per POST (at most 500). */
  batchSize: number;
}

/** One exported event: the columns the leaf covers, as the admin audit API names them. */
interface ExportedEvent {
  leaf_index: number;
  /** The leaf hash (hex), as stored at sealing. */
  leaf_hash: string;
  id: number;
  /** The leaf's created_at (RFC 3339, UTC, microseconds): what the leaf hash covers. */
  time: string;
  type: string;
  outcome: string;
  actor: string | null;
  target: string | null;
  user_id: string | null;
  session_id: string | null;
  ip: string | null;
  user_agent: string | null;
  request_id: string | null;
  detail: unknown;
}

export interface ExportBatch {
  origin: string;
  from_leaf: number;
  events: ExportedEvent[];
  checkpoint: CheckpointDocument;
}

export const MAX_EXPORT_BATCH = 500;
const RETRY = { firstBackoffSeconds: 1, maxBackoffSeconds: 300 };
/** Batches per pass at most; a longer backlog continues at the next pass. */
const MAX_BATCHES_PER_PASS = 20;

const exported = (e: SealedLeaf): ExportedEvent => ({
  leaf_index: e.leafIndex,
  leaf_hash: e.hash,
  id: e.id,
  time: e.created_at,
  type: e.type,
  outcome: e.outcome,
  actor: e.actor,
  target: e.target,
  user_id: e.user_id,
  session_id: e.session_id,
  ip: e.ip,
  user_agent: e.user_agent,
  request_id: e.request_id,
  detail: e.detail,
});

export class AuditExporter {
  private readonly passes = new SingleFlight<number>(() => this.drain());
  private readonly closing = new AbortController();
  private closed = false;
  private timer: NodeJS.Timeout | undefined;

  constructor(
    private readonly db: Database,
    private readonly key: AuditKey,
    private readonly settings: ExportSettings,
    private readonly log: Log,
  ) {
    if (settings.batchSize < 1 || settings.batchSize > MAX_EXPORT_BATCH)
      throw new RangeError(`export batches hold 1 to ${MAX_EXPORT_BATCH} events`);
  }

  get enabled(): boolean {
    return this.settings.url !== undefined;
  }

  start(): void {
    if (this.timer || this.closed || !this.enabled) return;
    this.timer = setInterval(() => {
      this.run().catch((error: unknown) => this.log.error({ err: error }, 'audit export failed'));
    }, this.settings.intervalMs);
    this.timer.unref();
  }

  /** Sends what is due, batch after batch; one pass at a time per instance. Returns the events delivered. */
  run(): Promise<number> {
    return this.passes.run();
  }

  async close(): Promise<void> {
    this.closed = true;
    if (this.timer) clearInterval(this.timer);
    this.closing.abort();
    await this.passes.idle();
  }

  private async drain(): Promise<number> {
    let total = 0;
    for (let i = 0; i < MAX_BATCHES_PER_PASS && !this.closed; i++) {
      const sent = await this.exportBatch();
      if (sent === undefined) break;
      total += sent;
    }
    return total;
  }

  /** One claimed batch: the events delivered, or undefined when none was due or it failed. */
  async exportBatch(): Promise<number | undefined> {
    const url = this.settings.url;
    if (!url || this.closed) return undefined;
    // The lease outlasts a delivery, so no other instance sends this batch meanwhile.
    const claimed = await claimExport(this.db, Math.ceil(this.settings.timeoutMs / 1000) + 5);
    if (!claimed) return undefined;
    try {
      const limit = Math.min(this.settings.batchSize, claimed.treeSize - claimed.fromLeaf);
      // Only leaves the checkpoint covers (they are contiguous up to it).
      const events = (await listSealedFrom(this.db, claimed.fromLeaf, limit)).filter(
        (e) => e.leafIndex < claimed.treeSize,
      );
      const last = events.at(-1);
      if (!last) throw new Error(`no sealed events from leaf ${claimed.fromLeaf}`);
      const batch: ExportBatch = {
        origin: this.key.name,
        from_leaf: events[0]!.leafIndex,
        events: events.map(exported),
        checkpoint: checkpointDocument(claimed.note, this.key.verifierKey),
      };
      const response = await fetch(url, {
        method: 'POST',
        headers: { 'content-type': 'application/json' },
        body: JSON.stringify(batch),
        redirect: 'error',
        signal: AbortSignal.any([AbortSignal.timeout(this.settings.timeoutMs), this.closing.signal]),
      });
      await response.body?.cancel();
      if (!response.ok) throw new Error(`status ${response.status}`);
      await markExported(this.db, last.leafIndex + 1);
      return events.length;
    } catch (error) {
      // Should this fail too, the claim's lease runs out and the batch is due again.
      await deferExport(this.db, RETRY).catch(() => undefined);
      this.log.warn(
        {
          event: 'audit_export_failed',
          from_leaf: claimed.fromLeaf,
          attempt: claimed.attempts,
          destination: new URL(url).origin,
          reason: error instanceof Error ? error.message : 'error',
        },
        'audit export failed; it is retried',
      );
      return undefined;
    }
  }
}
