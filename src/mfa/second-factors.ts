// A user's second factors: TOTP enrolment (secret made here, sealed with the master key
// and bound to the user and factor, counting only once a first code confirms it),
// passkeys, recovery codes, and the one check every second step goes through. Counting
// failures is the caller's (the credential guard's); replay is refused here, atomically.
import { randomBytes, randomUUID } from 'node:crypto';
import type {
  AuthenticationResponseJSON,
  PublicKeyCredentialCreationOptionsJSON,
  RegistrationResponseJSON,
} from '@simplewebauthn/server';
import type { Config } from '../config/config.js';
import type { Database, Queryable } from '../db/database.js';
import type { SecretBox } from '../crypto/secret-box.js';
import {
  advanceTotpStep,
  confirmTotp,
  deleteAllFactors,
  deleteFactor,
  ensureSealedSecret,
  findPendingTotp,
  insertPendingTotp,
  listFactors,
  replaceRecoveryCodes,
  unusedRecoveryCodes,
  useRecoveryCode,
  type FactorRow,
} from '../db/repositories/mfa.js';
import { endUserSessions, markSessionMultiFactor } from '../db/repositories/sessions.js';
import { recordSecurityEvent } from '../audit/audit-log.js';
import { TesseraError } from '../errors/errors.js';
import { sealedSecretAad, totpAad } from '../domain/mfa/sealing.js';
import { matchTotp, newTotpSecret, totpQrSvg, totpUri } from '../domain/mfa/totp.js';
import { hashRecoveryCode, newRecoveryCodes, normaliseRecoveryCode } from '../domain/mfa/recovery-codes.js';
import { requiresSecondFactor, secondStepAmr, type SecondFactorMethod } from '../domain/mfa/policy.js';
import type { MailQueue } from '../users/register-user.js';
import type { Verdict } from '../defences/credential-guard.js';
import {
  authenticationOptions,
  registerPasskey,
  registrationOptions,
  verifyAssertion,
  type RelyingParty,
} from './webauthn.js';

export interface SecondFactorDeps {
  db: Database;
  box: SecretBox;
  mail: MailQueue;
  config: Pick<Config, 'issuer' | 'pages' | 'mfa'>;
}

/** A factor as its owner and admins see it: never the secret or the public key. */
export interface FactorView {
  id: string;
  kind: 'totp' | 'webauthn';
  label: string;
  created_at: string;
  last_used_at: string | null;
}

/** How long a started TOTP enrolment waits for its first code, seconds. */
const PENDING_TOTP_TTL = 900;
/** At most this many confirmed factors per account. */
const MAX_FACTORS = 10;

const view = (f: FactorRow): FactorView => ({
  id: f.id,
  kind: f.kind,
  label: f.label,
  created_at: new Date(f.created_at).toISOString(),
  last_used_at: f.last_used_at ? new Date(f.last_used_at).toISOString() : null,
});

/** A new set of recovery codes for the user, stored as HMACs under `key`; the codes, this once. */
async function storeRecoveryCodes(tx: Queryable, key: Buffer, userId: string): Promise<string[]> {
  const codes = newRecoveryCodes();
  await replaceRecoveryCodes(
    tx,
    userId,
    codes.map((c) => hashRecoveryCode(key, userId, normaliseRecoveryCode(c)!)),
  );
  return codes;
}

export interface Actor {
  userId: string;
  /** The session the request came with; its next tokens count as multi-factor after a first enrolment. */
  sessionId: string | undefined;
  ip: string | null;
}

const RECOVERY_KEY = 'recovery_codes';

export class SecondFactors {
  private recoveryKey: Promise<Buffer> | undefined;

  constructor(private readonly deps: SecondFactorDeps) {}

  /**
   * The recovery codes' HMAC key: 256 random bits made once for the service and kept
   * sealed, so a database dump without the master key cannot test guesses offline.
   */
  private recoverySecret(): Promise<Buffer> {
    this.recoveryKey ??= (async () => {
      const { box, db } = this.deps;
      const aad = sealedSecretAad(RECOVERY_KEY);
      const sealed = await ensureSealedSecret(db, RECOVERY_KEY, box.seal(randomBytes(32), aad));
      return box.open(sealed, aad);
    })();
    this.recoveryKey.catch(() => (this.recoveryKey = undefined));
    return this.recoveryKey;
  }

  get relyingParty(): RelyingParty {
    return {
      rpId: this.deps.config.mfa.rpId,
      origins: this.deps.config.mfa.origins,
      name: this.deps.config.pages.brandName,
    };
  }

  async overview(userId: string): Promise<{ factors: FactorView[]; recovery_codes_remaining: number }> {
    const [factors, remaining] = await Promise.all([
      listFactors(this.deps.db, userId, true),
      unusedRecoveryCodes(this.deps.db, userId),
    ]);
    return { factors: factors.map(view), recovery_codes_remaining: remaining };
  }

  /** The second-step methods an account offers at login; empty: no confirmed factor. */
  async methods(userId: string): Promise<{ methods: SecondFactorMethod[]; passkeys: FactorRow[] }> {
    const factors = await listFactors(this.deps.db, userId, true);
    if (factors.length === 0) return { methods: [], passkeys: [] };
    const methods: SecondFactorMethod[] = [];
    if (factors.some((f) => f.kind === 'totp')) methods.push('totp');
    const passkeys = factors.filter((f) => f.kind === 'webauthn');
    if (passkeys.length > 0) methods.push('webauthn');
    if ((await unusedRecoveryCodes(this.deps.db, userId)) > 0) methods.push('recovery_code');
    return { methods, passkeys };
  }

  /** POST /users/me/mfa/totp: a new secret, shown this once; it counts after its first code. */
  async startTotp(user: { id: string; email: string }, label = 'Authenticator app') {
    await this.belowLimit(user.id);
    const id = randomUUID();
    const secret = newTotpSecret();
    await insertPendingTotp(this.deps.db, {
      id,
      userId: user.id,
      label,
      sealedSecret: this.deps.box.seal(secret, totpAad(user.id, id)),
    });
    const uri = totpUri(secret, this.deps.config.pages.brandName, user.email);
    return { id, secret, otpauth_uri: uri, qr_svg: totpQrSvg(uri) };
  }

  /** POST /users/me/mfa/totp/confirm: the pending secret's first code. */
  async confirmTotp(user: { id: string; email: string }, code: string, actor: Actor) {
    const pending = await findPendingTotp(this.deps.db, user.id, PENDING_TOTP_TTL);
    if (!pending) throw new TesseraError('invalid_request', { description: 'No TOTP enrolment is waiting for a code' });
    const secret = this.deps.box.open(pending.totp_secret!, totpAad(user.id, pending.id)).toString('utf8');
    const step = await matchTotp(secret, code, null);
    if (step === null) throw new TesseraError('invalid_code', { detail: 'enrolment code did not match' });
    if (!(await confirmTotp(this.deps.db, pending.id, step)))
      throw new TesseraError('invalid_request', { description: 'No TOTP enrolment is waiting for a code' });
    return this.enrolled(user, { ...pending, confirmed_at: new Date() }, actor, ['otp']);
  }

  async passkeyOptions(user: { id: string; email: string }): Promise<PublicKeyCredentialCreationOptionsJSON> {
    await this.belowLimit(user.id);
    return registrationOptions(this.deps.db, this.relyingParty, user, await listFactors(this.deps.db, user.id, true));
  }

  async registerPasskey(
    user: { id: string; email: string },
    response: RegistrationResponseJSON,
    label: string,
    actor: Actor,
  ) {
    await this.belowLimit(user.id);
    const result = await registerPasskey(this.deps.db, this.relyingParty, user.id, response, label);
    if (!result.ok)
      throw new TesseraError('invalid_request', {
        description: 'The passkey could not be registered',
        detail: `passkey registration refused: ${result.reason}`,
      });
    return this.enrolled(user, result.value, actor, ['hwk', 'user']);
  }

  /** A confirmed factor: audited, mailed; the first one brings recovery codes and upgrades the session. */
  private async enrolled(user: { id: string; email: string }, factor: FactorRow, actor: Actor, amr: string[]) {
    const { db } = this.deps;
    const factors = await listFactors(db, user.id, true);
    const first = factors.length === 1;
    // Read before the transaction: inside it, the embedded database has no second connection.
    const key = first ? await this.recoverySecret() : undefined;
    let recoveryCodes: string[] | undefined;
    await db.transaction(async (tx) => {
      if (key) recoveryCodes = await storeRecoveryCodes(tx, key, user.id);
      if (first && actor.sessionId) await markSessionMultiFactor(tx, actor.sessionId, user.id, [...amr, 'mfa']);
      await recordSecurityEvent(tx, {
        type: 'mfa_enrolled',
        userId: user.id,
        actor: actor.userId,
        ip: actor.ip,
        detail: { kind: factor.kind, factor: factor.id, first },
      });
      await this.deps.mail.queue(tx, { to: user.email, kind: 'mfa_changed' });
    });
    return { factor: view(factor), ...(recoveryCodes ? { recovery_codes: recoveryCodes } : {}) };
  }

  /** POST /users/me/mfa/recovery-codes: ten new codes; the old set stops working. */
  async regenerateRecoveryCodes(user: { id: string; email: string }, actor: Actor): Promise<string[]> {
    if ((await listFactors(this.deps.db, user.id, true)).length === 0)
      throw new TesseraError('invalid_request', { description: 'Recovery codes need a second factor first' });
    const key = await this.recoverySecret();
    return this.deps.db.transaction(async (tx) => {
      const codes = await storeRecoveryCodes(tx, key, user.id);
      await this.deps.mail.queue(tx, { to: user.email, kind: 'mfa_changed' });
      await recordSecurityEvent(tx, {
        type: 'recovery_codes_generated',
        userId: user.id,
        actor: actor.userId,
        ip: actor.ip,
      });
      return codes;
    });
  }

  /** DELETE /users/me/mfa/{id}. The policy's accounts keep at least one factor. */
  async remove(user: { id: string; email: string; roles: string[] }, id: string, actor: Actor): Promise<void> {
    await this.deps.db.transaction(async (tx) => {
      const factors = await listFactors(tx, user.id, true);
      if (!factors.some((f) => f.id === id)) throw new TesseraError('not_found');
      if (factors.length === 1 && requiresSecondFactor(user.roles, this.deps.config.mfa))
        throw new TesseraError('invalid_request', {
          description: 'This account must keep a second factor: add another one before removing this one',
        });
      const kind = await deleteFactor(tx, user.id, id);
      if (!kind) throw new TesseraError('not_found');
      // Without a factor left, recovery codes would be a factor of their own.
      if (factors.length === 1) await replaceRecoveryCodes(tx, user.id, []);
      await recordSecurityEvent(tx, {
        type: 'mfa_removed',
        userId: user.id,
        actor: actor.userId,
        ip: actor.ip,
        detail: { kind, factor: id, remaining: factors.length - 1 },
      });
      await this.deps.mail.queue(tx, { to: user.email, kind: 'mfa_changed' });
    });
  }

  /** An admin's reset: every factor and recovery code goes, every session ends, the user is mailed. */
  async resetAll(target: { id: string; email: string }, actor: Actor): Promise<number> {
    return this.deps.db.transaction(async (tx) => {
      const removed = await deleteAllFactors(tx, target.id);
      const ended = await endUserSessions(tx, { userId: target.id, reason: 'mfa_reset' });
      await this.deps.mail.queue(tx, { to: target.email, kind: 'mfa_reset' });
      await recordSecurityEvent(tx, {
        type: 'mfa_reset',
        userId: target.id,
        actor: actor.userId,
        ip: actor.ip,
        detail: { factors_removed: removed, sessions_ended: ended },
      });
      return removed;
    });
  }

  /** Options for a second step by passkey, for this user's passkeys. */
  async assertionOptions(userId: string, passkeys: FactorRow[]) {
    return authenticationOptions(this.deps.db, this.relyingParty, { id: userId, passkeys });
  }

  /** Options for a passwordless sign-in with any discoverable passkey. */
  async passwordlessOptions() {
    return authenticationOptions(this.deps.db, this.relyingParty, null);
  }

  /** A passwordless assertion: the user it proves, or why not. */
  async checkPasswordless(assertion: AuthenticationResponseJSON): Promise<Verdict<{ userId: string }>> {
    const result = await verifyAssertion(this.deps.db, this.relyingParty, null, assertion);
    if (!result.ok) return { ok: false, reason: result.reason, userId: null };
    if (!result.value.userVerified)
      return { ok: false, reason: 'no user verification', userId: result.value.factor.user_id };
    return { ok: true, value: { userId: result.value.factor.user_id } };
  }

  /**
   * One second-step check: a TOTP code against the user's confirmed secrets (each step
   * used once), a recovery code (spent), or a passkey assertion (challenge spent, counter
   * moved). The amr it earns, or why not.
   */
  async check(
    userId: string,
    method: SecondFactorMethod,
    input: { code?: string | undefined; assertion?: AuthenticationResponseJSON | undefined },
  ): Promise<Verdict<{ amr: string[]; remaining?: number }>> {
    const fail = (reason: string): Verdict<never> => ({ ok: false, reason, userId });
    const { db } = this.deps;
    if (method === 'totp') {
      if (input.code === undefined) return fail('no code');
      const factors = (await listFactors(db, userId, true)).filter((f) => f.kind === 'totp');
      for (const f of factors) {
        const secret = this.secretOf(f);
        if (secret === null) continue;
        const last = f.totp_last_step === null ? null : Number(f.totp_last_step);
        const step = await matchTotp(secret, input.code, last);
        if (step === null) continue;
        if (await advanceTotpStep(db, f.id, step)) return { ok: true, value: { amr: secondStepAmr('totp') } };
        return fail('replayed code');
      }
      // A code of an earlier step than the last one used is a replay too: told apart for the log.
      for (const f of factors) {
        const secret = this.secretOf(f);
        if (secret !== null && (await matchTotp(secret, input.code, null)) !== null) return fail('replayed code');
      }
      return fail('wrong code');
    }
    if (method === 'recovery_code') {
      const normalised = input.code === undefined ? null : normaliseRecoveryCode(input.code);
      if (normalised === null) return fail('malformed recovery code');
      const key = await this.recoverySecret();
      if (!(await useRecoveryCode(db, userId, hashRecoveryCode(key, userId, normalised))))
        return fail('unknown or used recovery code');
      const remaining = await unusedRecoveryCodes(db, userId);
      await recordSecurityEvent(db, { type: 'recovery_code_used', userId, actor: userId, detail: { remaining } });
      return { ok: true, value: { amr: secondStepAmr('recovery_code'), remaining } };
    }
    if (input.assertion === undefined) return fail('no assertion');
    const result = await verifyAssertion(db, this.relyingParty, userId, input.assertion);
    if (!result.ok) return fail(result.reason);
    return { ok: true, value: { amr: secondStepAmr('webauthn') } };
  }

  /**
   * A factor's secret, or null when its seal does not open for this user and factor: a
   * value copied from another row, or a master key this instance does not hold.
   */
  private secretOf(f: FactorRow): string | null {
    try {
      return this.deps.box.open(f.totp_secret!, totpAad(f.user_id, f.id)).toString('utf8');
    } catch {
      return null;
    }
  }

  private async belowLimit(userId: string): Promise<void> {
    if ((await listFactors(this.deps.db, userId, true)).length >= MAX_FACTORS)
      throw new TesseraError('invalid_request', { description: `At most ${MAX_FACTORS} second factors per account` });
  }
}
