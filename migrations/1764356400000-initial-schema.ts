// Users, signing keys, sessions (refresh families) and security events.
import type { MigrationInterface, QueryRunner } from 'typeorm';

export class InitialSchema1764356400000 implements MigrationInterface {
  name = 'InitialSchema1764356400000';

  async up(db: QueryRunner): Promise<void> {
    await db.query(`
      CREATE TABLE users (
        id uuid PRIMARY KEY DEFAULT gen_random_uuid(),
        email text NOT NULL,
        password_hash text NOT NULL,
        roles text[] NOT NULL DEFAULT '{user}',
        disabled boolean NOT NULL DEFAULT false,
        created_at timestamptz NOT NULL DEFAULT now(),
        updated_at timestamptz NOT NULL DEFAULT now(),
        password_changed_at timestamptz NOT NULL DEFAULT now(),
        CONSTRAINT users_email_normalized CHECK (email = lower(btrim(email)) AND length(email) BETWEEN 3 AND 254),
        CONSTRAINT users_roles_known CHECK (roles <@ ARRAY['admin', 'moderator', 'user']::text[])
      )`);
    await db.query(`CREATE UNIQUE INDEX users_email_key ON users (email)`);

    await db.query(`
      CREATE TABLE signing_keys (
        kid text PRIMARY KEY,
        purpose text NOT NULL CHECK (purpose IN ('access', 'refresh')),
        alg text NOT NULL CHECK (alg IN ('ES256', 'EdDSA', 'RS256', 'PS256')),
        state text NOT NULL CHECK (state IN ('next', 'current', 'retired', 'revoked')),
        public_jwk jsonb NOT NULL,
        private_key_enc text NOT NULL,
        created_at timestamptz NOT NULL DEFAULT now(),
        activates_at timestamptz NOT NULL DEFAULT now(),
        activated_at timestamptz,
        retired_at timestamptz,
        expires_at timestamptz,
        revoked_at timestamptz
      )`);
    // Exactly one signing key per purpose, enforced by the database itself.
    await db.query(`CREATE UNIQUE INDEX signing_keys_one_current ON signing_keys (purpose) WHERE state = 'current'`);

    await db.query(`
      CREATE TABLE sessions (
        id uuid PRIMARY KEY DEFAULT gen_random_uuid(),
        user_id uuid NOT NULL REFERENCES users (id) ON DELETE CASCADE,
        client_id text NOT NULL,
        scope text NOT NULL,
        audience text NOT NULL,
        auth_time timestamptz NOT NULL,
        created_at timestamptz NOT NULL DEFAULT now(),
        last_used_at timestamptz NOT NULL DEFAULT now(),
        expires_at timestamptz NOT NULL,
        current_jti uuid NOT NULL,
        current_issued_at timestamptz NOT NULL DEFAULT now(),
        previous_jti uuid,
        rotated_at timestamptz,
        ended_at timestamptz,
        end_reason text,
        user_agent text,
        ip text
      )`);
    await db.query(`CREATE INDEX sessions_user_live ON sessions (user_id) WHERE ended_at IS NULL`);
    await db.query(`CREATE INDEX sessions_ended_at ON sessions (ended_at) WHERE ended_at IS NOT NULL`);

    await db.query(`
      CREATE TABLE security_events (
        id bigserial PRIMARY KEY,
        created_at timestamptz NOT NULL DEFAULT now(),
        type text NOT NULL,
        user_id uuid,
        session_id uuid,
        ip text,
        detail jsonb NOT NULL DEFAULT '{}'::jsonb
      )`);
    await db.query(`CREATE INDEX security_events_type_time ON security_events (type, created_at)`);
  }

  async down(db: QueryRunner): Promise<void> {
    await db.query('DROP TABLE security_events');
    await db.query('DROP TABLE sessions');
    await db.query('DROP TABLE signing_keys');
    await db.query('DROP TABLE users');
  }
}
