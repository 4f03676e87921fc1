// Second factors. A user's factors: TOTP secrets
// sealed with the master key (AAD "mfa-totp:<user id>:<factor id>", so a secret copied onto
// another user or factor fails to open) and counted only once confirmed; passkeys by
// credential id with their public key and signature counter. Recovery codes are hashed,
// single-use, one set per user. A login waiting for its second step is an mfa_logins row
// keyed by the hash of its mfa_token, bound to the client and IP, spent once.
// WebAuthn challenges are stored server-side and single-use. The recovery codes' HMAC key
// is made once and kept sealed in sealed_secrets.
import type { MigrationInterface, QueryRunner } from 'typeorm';

export class SecondFactors1765238400000 implements MigrationInterface {
  name = 'SecondFactors1765238400000';

  async up(db: QueryRunner): Promise<void> {
    await db.query(`
      CREATE TABLE mfa_factors (
        id uuid PRIMARY KEY DEFAULT gen_random_uuid(),
        user_id uuid NOT NULL REFERENCES users (id) ON DELETE CASCADE,
        kind text NOT NULL CHECK (kind IN ('totp', 'webauthn')),
        label text NOT NULL CHECK (length(label) BETWEEN 1 AND 64),
        created_at timestamptz NOT NULL DEFAULT now(),
        confirmed_at timestamptz,
        last_used_at timestamptz,
        totp_secret text,
        totp_last_step bigint,
        credential_id bytea,
        public_key bytea,
        sign_count bigint,
        transports text[],
        CONSTRAINT mfa_factors_totp CHECK ((kind = 'totp') = (totp_secret IS NOT NULL)),
        CONSTRAINT mfa_factors_webauthn CHECK (
          (kind = 'webauthn') = (credential_id IS NOT NULL AND public_key IS NOT NULL AND sign_count IS NOT NULL))
      )`);
    await db.query('CREATE INDEX mfa_factors_user ON mfa_factors (user_id)');
    await db.query(
      'CREATE UNIQUE INDEX mfa_factors_credential ON mfa_factors (credential_id) WHERE credential_id IS NOT NULL',
    );
    await db.query(`
      CREATE TABLE mfa_recovery_codes (
        user_id uuid NOT NULL REFERENCES users (id) ON DELETE CASCADE,
        code_hash bytea NOT NULL,
        created_at timestamptz NOT NULL DEFAULT now(),
        used_at timestamptz,
        PRIMARY KEY (user_id, code_hash)
      )`);
    await db.query(`
      CREATE TABLE mfa_logins (
        token_hash bytea PRIMARY KEY,
        user_id uuid NOT NULL REFERENCES users (id) ON DELETE CASCADE,
        client_id text NOT NULL,
        ip inet NOT NULL,
        request jsonb NOT NULL,
        attempts integer NOT NULL DEFAULT 0,
        created_at timestamptz NOT NULL DEFAULT now(),
        expires_at timestamptz NOT NULL,
        spent_at timestamptz
      )`);
    await db.query('CREATE INDEX mfa_logins_expiry ON mfa_logins (expires_at)');
    await db.query(`
      CREATE TABLE webauthn_challenges (
        challenge text PRIMARY KEY,
        user_id uuid REFERENCES users (id) ON DELETE CASCADE,
        purpose text NOT NULL CHECK (purpose IN ('register', 'authenticate', 'passwordless')),
        created_at timestamptz NOT NULL DEFAULT now(),
        expires_at timestamptz NOT NULL,
        used_at timestamptz
      )`);
    await db.query('CREATE INDEX webauthn_challenges_expiry ON webauthn_challenges (expires_at)');
    // Keys made once and kept sealed with the master key (rewrapped with the signing keys):
    // the recovery codes' HMAC key must outlive a master key rotation, so it cannot be derived from it.
    await db.query(`
      CREATE TABLE sealed_secrets (
        name text PRIMARY KEY,
        sealed text NOT NULL,
        created_at timestamptz NOT NULL DEFAULT now()
      )`);
  }

  async down(db: QueryRunner): Promise<void> {
    await db.query('DROP TABLE sealed_secrets');
    await db.query('DROP TABLE webauthn_challenges');
    await db.query('DROP TABLE mfa_logins');
    await db.query('DROP TABLE mfa_recovery_codes');
    await db.query('DROP TABLE mfa_factors');
  }
}
