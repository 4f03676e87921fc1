// Registered (confidential) clients, and the time a user's sessions were last ended
// wholesale (disable, role change, password change), for GET /oauth/revoked.
import type { MigrationInterface, QueryRunner } from 'typeorm';

export class ClientsAndRevocations1764529200000 implements MigrationInterface {
  name = 'ClientsAndRevocations1764529200000';

  async up(db: QueryRunner): Promise<void> {
    await db.query(`
      CREATE TABLE clients (
        id text PRIMARY KEY,
        name text NOT NULL,
        secret_hash text NOT NULL,
        grant_types text[] NOT NULL,
        scopes text[] NOT NULL,
        can_introspect boolean NOT NULL DEFAULT false,
        disabled boolean NOT NULL DEFAULT false,
        created_at timestamptz NOT NULL DEFAULT now(),
        CONSTRAINT clients_grants_known CHECK (grant_types <@ ARRAY['client_credentials']::text[])
      )`);
    await db.query('ALTER TABLE users ADD COLUMN sessions_revoked_at timestamptz');
    await db.query(
      'CREATE INDEX users_sessions_revoked_at ON users (sessions_revoked_at) WHERE sessions_revoked_at IS NOT NULL',
    );
  }

  async down(db: QueryRunner): Promise<void> {
    await db.query('ALTER TABLE users DROP COLUMN sessions_revoked_at');
    await db.query('DROP TABLE clients');
  }
}
