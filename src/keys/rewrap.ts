// Master key rotation: re-seal every stored secret under the current master key.
// One row per statement, each a compare-and-set, so an interrupted run is safe to repeat.
import type { SecretBox } from '../crypto/secret-box.js';
import { SecretBox as Box } from '../crypto/secret-box.js';
import type { Queryable } from '../db/database.js';
import { listAllKeys, replaceSealedKey } from '../db/repositories/signing-keys.js';
import { recordSecurityEvent } from '../audit/audit-log.js';
import { privateKeyAad } from './keystore.js';
import { rewrapAuditKey } from '../audit/audit-key.js';
import { listSealedSecrets, listSealedTotp, replaceSealedSecret, replaceSealedTotp } from '../db/repositories/mfa.js';
import { sealedSecretAad, totpAad } from '../domain/mfa/sealing.js';
import { listSealedMail, replaceSealedMail } from '../db/repositories/mail-outbox.js';
import { outboxAad } from '../mail/outbox.js';

export interface RewrapResult {
  rewrapped: number;
  alreadyCurrent: number;
}

export async function rewrapSecrets(db: Queryable, box: SecretBox): Promise<RewrapResult> {
  const result: RewrapResult = { rewrapped: 0, alreadyCurrent: 0 };
  for (const key of await listAllKeys(db)) {
    if (Box.sealedWith(key.privateKeyEnc) === box.keyId) {
      result.alreadyCurrent++;
      continue;
    }
    const aad = privateKeyAad(key.purpose, key.kid);
    const resealed = box.seal(box.open(key.privateKeyEnc, aad), aad);
    if (await replaceSealedKey(db, key.kid, key.privateKeyEnc, resealed)) result.rewrapped++;
  }
  // TOTP secrets, bound to their user and factor.
  for (const f of await listSealedTotp(db)) {
    if (Box.sealedWith(f.totp_secret) === box.keyId) {
      result.alreadyCurrent++;
      continue;
    }
    const aad = totpAad(f.user_id, f.id);
    if (await replaceSealedTotp(db, f.id, f.totp_secret, box.seal(box.open(f.totp_secret, aad), aad)))
      result.rewrapped++;
  }
  // The service's own sealed secrets (the recovery codes' HMAC key).
  for (const secret of await listSealedSecrets(db)) {
    if (Box.sealedWith(secret.sealed) === box.keyId) {
      result.alreadyCurrent++;
      continue;
    }
    const aad = sealedSecretAad(secret.name);
    if (await replaceSealedSecret(db, secret.name, secret.sealed, box.seal(box.open(secret.sealed, aad), aad)))
      result.rewrapped++;
  }
  // Mail waiting for delivery (it holds reset and verification links).
  for (const mail of await listSealedMail(db)) {
    if (Box.sealedWith(mail.message) === box.keyId) {
      result.alreadyCurrent++;
      continue;
    }
    const aad = outboxAad(mail.id);
    if (await replaceSealedMail(db, mail.id, mail.message, box.seal(box.open(mail.message, aad), aad)))
      result.rewrapped++;
  }
  // The audit key is sealed the same way, in a table of its own.
  const audit = await rewrapAuditKey(db, box);
  if (audit === 'rewrapped') result.rewrapped++;
  if (audit === 'current') result.alreadyCurrent++;
  await recordSecurityEvent(db, { type: 'master_key_rewrap', detail: { ...result, master_key_id: box.keyId } });
  return result;
}
