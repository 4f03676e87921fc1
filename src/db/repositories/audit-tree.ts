// The audit log's tree: its state (audit_tree), the audit key (audit_keys), signed
// checkpoints (audit_checkpoints) and prune records (audit_prunes), and the event columns
// the sealer fills (security_events.leaf_index, hash). What the guards in the
// audit-tree migration allow is all these statements do.
import type { Queryable } from '../database.js';
import { LEAF_CREATED_AT, type LeafEvent } from '../../domain/audit/event-leaf.js';
import type { TreeFrontierJSON } from '../../domain/audit/merkle-tree.js';

export interface TreeState {
  size: number;
  /** Base64. */
  rootHash: string;
  frontier: TreeFrontierJSON;
  prunedSize: number;
  pruneCount: number;
  pruneLock: string | null;
  /** The newest signed checkpoint; null before the first seal. */
  checkpoint: string | null;
}

interface TreeRow {
  size: string | number;
  root_hash: string;
  frontier: TreeFrontierJSON;
  pruned_size: string | number;
  prune_count: number;
  prune_lock: string | null;
  checkpoint: string | null;
}

const toTree = (r: TreeRow): TreeState => ({
  size: Number(r.size),
  rootHash: r.root_hash,
  frontier: r.frontier,
  prunedSize: Number(r.pruned_size),
  pruneCount: Number(r.prune_count),
  pruneLock: r.prune_lock,
  checkpoint: r.checkpoint,
});

/** The tree's state; `lock` holds its row until the transaction ends (sealing, pruning). */
export async function readTree(db: Queryable, lock = false): Promise<TreeState> {
  const [row] = await db.query<TreeRow>(
    `SELECT size, root_hash, frontier, pruned_size, prune_count, prune_lock, checkpoint FROM audit_tree${lock ? ' FOR UPDATE' : ''}`,
  );
  if (!row) throw new Error('audit_tree has no row: the database was not migrated');
  return toTree(row);
}

export async function updateTree(
  tx: Queryable,
  t: { size: number; rootHash: string; frontier: TreeFrontierJSON; checkpoint: string },
): Promise<void> {
  await tx.query(
    'UPDATE audit_tree SET size = $1, root_hash = $2, frontier = $3::jsonb, checkpoint = $4, updated_at = now()',
    [t.size, t.rootHash, JSON.stringify(t.frontier), t.checkpoint],
  );
}

/** Sets the first prune lock, once (the guard refuses any later change outside a prune). */
export async function setFirstPruneLock(tx: Queryable, lock: string): Promise<void> {
  await tx.query('UPDATE audit_tree SET prune_lock = $1 WHERE prune_lock IS NULL', [lock]);
}

/** One transaction-scoped advisory lock: one sealer (or prune) at a time across instances. */
const SEAL_LOCK = '7246001455018132';

export async function trySealLock(tx: Queryable): Promise<boolean> {
  const [row] = await tx.query<{ locked: boolean }>('SELECT pg_try_advisory_xact_lock($1) AS locked', [SEAL_LOCK]);
  return row?.locked === true;
}

export async function waitSealLock(tx: Queryable): Promise<void> {
  await tx.query('SELECT pg_advisory_xact_lock($1)', [SEAL_LOCK]);
}

const LEAF_COLUMNS = `id, ${LEAF_CREATED_AT} AS created_at, type, outcome, actor, target, user_id, session_id, ip, user_agent, request_id, detail`;

interface LeafRow extends Omit<LeafEvent, 'id'> {
  id: string | number;
}

/** Committed events not sealed yet, oldest id first: whatever commit order they came in. */
export async function listUnsealed(tx: Queryable, limit: number): Promise<LeafEvent[]> {
  const rows = await tx.query<LeafRow>(
    `SELECT ${LEAF_COLUMNS} FROM security_events WHERE leaf_index IS NULL ORDER BY id LIMIT $1`,
    [limit],
  );
  return rows.map((r) => ({ ...r, id: Number(r.id) }));
}

export async function markSealed(
  tx: Queryable,
  leaves: { id: number; leafIndex: number; hash: string }[],
): Promise<void> {
  // The runtime role may not UPDATE events: the owner's function seals (still under the guard).
  await tx.query('SELECT tessera_seal_events($1::bigint[], $2::bigint[], $3::text[])', [
    leaves.map((l) => l.id),
    leaves.map((l) => l.leafIndex),
    leaves.map((l) => l.hash),
  ]);
}

export interface SealedLeaf extends LeafEvent {
  leafIndex: number;
  /** The leaf hash stored at sealing (hex). */
  hash: string;
}

/** Sealed events from a leaf index on, in leaf order. */
export async function listSealedFrom(tx: Queryable, fromLeaf: number, limit: number): Promise<SealedLeaf[]> {
  const rows = await tx.query<LeafRow & { leaf_index: string | number; hash: string }>(
    `SELECT ${LEAF_COLUMNS}, leaf_index, hash FROM security_events
      WHERE leaf_index >= $1 ORDER BY leaf_index LIMIT $2`,
    [fromLeaf, limit],
  );
  return rows.map(({ leaf_index, ...r }) => ({ ...r, id: Number(r.id), leafIndex: Number(leaf_index) }));
}

export async function countEvents(
  tx: Queryable,
): Promise<{ sealed: number; unsealed: number; minLeaf: number | null; maxLeaf: number | null }> {
  const [row] = await tx.query<{ sealed: string; unsealed: string; min_leaf: string | null; max_leaf: string | null }>(
    `SELECT count(leaf_index) AS sealed, count(*) - count(leaf_index) AS unsealed,
            min(leaf_index) AS min_leaf, max(leaf_index) AS max_leaf FROM security_events`,
  );
  return {
    sealed: Number(row?.sealed ?? 0),
    unsealed: Number(row?.unsealed ?? 0),
    minLeaf: row?.min_leaf == null ? null : Number(row.min_leaf),
    maxLeaf: row?.max_leaf == null ? null : Number(row.max_leaf),
  };
}

// --- the audit key -------------------------------------------------------------------

export interface StoredAuditKey {
  name: string;
  /** Raw Ed25519 public key, base64. */
  publicKey: string;
  privateKeyEnc: string;
}

/** Stores the key unless one exists (several instances may start at once); returns the one stored. */
export async function insertAuditKeyOnce(tx: Queryable, key: StoredAuditKey): Promise<StoredAuditKey> {
  await tx.query(
    'INSERT INTO audit_keys (name, public_key, private_key_enc) VALUES ($1, $2, $3) ON CONFLICT (singleton) DO NOTHING',
    [key.name, key.publicKey, key.privateKeyEnc],
  );
  const stored = await readAuditKey(tx);
  if (!stored) throw new Error('audit key missing after insert');
  return stored;
}

export async function readAuditKey(db: Queryable): Promise<StoredAuditKey | undefined> {
  const [row] = await db.query<{ name: string; public_key: string; private_key_enc: string }>(
    'SELECT name, public_key, private_key_enc FROM audit_keys',
  );
  return row && { name: row.name, publicKey: row.public_key, privateKeyEnc: row.private_key_enc };
}

/** Compare-and-set of the sealed private key (master key rotation). */
export async function replaceSealedAuditKey(db: Queryable, previous: string, next: string): Promise<boolean> {
  const rows = await db.query<{ name: string }>(
    'UPDATE audit_keys SET private_key_enc = $2 WHERE private_key_enc = $1 RETURNING name',
    [previous, next],
  );
  return rows.length === 1;
}

// --- checkpoints ---------------------------------------------------------------------

export interface StoredCheckpoint {
  treeSize: number;
  rootHash: string;
  note: string;
  createdAt: Date;
}

interface CheckpointRow {
  tree_size: string | number;
  root_hash: string;
  note: string;
  created_at: Date | string;
}

const toCheckpoint = (r: CheckpointRow): StoredCheckpoint => ({
  treeSize: Number(r.tree_size),
  rootHash: r.root_hash,
  note: r.note,
  createdAt: new Date(r.created_at),
});

/** Keeps a checkpoint in the history (the sealer does so about once a minute). */
export async function insertCheckpoint(
  tx: Queryable,
  c: { treeSize: number; rootHash: string; note: string },
): Promise<void> {
  await tx.query('INSERT INTO audit_checkpoints (tree_size, root_hash, note) VALUES ($1, $2, $3)', [
    c.treeSize,
    c.rootHash,
    c.note,
  ]);
}

/** The history from a tree size on, up to another (inclusive), smallest first. */
export async function listCheckpointsFrom(
  db: Queryable,
  fromSize: number,
  toSize = Number.MAX_SAFE_INTEGER,
): Promise<StoredCheckpoint[]> {
  const rows = await db.query<CheckpointRow>(
    'SELECT tree_size, root_hash, note, created_at FROM audit_checkpoints WHERE tree_size >= $1 AND tree_size <= $2 ORDER BY tree_size',
    [fromSize, toSize],
  );
  return rows.map(toCheckpoint);
}

/** The smallest kept checkpoint at or past a size. */
export async function checkpointAtOrAfter(db: Queryable, size: number): Promise<StoredCheckpoint | undefined> {
  const [row] = await db.query<CheckpointRow>(
    'SELECT tree_size, root_hash, note, created_at FROM audit_checkpoints WHERE tree_size >= $1 ORDER BY tree_size LIMIT 1',
    [size],
  );
  return row && toCheckpoint(row);
}

/**
 * Claims the newest checkpoint for a push when a newer one than the last delivered
 * exists and an attempt is due, moving the next attempt on by the backoff: with several
 * instances one of them pushes it, and a crash leaves it due again soon.
 */
export async function claimCheckpointPush(
  db: Queryable,
  p: { firstBackoffSeconds: number; maxBackoffSeconds: number },
): Promise<{ treeSize: number; note: string; attempts: number } | undefined> {
  const [row] = await db.query<{ size: string | number; checkpoint: string; push_attempts: number }>(
    `UPDATE audit_tree
        SET push_attempts = push_attempts + 1,
            next_push_at = now() + make_interval(secs => least($1::float8 * power(2, push_attempts), $2::float8))
      WHERE checkpoint IS NOT NULL AND pushed_size < size AND next_push_at <= now()
      RETURNING size, checkpoint, push_attempts`,
    [p.firstBackoffSeconds, p.maxBackoffSeconds],
  );
  return row && { treeSize: Number(row.size), note: row.checkpoint, attempts: Number(row.push_attempts) };
}

/** A delivered push: the next one waits `minIntervalSeconds`. */
export async function markCheckpointPushed(db: Queryable, treeSize: number, minIntervalSeconds: number): Promise<void> {
  await db.query(
    `UPDATE audit_tree SET pushed_size = greatest(pushed_size, $1), push_attempts = 0,
            next_push_at = now() + make_interval(secs => $2::float8)`,
    [treeSize, minIntervalSeconds],
  );
}

// --- pruning -------------------------------------------------------------------------

export interface PruneRecord {
  treeSize: number;
  rootHash: string;
  frontier: TreeFrontierJSON;
  deleted: number;
  retentionDays: number;
  note: string;
  createdAt: Date;
}

export async function latestPrune(db: Queryable): Promise<PruneRecord | undefined> {
  const [row] = await db.query<{
    tree_size: string | number;
    root_hash: string;
    frontier: TreeFrontierJSON;
    deleted: string | number;
    retention_days: number;
    note: string;
    created_at: Date | string;
  }>(
    'SELECT tree_size, root_hash, frontier, deleted, retention_days, note, created_at FROM audit_prunes ORDER BY tree_size DESC LIMIT 1',
  );
  return (
    row && {
      treeSize: Number(row.tree_size),
      rootHash: row.root_hash,
      frontier: row.frontier,
      deleted: Number(row.deleted),
      retentionDays: row.retention_days,
      note: row.note,
      createdAt: new Date(row.created_at),
    }
  );
}

/**
 * The first leaf from `fromLeaf` on whose event is not older than the cutoff (the tree
 * size when every one is): a walk in leaf order that stops there, so it reads only what
 * a prune would remove.
 */
export async function firstLeafSince(tx: Queryable, fromLeaf: number, cutoff: Date, treeSize: number): Promise<number> {
  const [row] = await tx.query<{ leaf: string }>(
    'SELECT leaf_index AS leaf FROM security_events WHERE leaf_index >= $1 AND created_at >= $2 ORDER BY leaf_index LIMIT 1',
    [fromLeaf, cutoff],
  );
  return row ? Number(row.leaf) : treeSize;
}

/**
 * Records the prune (its insert trigger checks the unlock and raises pruned_size, which
 * is what lets the deletes below through), then deletes the events and checkpoints below it.
 */
export async function insertPruneAndDelete(
  tx: Queryable,
  p: Omit<PruneRecord, 'createdAt' | 'deleted'> & { unlock: string; nextLock: string },
): Promise<number> {
  await tx.query(
    `INSERT INTO audit_prunes (tree_size, root_hash, frontier, deleted, retention_days, note, unlock, next_lock)
     VALUES ($1, $2, $3::jsonb, (SELECT count(*) FROM security_events WHERE leaf_index < $1), $4, $5, $6, $7)`,
    [p.treeSize, p.rootHash, JSON.stringify(p.frontier), p.retentionDays, p.note, p.unlock, p.nextLock],
  );
  // Events and checkpoints below the prune point, deleted by the owner's function (the
  // runtime role has no DELETE on them); the guards let only rows below pruned_size go.
  const [{ deleted } = { deleted: 0 }] = await tx.query<{ deleted: number }>(
    'SELECT tessera_prune_events($1) AS deleted',
    [p.treeSize],
  );
  return Number(deleted);
}

// --- the export (AUDIT_EXPORT_URL) ---------------------------------------------------

export interface ExportClaim {
  /** The first leaf not exported yet (never below the pruned start). */
  fromLeaf: number;
  /** The tree size the checkpoint below covers. */
  treeSize: number;
  /** The newest signed checkpoint, covering every leaf below treeSize. */
  note: string;
  attempts: number;
}

/**
 * Claims the next export batch when sealed events are not exported yet and an attempt is
 * due: the claim holds it for `leaseSeconds` (longer than a delivery may take), so with
 * several instances one of them sends it, and a crash leaves it due again after the lease.
 */
export async function claimExport(db: Queryable, leaseSeconds: number): Promise<ExportClaim | undefined> {
  const [row] = await db.query<{
    exported_size: string | number;
    pruned_size: string | number;
    size: string | number;
    checkpoint: string;
    export_attempts: number;
  }>(
    `UPDATE audit_tree
        SET export_attempts = export_attempts + 1, next_export_at = now() + make_interval(secs => $1::float8)
      WHERE checkpoint IS NOT NULL AND greatest(exported_size, pruned_size) < size AND next_export_at <= now()
      RETURNING exported_size, pruned_size, size, checkpoint, export_attempts`,
    [leaseSeconds],
  );
  return (
    row && {
      fromLeaf: Math.max(Number(row.exported_size), Number(row.pruned_size)),
      treeSize: Number(row.size),
      note: row.checkpoint,
      attempts: Number(row.export_attempts),
    }
  );
}

/** A refused or failed export batch: the next attempt after the backoff (1 s doubling, capped). */
export async function deferExport(
  db: Queryable,
  p: { firstBackoffSeconds: number; maxBackoffSeconds: number },
): Promise<void> {
  await db.query(
    `UPDATE audit_tree
        SET next_export_at = now() + make_interval(secs => least($1::float8 * power(2, greatest(export_attempts - 1, 0)), $2::float8))`,
    [p.firstBackoffSeconds, p.maxBackoffSeconds],
  );
}

/** A delivered batch: everything below `exportedSize` is out; the next batch is due at once. */
export async function markExported(db: Queryable, exportedSize: number): Promise<void> {
  await db.query(
    `UPDATE audit_tree SET exported_size = greatest(exported_size, $1), export_attempts = 0, next_export_at = now()`,
    [exportedSize],
  );
}

/** How far the export got (0 when it never ran). */
export async function readExportedSize(db: Queryable): Promise<number> {
  const [row] = await db.query<{ exported_size: string | number }>('SELECT exported_size FROM audit_tree');
  return Number(row?.exported_size ?? 0);
}
