// The audit key: an Ed25519 key of its own that signs the audit log's checkpoints and
// prune records. Made on first start, stored sealed under the master key like the
// signing keys, but in audit_keys, never among the signing keys and never in the JWKS.
// The same secret derives the prune unlock values (see the audit-tree migration), so
// pruning needs the master key too.
import {
  createHash,
  createHmac,
  createPrivateKey,
  createPublicKey,
  generateKeyPairSync,
  type KeyObject,
} from 'node:crypto';
import type { SecretBox } from '../crypto/secret-box.js';
import { SecretBox as Box } from '../crypto/secret-box.js';
import type { Database, Queryable } from '../db/database.js';
import {
  insertAuditKeyOnce,
  readAuditKey,
  replaceSealedAuditKey,
  setFirstPruneLock,
} from '../db/repositories/audit-tree.js';
import { verifierKey, type CheckpointSigner } from '../domain/audit/checkpoint.js';

const AAD = 'tessera:audit-key';

export class AuditKey implements CheckpointSigner {
  readonly #pruneSecret: Buffer;

  private constructor(
    /** The log's origin and the key's name in every signed note. */
    readonly name: string,
    readonly privateKey: KeyObject,
    readonly publicKey: KeyObject,
  ) {
    const der = privateKey.export({ format: 'der', type: 'pkcs8' });
    this.#pruneSecret = createHash('sha256').update('tessera audit prune unlock\0').update(der).digest();
  }

  static fromPkcs8(name: string, der: Buffer): AuditKey {
    const privateKey = createPrivateKey({ key: der, format: 'der', type: 'pkcs8' });
    return new AuditKey(name, privateKey, createPublicKey(privateKey));
  }

  /** The public key as Go's note package writes a verifier key: `name+hash+base64(0x01 || key)`. */
  get verifierKey(): string {
    return verifierKey(this.name, this.publicKey);
  }

  /** The value that opens prune number `n` (counted from 0), hex. */
  pruneUnlock(n: number): string {
    return createHmac('sha256', this.#pruneSecret).update(`prune ${n}`).digest('hex');
  }

  /** What audit_tree.prune_lock holds while prune `n` is the next one: SHA-256 of its unlock, hex. */
  pruneLock(n: number): string {
    return createHash('sha256')
      .update(Buffer.from(this.pruneUnlock(n), 'hex'))
      .digest('hex');
  }
}

/** The log's origin (C2SP tlog-checkpoint): the issuer without its scheme, plus /audit. */
function auditOrigin(issuer: string): string {
  const url = new URL(issuer);
  return `${url.host}${url.pathname.replace(/\/+$/, '')}/audit`;
}

/**
 * Opens the audit key, making it on first use (once, whichever instance gets there
 * first) and setting the first prune lock with it.
 */
export async function loadAuditKey(db: Database, box: SecretBox, issuer: string): Promise<AuditKey> {
  let stored = await readAuditKey(db);
  if (!stored) {
    const { privateKey, publicKey } = generateKeyPairSync('ed25519');
    const der = privateKey.export({ format: 'der', type: 'pkcs8' });
    stored = await db.transaction(async (tx) => {
      const kept = await insertAuditKeyOnce(tx, {
        name: auditOrigin(issuer),
        publicKey: publicKey.export({ format: 'der', type: 'spki' }).subarray(-32).toString('base64'),
        privateKeyEnc: box.seal(der, AAD),
      });
      const key = AuditKey.fromPkcs8(kept.name, box.open(kept.privateKeyEnc, AAD));
      await setFirstPruneLock(tx, key.pruneLock(0));
      return kept;
    });
  }
  return AuditKey.fromPkcs8(stored.name, box.open(stored.privateKeyEnc, AAD));
}

/** Re-seals the audit key under the current master key (a compare-and-set, safe to repeat). */
export async function rewrapAuditKey(db: Queryable, box: SecretBox): Promise<'rewrapped' | 'current' | 'none'> {
  const stored = await readAuditKey(db);
  if (!stored) return 'none';
  if (Box.sealedWith(stored.privateKeyEnc) === box.keyId) return 'current';
  const resealed = box.seal(box.open(stored.privateKeyEnc, AAD), AAD);
  return (await replaceSealedAuditKey(db, stored.privateKeyEnc, resealed)) ? 'rewrapped' : 'current';
}
