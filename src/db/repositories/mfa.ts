// The one place that reads and writes second factors: mfa_factors (TOTP secrets sealed,
// passkeys by credential id), mfa_recovery_codes (keyed hashes), mfa_logins (a login
// waiting for its second step) and webauthn_challenges. Every single-use thing is spent
// by one UPDATE ... WHERE not yet spent, so of parallel requests exactly one wins.
import type { Queryable } from '../database.js';
import { isUuid } from '../../domain/identifiers.js';

export type FactorKind = 'totp' | 'webauthn';

export interface FactorRow {
  id: string;
  user_id: string;
  kind: FactorKind;
  label: string;
  created_at: Date;
  confirmed_at: Date | null;
  last_used_at: Date | null;
  totp_secret: string | null;
  totp_last_step: string | null;
  credential_id: Buffer | null;
  public_key: Buffer | null;
  sign_count: string | null;
  transports: string[] | null;
}

/** A user's factors, oldest first; `confirmedOnly`: those that count at login. */
export async function listFactors(db: Queryable, userId: string, confirmedOnly = false): Promise<FactorRow[]> {
  if (!isUuid(userId)) return [];
  return db.query<FactorRow>(
    `SELECT * FROM mfa_factors WHERE user_id = $1 ${confirmedOnly ? 'AND confirmed_at IS NOT NULL' : ''}
      ORDER BY created_at, id`,
    [userId],
  );
}

/**
 * A TOTP factor waiting for its first code. A restarted enrolment replaces the pending one,
 * so at most one unconfirmed secret exists per user.
 */
export async function insertPendingTotp(
  db: Queryable,
  f: { id: string; userId: string; label: string; sealedSecret: string },
): Promise<void> {
  await db.query(`DELETE FROM mfa_factors WHERE user_id = $1 AND kind = 'totp' AND confirmed_at IS NULL`, [f.userId]);
  await db.query(`INSERT INTO mfa_factors (id, user_id, kind, label, totp_secret) VALUES ($1, $2, 'totp', $3, $4)`, [
    f.id,
    f.userId,
    f.label,
    f.sealedSecret,
  ]);
}

/** The user's pending TOTP factor, if it was started within `maxAgeSeconds`. */
export async function findPendingTotp(db: Queryable, userId: string, maxAgeSeconds: number): Promise<FactorRow | null> {
  const rows = await db.query<FactorRow>(
    `SELECT * FROM mfa_factors WHERE user_id = $1 AND kind = 'totp' AND confirmed_at IS NULL
        AND created_at > now() - make_interval(secs => $2)`,
    [userId, maxAgeSeconds],
  );
  return rows[0] ?? null;
}

/** Confirms a pending TOTP factor with the step its first code matched; false if already done. */
export async function confirmTotp(db: Queryable, id: string, step: number): Promise<boolean> {
  const rows = await db.query(
    `UPDATE mfa_factors SET confirmed_at = now(), last_used_at = now(), totp_last_step = $2
      WHERE id = $1 AND kind = 'totp' AND confirmed_at IS NULL RETURNING id`,
    [id, step],
  );
  return rows.length === 1;
}

/**
 * Moves a TOTP factor's last used step forward to `step`. False when that step (or a later
 * one) was already used: the code is a replay, or a parallel request with it won.
 */
export async function advanceTotpStep(db: Queryable, id: string, step: number): Promise<boolean> {
  const rows = await db.query(
    `UPDATE mfa_factors SET totp_last_step = $2, last_used_at = now()
      WHERE id = $1 AND kind = 'totp' AND confirmed_at IS NOT NULL
        AND (totp_last_step IS NULL OR totp_last_step < $2) RETURNING id`,
    [id, step],
  );
  return rows.length === 1;
}

export async function insertPasskey(
  db: Queryable,
  f: {
    userId: string;
    label: string;
    credentialId: Buffer;
    publicKey: Buffer;
    signCount: number;
    transports: string[];
  },
): Promise<FactorRow> {
  const rows = await db.query<FactorRow>(
    `INSERT INTO mfa_factors (user_id, kind, label, confirmed_at, credential_id, public_key, sign_count, transports)
     VALUES ($1, 'webauthn', $2, now(), $3, $4, $5, $6) RETURNING *`,
    [f.userId, f.label, f.credentialId, f.publicKey, f.signCount, f.transports],
  );
  return rows[0]!;
}

export async function findPasskey(db: Queryable, credentialId: Buffer): Promise<FactorRow | null> {
  const rows = await db.query<FactorRow>(
    `SELECT * FROM mfa_factors WHERE credential_id = $1 AND kind = 'webauthn' AND confirmed_at IS NOT NULL`,
    [credentialId],
  );
  return rows[0] ?? null;
}

/** Compare-and-set of a passkey's signature counter: false when another use moved it first. */
export async function advanceSignCount(db: Queryable, id: string, from: number, to: number): Promise<boolean> {
  const rows = await db.query(
    `UPDATE mfa_factors SET sign_count = $3, last_used_at = now() WHERE id = $1 AND sign_count = $2 RETURNING id`,
    [id, from, to],
  );
  return rows.length === 1;
}

/** Removes one of the user's factors; its kind, or null when it was not theirs. */
export async function deleteFactor(db: Queryable, userId: string, id: string): Promise<FactorKind | null> {
  if (!isUuid(id) || !isUuid(userId)) return null;
  const rows = await db.query<{ kind: FactorKind }>(
    'DELETE FROM mfa_factors WHERE id = $1 AND user_id = $2 RETURNING kind',
    [id, userId],
  );
  return rows[0]?.kind ?? null;
}

/** Every factor and recovery code of a user (admin reset); how many factors went. */
export async function deleteAllFactors(db: Queryable, userId: string): Promise<number> {
  const rows = await db.query('DELETE FROM mfa_factors WHERE user_id = $1 RETURNING id', [userId]);
  await db.query('DELETE FROM mfa_recovery_codes WHERE user_id = $1', [userId]);
  return rows.length;
}

/** A new set of recovery code hashes in place of the old set (call inside a transaction). */
export async function replaceRecoveryCodes(db: Queryable, userId: string, hashes: Buffer[]): Promise<void> {
  await db.query('DELETE FROM mfa_recovery_codes WHERE user_id = $1', [userId]);
  await db.query('INSERT INTO mfa_recovery_codes (user_id, code_hash) SELECT $1, h FROM unnest($2::bytea[]) AS h', [
    userId,
    hashes,
  ]);
}

/** Spends a recovery code: true once, for the first of any number of parallel uses. */
export async function useRecoveryCode(db: Queryable, userId: string, hash: Buffer): Promise<boolean> {
  const rows = await db.query(
    `UPDATE mfa_recovery_codes SET used_at = now() WHERE user_id = $1 AND code_hash = $2 AND used_at IS NULL
     RETURNING user_id`,
    [userId, hash],
  );
  return rows.length === 1;
}

export async function unusedRecoveryCodes(db: Queryable, userId: string): Promise<number> {
  const rows = await db.query<{ n: number }>(
    'SELECT count(*)::int AS n FROM mfa_recovery_codes WHERE user_id = $1 AND used_at IS NULL',
    [userId],
  );
  return rows[0]?.n ?? 0;
}

/** What an mfa_token stands for until its second step: the login's request, as first checked. */
export interface MfaLoginRow {
  user_id: string;
  client_id: string;
  ip: string;
  request: Record<string, unknown>;
  attempts: number;
  expires_at: Date;
}

export async function insertMfaLogin(
  db: Queryable,
  m: { tokenHash: Buffer; userId: string; clientId: string; ip: string; request: object; ttlSeconds: number },
): Promise<void> {
  await db.query(
    `INSERT INTO mfa_logins (token_hash, user_id, client_id, ip, request, expires_at)
     VALUES ($1, $2, $3, $4, $5, now() + make_interval(secs => $6))`,
    [m.tokenHash, m.userId, m.clientId, m.ip, JSON.stringify(m.request), m.ttlSeconds],
  );
}

/**
 * Reserves one attempt on a live mfa_token from the IP it was issued to, only while fewer
 * than `limit` were made: parallel guesses cannot get more than `limit` checks.
 */
export async function reserveMfaAttempt(
  db: Queryable,
  tokenHash: Buffer,
  ip: string,
  limit: number,
): Promise<MfaLoginRow | null> {
  const rows = await db.query<MfaLoginRow>(
    `UPDATE mfa_logins SET attempts = attempts + 1
      WHERE token_hash = $1 AND ip = $2::inet AND spent_at IS NULL AND expires_at > now() AND attempts < $3
      RETURNING user_id, client_id, host(ip) AS ip, request, attempts, expires_at`,
    [tokenHash, ip, limit],
  );
  return rows[0] ?? null;
}

/** Spends an mfa_token: true once (the login completes, or its attempts ran out). */
export async function spendMfaLogin(db: Queryable, tokenHash: Buffer): Promise<boolean> {
  const rows = await db.query(
    'UPDATE mfa_logins SET spent_at = now() WHERE token_hash = $1 AND spent_at IS NULL RETURNING user_id',
    [tokenHash],
  );
  return rows.length === 1;
}

export type ChallengePurpose = 'register' | 'authenticate' | 'passwordless';

export async function insertChallenge(
  db: Queryable,
  c: { challenge: string; userId: string | null; purpose: ChallengePurpose; ttlSeconds: number },
): Promise<void> {
  await db.query(
    `INSERT INTO webauthn_challenges (challenge, user_id, purpose, expires_at)
     VALUES ($1, $2, $3, now() + make_interval(secs => $4))`,
    [c.challenge, c.userId, c.purpose, c.ttlSeconds],
  );
}

/**
 * Spends a live challenge of this purpose (and user, when one is named): the user it was
 * made for (null for a passwordless one), or undefined when it is unknown, used or expired.
 */
export async function consumeChallenge(
  db: Queryable,
  challenge: string,
  purpose: ChallengePurpose,
  userId: string | null,
): Promise<{ userId: string | null } | undefined> {
  const rows = await db.query<{ user_id: string | null }>(
    `UPDATE webauthn_challenges SET used_at = now()
      WHERE challenge = $1 AND purpose = $2 AND used_at IS NULL AND expires_at > now()
        AND user_id IS NOT DISTINCT FROM $3::uuid
      RETURNING user_id`,
    [challenge, purpose, userId],
  );
  return rows[0] ? { userId: rows[0].user_id } : undefined;
}

/** Housekeeping: mfa_tokens and challenges an hour past their expiry. */
export async function pruneMfa(db: Queryable): Promise<void> {
  await db.query(`DELETE FROM mfa_logins WHERE expires_at < now() - interval '1 hour'`);
  await db.query(`DELETE FROM webauthn_challenges WHERE expires_at < now() - interval '1 hour'`);
}

/** Every sealed TOTP secret, for a master key rotation (rewrap). */
export async function listSealedTotp(db: Queryable): Promise<{ id: string; user_id: string; totp_secret: string }[]> {
  return db.query(`SELECT id, user_id, totp_secret FROM mfa_factors WHERE kind = 'totp'`);
}

/** Compare-and-set of one sealed secret: false when the row changed meanwhile. */
export async function replaceSealedTotp(db: Queryable, id: string, from: string, to: string): Promise<boolean> {
  const rows = await db.query(
    'UPDATE mfa_factors SET totp_secret = $3 WHERE id = $1 AND totp_secret = $2 RETURNING id',
    [id, from, to],
  );
  return rows.length === 1;
}

/**
 * A named secret made once for the whole service: `candidate` is stored unless another
 * instance stored one first; either way the stored one is returned.
 */
export async function ensureSealedSecret(db: Queryable, name: string, candidate: string): Promise<string> {
  await db.query('INSERT INTO sealed_secrets (name, sealed) VALUES ($1, $2) ON CONFLICT (name) DO NOTHING', [
    name,
    candidate,
  ]);
  const rows = await db.query<{ sealed: string }>('SELECT sealed FROM sealed_secrets WHERE name = $1', [name]);
  return rows[0]!.sealed;
}

export async function listSealedSecrets(db: Queryable): Promise<{ name: string; sealed: string }[]> {
  return db.query('SELECT name, sealed FROM sealed_secrets ORDER BY name');
}

export async function replaceSealedSecret(db: Queryable, name: string, from: string, to: string): Promise<boolean> {
  const rows = await db.query('UPDATE sealed_secrets SET sealed = $3 WHERE name = $1 AND sealed = $2 RETURNING name', [
    name,
    from,
    to,
  ]);
  return rows.length === 1;
}
