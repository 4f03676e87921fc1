// The JSON form of a signed checkpoint: what `tessera audit checkpoint` prints, what the
// sealer POSTs to AUDIT_CHECKPOINT_URL, and what `audit verify --checkpoint FILE` reads.
// The signed note is the authority; the other fields repeat it for readers, and the
// verifier key travels with it so that a saved copy can be checked without the database.
import {
  CheckpointError,
  parseSignedCheckpoint,
  parseVerifierKey,
  verifyCheckpoint,
  type CheckpointVerifier,
  type SignedCheckpoint,
} from '../domain/audit/checkpoint.js';

export interface CheckpointDocument {
  origin: string;
  tree_size: number;
  /** Base64 (standard), as in the note. */
  root_hash: string;
  timestamp: string | null;
  /** The C2SP tlog-checkpoint signed note, verbatim. */
  checkpoint: string;
  /** The audit key as a signed-note verifier key (`name+hash+base64`). */
  verifier_key: string;
}

export function checkpointDocument(note: string, verifierKey: string): CheckpointDocument {
  const parsed = parseSignedCheckpoint(note);
  return {
    origin: parsed.origin,
    tree_size: parsed.size,
    root_hash: Buffer.from(parsed.rootHash).toString('base64'),
    timestamp: parsed.timestamp?.toISOString() ?? null,
    checkpoint: note,
    verifier_key: verifierKey,
  };
}

/**
 * Reads a saved checkpoint (the JSON document), checks its note against the key it names
 * and that the repeated fields say what the note says. Throws CheckpointError.
 */
export function readCheckpointDocument(text: string): { checkpoint: SignedCheckpoint; verifier: CheckpointVerifier } {
  let doc: Partial<CheckpointDocument>;
  try {
    doc = JSON.parse(text) as Partial<CheckpointDocument>;
  } catch {
    throw new CheckpointError('ERR_CHECKPOINT_MALFORMED', 'the checkpoint file is not JSON');
  }
  if (typeof doc !== 'object' || doc === null || typeof doc.checkpoint !== 'string') {
    throw new CheckpointError('ERR_CHECKPOINT_MALFORMED', 'the checkpoint file has no "checkpoint" note');
  }
  if (typeof doc.verifier_key !== 'string') {
    throw new CheckpointError('ERR_CHECKPOINT_MALFORMED', 'the checkpoint file has no "verifier_key"');
  }
  const verifier = parseVerifierKey(doc.verifier_key);
  const checkpoint = verifyCheckpoint(doc.checkpoint, verifier);
  if (checkpoint.origin !== verifier.name) {
    throw new CheckpointError('ERR_CHECKPOINT_KEY', 'the checkpoint is not signed by its own log');
  }
  const repeated = checkpointDocument(doc.checkpoint, doc.verifier_key);
  for (const field of ['origin', 'tree_size', 'root_hash'] as const) {
    if (doc[field] !== undefined && doc[field] !== repeated[field]) {
      throw new CheckpointError('ERR_CHECKPOINT_MALFORMED', `"${field}" does not match the signed note`);
    }
  }
  return { checkpoint, verifier };
}
