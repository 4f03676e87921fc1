// The one place that reads and writes signing_keys.
import type { Queryable } from '../database.js';
import type { KeyPurpose, KeyRecord, KeyState } from '../../domain/keys/key-states.js';
import type { PublicJwk } from '../../domain/keys/key-material.js';

export interface StoredKey extends KeyRecord {
  publicJwk: PublicJwk;
  privateKeyEnc: string;
}

interface Row {
  kid: string;
  purpose: KeyPurpose;
  alg: string;
  state: KeyState;
  public_jwk: PublicJwk;
  private_key_enc: string;
  created_at: Date;
  activates_at: Date;
  activated_at: Date | null;
  retired_at: Date | null;
  expires_at: Date | null;
  revoked_at: Date | null;
}

const toKey = (r: Row): StoredKey => ({
  kid: r.kid,
  purpose: r.purpose,
  alg: r.alg,
  state: r.state,
  publicJwk: r.public_jwk,
  privateKeyEnc: r.private_key_enc,
  createdAt: new Date(r.created_at),
  activatesAt: new Date(r.activates_at),
  activatedAt: r.activated_at ? new Date(r.activated_at) : null,
  retiredAt: r.retired_at ? new Date(r.retired_at) : null,
  expiresAt: r.expires_at ? new Date(r.expires_at) : null,
  revokedAt: r.revoked_at ? new Date(r.revoked_at) : null,
});

/** Every key that can still matter: not revoked and not past retention. */
export async function listLiveKeys(db: Queryable): Promise<StoredKey[]> {
  const rows = await db.query<Row>(
    `SELECT * FROM signing_keys
      WHERE state <> 'revoked' AND (expires_at IS NULL OR expires_at > now())
      ORDER BY created_at DESC`,
  );
  return rows.map(toKey);
}

export async function listAllKeys(db: Queryable): Promise<StoredKey[]> {
  return (await db.query<Row>('SELECT * FROM signing_keys ORDER BY created_at DESC')).map(toKey);
}

export async function findCurrentKey(db: Queryable, purpose: KeyPurpose): Promise<StoredKey | undefined> {
  const rows = await db.query<Row>(`SELECT * FROM signing_keys WHERE purpose = $1 AND state = 'current'`, [purpose]);
  return rows[0] ? toKey(rows[0]) : undefined;
}

export async function insertKey(
  db: Queryable,
  key: {
    kid: string;
    purpose: KeyPurpose;
    alg: string;
    state: 'next' | 'current';
    publicJwk: PublicJwk;
    privateKeyEnc: string;
    activatesAt?: Date;
  },
): Promise<void> {
  await db.query(
    `INSERT INTO signing_keys (kid, purpose, alg, state, public_jwk, private_key_enc, activates_at, activated_at)
     VALUES ($1, $2, $3, $4::text, $5::jsonb, $6, COALESCE($7::timestamptz, now()), CASE WHEN $4::text = 'current' THEN now() END)`,
    [
      key.kid,
      key.purpose,
      key.alg,
      key.state,
      JSON.stringify(key.publicJwk),
      key.privateKeyEnc,
      key.activatesAt ?? null,
    ],
  );
}

/** current -> retired, trusted until every token it signed has expired. */
export async function retireKey(tx: Queryable, kid: string, expiresAt: Date): Promise<void> {
  await tx.query(
    `UPDATE signing_keys SET state = 'retired', retired_at = now(), expires_at = $2 WHERE kid = $1 AND state = 'current'`,
    [kid, expiresAt],
  );
}

/** next -> current. The partial unique index refuses a second current key. */
export async function promoteKey(tx: Queryable, kid: string): Promise<void> {
  await tx.query(`UPDATE signing_keys SET state = 'current', activated_at = now() WHERE kid = $1 AND state = 'next'`, [
    kid,
  ]);
}

export async function revokeKey(tx: Queryable, kid: string): Promise<void> {
  await tx.query(
    `UPDATE signing_keys SET state = 'revoked', revoked_at = now() WHERE kid = $1 AND state <> 'revoked'`,
    [kid],
  );
}

/** Replaces a sealed private key only if it is still the value that was read. */
export async function replaceSealedKey(db: Queryable, kid: string, from: string, to: string): Promise<boolean> {
  const rows = await db.query(
    `UPDATE signing_keys SET private_key_enc = $3 WHERE kid = $1 AND private_key_enc = $2 RETURNING kid`,
    [kid, from, to],
  );
  return rows.length === 1;
}

/** Serializes key creation across instances for the rest of the transaction. */
export async function lockKeyTable(tx: Queryable): Promise<void> {
  await tx.query('SELECT pg_advisory_xact_lock($1)', ['7246001455018114']);
}
