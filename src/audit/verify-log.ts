// Checking the audit log, entirely in TypeScript from the rows: every sealed event's leaf
// is recomputed, the tree is rebuilt from the last signed prune record (or from empty),
// and its root is compared with every signed checkpoint on the way, with the tree's
// stored state at the end, and with a checkpoint saved outside the database. An altered,
// deleted (newest or oldest), reordered or put-back event, a forged prune record, a
// forged checkpoint or a replaced audit key each fail it.
import type { Queryable } from '../db/database.js';
import {
  countEvents,
  latestPrune,
  listCheckpointsFrom,
  listSealedFrom,
  readAuditKey,
  readTree,
} from '../db/repositories/audit-tree.js';
import {
  CheckpointError,
  parseVerifierKey,
  verifierKey,
  verifyCheckpoint,
  type CheckpointVerifier,
  type SignedCheckpoint,
} from '../domain/audit/checkpoint.js';
import { eventLeafHash } from '../domain/audit/event-leaf.js';
import { TreeFrontier } from '../domain/audit/merkle-tree.js';
import { createPublicKey } from 'node:crypto';

export interface AuditProblem {
  reason: string;
  eventId?: number;
  leafIndex?: number;
}

export interface AuditReport {
  ok: boolean;
  /** Leaves in the tree, pruned ones included. */
  treeSize: number;
  rootHash: string;
  /** Sealed events still stored (treeSize - prunedSize when intact). */
  events: number;
  /** Committed events the sealer has not reached yet (covered by no checkpoint). */
  unsealed: number;
  prunedSize: number;
  /** Signed checkpoints found in the database and checked. */
  checkpoints: number;
  /** The saved checkpoint: what it covered and how it was checked. */
  against?: { treeSize: number; rootHash: string; covered: 'checked' | 'pruned' };
  problem?: AuditProblem;
}

/** A saved checkpoint with the key that signed it (readCheckpointDocument). */
export interface SavedCheckpoint {
  checkpoint: SignedCheckpoint;
  verifier: CheckpointVerifier;
}

const b64 = (bytes: Uint8Array) => Buffer.from(bytes).toString('base64');
const hex = (bytes: Uint8Array) => Buffer.from(bytes).toString('hex');

/** The stored audit key's public half in signed-note verifier key form. */
export function storedVerifierKey(stored: { name: string; publicKey: string }): string {
  const publicKey = createPublicKey({
    key: { kty: 'OKP', crv: 'Ed25519', x: Buffer.from(stored.publicKey, 'base64').toString('base64url') },
    format: 'jwk',
  });
  return verifierKey(stored.name, publicKey);
}

const storedVerifier = (stored: { name: string; publicKey: string }): CheckpointVerifier =>
  parseVerifierKey(storedVerifierKey(stored));

interface Check {
  rootHash: string;
  what: string;
}

/**
 * Appends the stored leaves from frontier.size on, recomputing each, until `until` leaves
 * (or the end) and compares the root at each size in `checks`. Returns the first problem.
 */
export async function replayLeaves(
  tx: Queryable,
  frontier: TreeFrontier,
  checks: Map<number, Check>,
  options: { until?: number; batch?: number } = {},
): Promise<AuditProblem | undefined> {
  const batch = options.batch ?? 2000;
  const until = options.until ?? Number.MAX_SAFE_INTEGER;
  while (frontier.size < until) {
    const rows = await listSealedFrom(tx, frontier.size, Math.min(batch, until - frontier.size));
    if (rows.length === 0) return undefined;
    for (const row of rows) {
      if (row.leafIndex !== frontier.size) {
        return {
          reason: `leaf ${frontier.size} is missing: a sealed event was deleted`,
          leafIndex: frontier.size,
        };
      }
      const hash = eventLeafHash(row);
      if (hex(hash) !== row.hash) {
        return {
          reason: `event ${row.id} (leaf ${row.leafIndex}) was changed after it was sealed`,
          eventId: row.id,
          leafIndex: row.leafIndex,
        };
      }
      frontier.append(hash);
      const check = checks.get(frontier.size);
      if (check && b64(frontier.root()) !== check.rootHash) {
        return {
          reason: `the tree of the first ${frontier.size} events does not match ${check.what}: events up to leaf ${frontier.size - 1} were changed, reordered or replaced`,
          leafIndex: frontier.size - 1,
        };
      }
    }
  }
  return undefined;
}

/**
 * Verifies the whole log inside the caller's transaction (the CLI opens it REPEATABLE
 * READ, READ ONLY, so every read sees one snapshot). With a saved checkpoint, its key is
 * the one trusted, and the log must still hold, unchanged, everything it covered.
 */
export async function verifyAuditLog(
  tx: Queryable,
  options: { saved?: SavedCheckpoint; batch?: number } = {},
): Promise<AuditReport> {
  const tree = await readTree(tx);
  const counts = await countEvents(tx);
  const report: AuditReport = {
    ok: true,
    treeSize: tree.size,
    rootHash: tree.rootHash,
    events: counts.sealed,
    unsealed: counts.unsealed,
    prunedSize: 0,
    checkpoints: 0,
  };
  const fail = (problem: AuditProblem): AuditReport => ({ ...report, ok: false, problem });

  // 1. Which key to trust: the saved checkpoint's, and the database must hold that one.
  const stored = await readAuditKey(tx);
  const saved = options.saved;
  let trusted: CheckpointVerifier | undefined = saved?.verifier;
  if (stored) {
    const inDatabase = storedVerifier(stored);
    if (
      trusted &&
      verifierKey(trusted.name, trusted.publicKey) !== verifierKey(inDatabase.name, inDatabase.publicKey)
    ) {
      return fail({ reason: 'the audit key in the database is not the one that signed the saved checkpoint' });
    }
    trusted ??= inDatabase;
  }
  if (!trusted) {
    if (tree.size > 0 || counts.sealed > 0) return fail({ reason: 'sealed events exist but the audit key is missing' });
    return report; // never sealed: nothing to check yet
  }
  const verify = (note: string, what: string): SignedCheckpoint | AuditProblem => {
    try {
      const checked = verifyCheckpoint(note, trusted);
      if (checked.origin !== trusted.name) return { reason: `${what} names another log (${checked.origin})` };
      return checked;
    } catch (error) {
      if (error instanceof CheckpointError)
        return { reason: `${what} is not signed by the audit key (${error.message})` };
      throw error;
    }
  };

  // 2. Where the stored leaves start: the last signed prune record, or the empty tree.
  let frontier = new TreeFrontier();
  const prune = await latestPrune(tx);
  if (prune) {
    const checked = verify(prune.note, `the prune record at size ${prune.treeSize}`);
    if ('reason' in checked) return fail(checked);
    try {
      frontier = TreeFrontier.fromJSON(prune.frontier);
    } catch {
      return fail({ reason: `the prune record at size ${prune.treeSize} has no valid frontier` });
    }
    if (
      checked.size !== prune.treeSize ||
      b64(checked.rootHash) !== prune.rootHash ||
      frontier.size !== prune.treeSize ||
      b64(frontier.root()) !== prune.rootHash
    ) {
      return fail({
        reason: `the prune record at size ${prune.treeSize} was altered: it does not match its signature`,
      });
    }
    report.prunedSize = prune.treeSize;
  }
  if (tree.prunedSize !== report.prunedSize) {
    return fail({
      reason: `audit_tree says ${tree.prunedSize} events were pruned; the signed records say ${report.prunedSize}`,
    });
  }
  if (counts.minLeaf !== null && counts.minLeaf < report.prunedSize) {
    return fail({
      reason: `leaf ${counts.minLeaf} lies before the prune point: an event was put back`,
      leafIndex: counts.minLeaf,
    });
  }

  // 3. Every signed checkpoint from there on (the kept history and the newest), and the saved one.
  const checks = new Map<number, Check>();
  if (tree.checkpoint !== null) {
    const newest = verify(tree.checkpoint, 'the newest checkpoint');
    if ('reason' in newest) return fail(newest);
    if (newest.size !== tree.size || b64(newest.rootHash) !== tree.rootHash) {
      return fail({
        reason: `audit_tree (size ${tree.size}) does not match its own signed checkpoint (size ${newest.size})`,
      });
    }
    checks.set(tree.size, { rootHash: tree.rootHash, what: 'the newest signed checkpoint' });
    report.checkpoints++;
  } else if (tree.size > 0) {
    return fail({ reason: 'audit_tree has sealed events but no signed checkpoint' });
  }
  for (const c of await listCheckpointsFrom(tx, report.prunedSize)) {
    const checked = verify(c.note, `the checkpoint at size ${c.treeSize}`);
    if ('reason' in checked) return fail(checked);
    if (checked.size !== c.treeSize || b64(checked.rootHash) !== c.rootHash) {
      return fail({ reason: `the checkpoint at size ${c.treeSize} was altered: it does not match its signature` });
    }
    checks.set(c.treeSize, { rootHash: c.rootHash, what: `the signed checkpoint at size ${c.treeSize}` });
    report.checkpoints++;
  }
  let savedCovered: 'checked' | 'pruned' | undefined;
  if (saved) {
    const { size } = saved.checkpoint;
    const rootHash = b64(saved.checkpoint.rootHash);
    report.against = { treeSize: size, rootHash, covered: 'checked' };
    if (size < report.prunedSize) {
      savedCovered = 'pruned'; // everything it covered went by a signed prune
    } else if (size === report.prunedSize) {
      if (rootHash !== b64(frontier.root())) {
        return fail({ reason: `the saved checkpoint (size ${size}) does not match the signed prune record` });
      }
      savedCovered = 'checked';
    } else {
      checks.set(size, { rootHash, what: 'the saved checkpoint' });
    }
  }

  // 4. Rebuild the tree from the stored events.
  const problem = await replayLeaves(tx, frontier, checks, { batch: options.batch });
  if (problem) return fail(problem);
  const size = frontier.size;
  const rootHash = b64(frontier.root());
  if (saved && saved.checkpoint.size > size) {
    return fail({
      reason: `the saved checkpoint covers ${saved.checkpoint.size} events but the log holds ${size}: the newest were deleted`,
      leafIndex: size,
    });
  }
  const beyond = [...checks.keys()].filter((s) => s > size);
  if (beyond.length) {
    return fail({
      reason: `a signed checkpoint covers ${Math.max(...beyond)} events but the log holds ${size}: the newest were deleted`,
      leafIndex: size,
    });
  }
  if (size < tree.size) {
    return fail({
      reason: `the tree records ${tree.size} sealed events but the log holds ${size}: the newest were deleted`,
      leafIndex: size,
    });
  }
  if (size !== tree.size || rootHash !== tree.rootHash) {
    return fail({ reason: `audit_tree (size ${tree.size}) does not match the events (size ${size})` });
  }
  if (counts.sealed !== size - report.prunedSize) {
    return fail({ reason: 'sealed events exist outside the tree' });
  }
  if (saved) report.against = { ...report.against!, covered: savedCovered ?? 'checked' };
  return report;
}
