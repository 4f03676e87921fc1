// Applies the key state machine to the database: first keys, rotation, promotion,
// revocation. Every change runs in one transaction under an advisory lock, so with
// several instances on one database exactly one acts and the others see its result.
import type { SigningAlg } from '../config/config.js';
import type { SecretBox } from '../crypto/secret-box.js';
import type { Database, Queryable } from '../db/database.js';
import { generateSigningKey } from '../domain/keys/key-material.js';
import {
  planRevocation,
  planRotation,
  planTick,
  type KeyPurpose,
  type KeyTransition,
  type RevocationPlan,
  type RotationSettings,
} from '../domain/keys/key-states.js';
import {
  findCurrentKey,
  insertKey,
  listAllKeys,
  lockKeyTable,
  promoteKey,
  retireKey,
  revokeKey,
  type StoredKey,
} from '../db/repositories/signing-keys.js';
import { privateKeyAad } from './keystore.js';
import { recordSecurityEvent } from '../audit/audit-log.js';

export interface KeyEvent {
  type: 'key_created' | 'key_activated' | 'key_retired' | 'key_revoked';
  kid: string;
  purpose: KeyPurpose;
  detail?: Record<string, unknown>;
}

export class KeyManager {
  constructor(
    private readonly db: Database,
    private readonly box: SecretBox,
    private readonly settings: { signingAlg: SigningAlg; rotation: RotationSettings },
  ) {}

  /** Key events go to the security events in the same transaction as the change. */
  private async event(tx: Queryable, e: KeyEvent): Promise<void> {
    await recordSecurityEvent(tx, { type: e.type, detail: { kid: e.kid, purpose: e.purpose, ...e.detail } });
  }

  /** Every key, newest first, for operators. */
  listKeys(): Promise<StoredKey[]> {
    return listAllKeys(this.db);
  }

  /** Creates the first key of each purpose if there is none (once, across instances). */
  async ensureKeys(): Promise<void> {
    for (const purpose of ['access', 'refresh'] as const) {
      if (await findCurrentKey(this.db, purpose)) continue;
      await this.db.transaction(async (tx) => {
        await lockKeyTable(tx);
        if (await findCurrentKey(tx, purpose)) return;
        // Nothing has ever signed for this purpose, so there is no verifier to publish ahead to.
        await this.createKey(tx, purpose, 'current');
      });
    }
  }

  /** Starts a rotation: a next key, published now, signing after KEY_PUBLISH_AHEAD. */
  async rotate(purpose: KeyPurpose): Promise<{ kid: string; activatesAt: Date; created: boolean }> {
    return this.db.transaction(async (tx) => {
      await lockKeyTable(tx);
      const keys = await listAllKeys(tx);
      const plan = planRotation(keys, purpose, await dbNow(tx), this.settings.rotation);
      if (!plan || plan.kind !== 'create-next') {
        const pending = keys.find((k) => k.purpose === purpose && k.state === 'next')!;
        return { kid: pending.kid, activatesAt: pending.activatesAt, created: false };
      }
      const kid = await this.createKey(tx, purpose, 'next', plan.activatesAt);
      return { kid, activatesAt: plan.activatesAt, created: true };
    });
  }

  /** Promotes due keys and starts automatic rotations; safe to call from every instance. */
  async tick(): Promise<KeyTransition[]> {
    // A cheap read first: most ticks have nothing to do and should not take the lock.
    const preview = planTick(await listAllKeys(this.db), await dbNow(this.db), this.settings.rotation);
    if (preview.length === 0) return [];
    return this.db.transaction(async (tx) => {
      await lockKeyTable(tx);
      const plan = planTick(await listAllKeys(tx), await dbNow(tx), this.settings.rotation);
      for (const step of plan) await this.apply(tx, step);
      return plan;
    });
  }

  /** Revokes a key at once; if it was signing, the pending key or a fresh one takes over now. */
  async revoke(kid: string): Promise<RevocationPlan & { replacement?: string }> {
    return this.db.transaction(async (tx) => {
      await lockKeyTable(tx);
      const plan = planRevocation(await listAllKeys(tx), kid);
      if (plan.kind !== 'revoke') return plan;
      await revokeKey(tx, kid);
      await this.event(tx, { type: 'key_revoked', kid, purpose: plan.purpose });
      if (!plan.wasCurrent) return plan;
      // The emergency path: tokens of the revoked key fail until verifiers refetch.
      let replacement = plan.promote;
      if (replacement) {
        await promoteKey(tx, replacement);
        await this.event(tx, {
          type: 'key_activated',
          kid: replacement,
          purpose: plan.purpose,
          detail: { early: true },
        });
      } else {
        replacement = await this.createKey(tx, plan.purpose, 'current');
      }
      return { ...plan, replacement };
    });
  }

  private async apply(tx: Queryable, step: KeyTransition): Promise<void> {
    if (step.kind === 'create-next') {
      await this.createKey(tx, step.purpose, 'next', step.activatesAt);
      return;
    }
    if (step.retire) {
      await retireKey(tx, step.retire, step.retiredExpiresAt);
      await this.event(tx, {
        type: 'key_retired',
        kid: step.retire,
        purpose: step.purpose,
        detail: { expires_at: step.retiredExpiresAt.toISOString() },
      });
    }
    await promoteKey(tx, step.promote);
    await this.event(tx, { type: 'key_activated', kid: step.promote, purpose: step.purpose });
  }

  private async createKey(
    tx: Queryable,
    purpose: KeyPurpose,
    state: 'next' | 'current',
    activatesAt?: Date,
  ): Promise<string> {
    // Changing SIGNING_ALG takes effect here, at the next key created.
    const generated = await generateSigningKey(this.settings.signingAlg);
    await insertKey(tx, {
      kid: generated.kid,
      purpose,
      alg: generated.alg,
      state,
      publicJwk: generated.publicJwk,
      privateKeyEnc: this.box.seal(JSON.stringify(generated.privateJwk), privateKeyAad(purpose, generated.kid)),
      ...(activatesAt ? { activatesAt } : {}),
    });
    await this.event(tx, { type: 'key_created', kid: generated.kid, purpose, detail: { alg: generated.alg, state } });
    if (state === 'current') await this.event(tx, { type: 'key_activated', kid: generated.kid, purpose });
    return generated.kid;
  }
}

/** The database's clock, so instances with skewed clocks still agree on key times. */
async function dbNow(db: Queryable): Promise<Date> {
  const [row] = await db.query<{ now: Date }>('SELECT now() AS now');
  return new Date(row!.now);
}
