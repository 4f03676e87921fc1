// The sealer: turns committed security events into leaves of the audit tree and signs a
// checkpoint after each batch. One sealer at a time across instances (a transaction-
// scoped advisory lock taken by the sealing transaction only; requests never touch it),
// so appends never wait for each other or for the sealer.
//
// Which events: the unsealed ones this transaction sees (committed), oldest id first.
// An event whose transaction commits after later ids were sealed is simply still
// unsealed at the next pass and becomes a later leaf: nothing is skipped, and leaf order
// is the order events were sealed in, not id order.
import type { Database } from '../db/database.js';
import { SingleFlight } from '../lib/single-flight.js';
import {
  claimCheckpointPush,
  insertCheckpoint,
  listUnsealed,
  markCheckpointPushed,
  markSealed,
  readTree,
  trySealLock,
  updateTree,
} from '../db/repositories/audit-tree.js';
import { formatCheckpoint, signCheckpoint } from '../domain/audit/checkpoint.js';
import { eventLeafHash } from '../domain/audit/event-leaf.js';
import { TreeFrontier } from '../domain/audit/merkle-tree.js';
import type { AuditKey } from './audit-key.js';
import { checkpointDocument } from './checkpoint-document.js';

interface Log {
  warn(obj: object, msg: string): void;
  error(obj: object, msg: string): void;
}

export interface SealerSettings {
  intervalMs: number;
  /** Events per sealing transaction; a longer backlog is sealed in several. */
  batchSize: number;
  /** Where each new checkpoint is POSTed; undefined: nowhere. */
  checkpointUrl: string | undefined;
  pushTimeoutMs: number;
}

export interface SealResult {
  sealed: number;
  treeSize: number;
}

const MAX_ROUNDS_PER_PASS = 50;
/** Checkpoint pushes: a retry after 1 s, doubling, at most 5 min apart; at most one delivery a second. */
const PUSH = { firstBackoffSeconds: 1, maxBackoffSeconds: 300 };
const PUSH_MIN_INTERVAL_SECONDS = 1;
/** Every batch's checkpoint is the tree's newest; one about this often is kept in the history too. */
const HISTORY_EVERY_MS = 60_000;

export class AuditSealer {
  private timer: NodeJS.Timeout | undefined;
  private readonly passes = new SingleFlight<SealResult>(() => this.drain());
  private closed = false;
  private readonly closing = new AbortController();
  private lastHistoryAt = 0;

  constructor(
    private readonly db: Database,
    private readonly key: AuditKey,
    private readonly settings: SealerSettings,
    private readonly log: Log,
  ) {}

  start(): void {
    if (this.timer || this.closed) return;
    this.timer = setInterval(() => {
      this.seal()
        .then(() => this.push())
        .catch((error: unknown) => this.log.error({ err: error }, 'audit sealing failed'));
    }, this.settings.intervalMs);
    this.timer.unref();
  }

  /** Seals every committed event now (in batches); one pass at a time per instance. */
  seal(): Promise<SealResult> {
    return this.passes.run();
  }

  async close(): Promise<void> {
    this.closed = true;
    if (this.timer) clearInterval(this.timer);
    this.closing.abort();
    await this.passes.idle();
  }

  private async drain(): Promise<SealResult> {
    const total: SealResult = { sealed: 0, treeSize: 0 };
    for (let round = 0; round < MAX_ROUNDS_PER_PASS && !this.closed; round++) {
      const batch = await this.sealBatch();
      if (!batch) break; // another instance is sealing
      total.sealed += batch.sealed;
      total.treeSize = batch.treeSize;
      if (batch.sealed < this.settings.batchSize) break;
    }
    return total;
  }

  private sealBatch(): Promise<SealResult | undefined> {
    return this.db.transaction(async (tx) => {
      if (!(await trySealLock(tx))) return undefined;
      const tree = await readTree(tx, true);
      const events = await listUnsealed(tx, this.settings.batchSize);
      if (events.length === 0) return { sealed: 0, treeSize: tree.size };
      const frontier = TreeFrontier.fromJSON(tree.frontier);
      if (frontier.size !== tree.size) throw new Error('audit_tree: the frontier does not match the size');
      const leaves = events.map((event) => {
        const hash = eventLeafHash(event);
        const leafIndex = frontier.size;
        frontier.append(hash);
        return { id: event.id, leafIndex, hash: Buffer.from(hash).toString('hex') };
      });
      await markSealed(tx, leaves);
      const rootHash = Buffer.from(frontier.root()).toString('base64');
      const note = signCheckpoint(
        formatCheckpoint({
          origin: this.key.name,
          size: frontier.size,
          rootHash: frontier.root(),
          timestamp: new Date(),
        }),
        this.key,
      );
      await updateTree(tx, { size: frontier.size, rootHash, frontier: frontier.toJSON(), checkpoint: note });
      const now = Date.now();
      if (now - this.lastHistoryAt >= HISTORY_EVERY_MS) {
        await insertCheckpoint(tx, { treeSize: frontier.size, rootHash, note });
        this.lastHistoryAt = now;
      }
      return { sealed: events.length, treeSize: frontier.size };
    });
  }

  /**
   * POSTs the newest checkpoint to AUDIT_CHECKPOINT_URL when it is not delivered yet and
   * due (a claim in the database, so one instance sends it and a restart retries it);
   * a 2xx marks it delivered. Returns whether one was delivered.
   */
  async push(): Promise<boolean> {
    const url = this.settings.checkpointUrl;
    if (!url || this.closed) return false;
    const claimed = await claimCheckpointPush(this.db, PUSH);
    if (!claimed) return false;
    try {
      const response = await fetch(url, {
        method: 'POST',
        headers: { 'content-type': 'application/json' },
        body: JSON.stringify(checkpointDocument(claimed.note, this.key.verifierKey)),
        redirect: 'error',
        signal: AbortSignal.any([AbortSignal.timeout(this.settings.pushTimeoutMs), this.closing.signal]),
      });
      await response.body?.cancel();
      if (!response.ok) throw new Error(`status ${response.status}`);
      await markCheckpointPushed(this.db, claimed.treeSize, PUSH_MIN_INTERVAL_SECONDS);
      return true;
    } catch (error) {
      this.log.warn(
        {
          event: 'audit_checkpoint_push_failed',
          tree_size: claimed.treeSize,
          attempt: claimed.attempts,
          destination: new URL(url).origin,
          reason: error instanceof Error ? error.message : 'error',
        },
        'audit checkpoint push failed; it is retried',
      );
      return false;
    }
  }
}
