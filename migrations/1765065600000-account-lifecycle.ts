// Accounts and clients over their whole life: the mail outbox, one-time account tokens
// (email verification, password reset, invitation, email change), client secret
// rotation and disabling, and the revocations that outlive their rows (an erased user,
// a deleted or disabled client, a revoked client_credentials token) for GET /oauth/revoked.
import type { MigrationInterface, QueryRunner } from 'typeorm';

export class AccountLifecycle1765065600000 implements MigrationInterface {
  name = 'AccountLifecycle1765065600000';

  async up(db: QueryRunner): Promise<void> {
    // Mail waits here until an SMTP server took it, so a restart or an outage loses none.
    // The message (address, kind, one-time link) is sealed with the master key: a reset
    // link is a credential until it is used. Rows are deleted once delivered.
    await db.query(`
      CREATE TABLE mail_outbox (
        id uuid PRIMARY KEY DEFAULT gen_random_uuid(),
        kind text NOT NULL CHECK (kind ~ '^[a-z_]{1,64}$'),
        message text NOT NULL,
        created_at timestamptz NOT NULL DEFAULT now(),
        attempts integer NOT NULL DEFAULT 0 CHECK (attempts >= 0),
        next_attempt_at timestamptz NOT NULL DEFAULT now(),
        claimed_until timestamptz,
        last_error text
      )`);
    await db.query('CREATE INDEX mail_outbox_due ON mail_outbox (next_attempt_at)');

    // A one-time link's token: 256 random bits in the mail, its SHA-256 here. `email` is the
    // address the link was sent to (for an email change, the new one). One live token per
    // user and purpose, a newer request replacing the older one; except verification: each
    // registration of a not yet verified address has its own link, carrying the password
    // hash of that registration, so whoever owns the mailbox gets the account with the
    // password they chose, whoever registered the address first or last.
    await db.query(`
      CREATE TABLE account_tokens (
        token_hash text PRIMARY KEY CHECK (token_hash ~ '^[A-Za-z0-9_-]{43}$'),
        user_id uuid NOT NULL REFERENCES users (id) ON DELETE CASCADE,
        purpose text NOT NULL CHECK (purpose IN ('verify_email', 'password_reset', 'invitation', 'email_change')),
        email text NOT NULL,
        password_hash text CHECK ((purpose = 'verify_email') = (password_hash IS NOT NULL)),
        created_at timestamptz NOT NULL DEFAULT now(),
        expires_at timestamptz NOT NULL,
        used_at timestamptz
      )`);
    await db.query(
      `CREATE UNIQUE INDEX account_tokens_one_live ON account_tokens (user_id, purpose)
        WHERE used_at IS NULL AND purpose <> 'verify_email'`,
    );
    await db.query('CREATE INDEX account_tokens_user ON account_tokens (user_id)');
    await db.query('CREATE INDEX account_tokens_expires_at ON account_tokens (expires_at)');

    // Accounts from before verification existed were registered under the old rules:
    // they stay able to log in.
    await db.query('UPDATE users SET email_verified_at = created_at WHERE email_verified_at IS NULL');
    await db.query('CREATE INDEX users_unverified ON users (created_at) WHERE email_verified_at IS NULL');

    // A rotated secret keeps working until previous_secret_expires_at, so deployments can roll.
    await db.query(`
      ALTER TABLE clients
        ADD COLUMN previous_secret_hash text,
        ADD COLUMN previous_secret_expires_at timestamptz,
        ADD COLUMN secret_rotated_at timestamptz,
        ADD COLUMN disabled_at timestamptz,
        ADD COLUMN updated_at timestamptz NOT NULL DEFAULT now(),
        ADD CONSTRAINT clients_previous_secret
          CHECK ((previous_secret_hash IS NULL) = (previous_secret_expires_at IS NULL)
                 AND (type = 'confidential' OR previous_secret_hash IS NULL))`);

    // Disabling or deleting a client ends its live sessions: found by client, not by scan.
    await db.query('CREATE INDEX sessions_client_live ON sessions (client_id) WHERE ended_at IS NULL');

    // What verifiers must refuse after the row that said so is gone or changed: tokens of
    // an erased user ('user', the sub), of a disabled or deleted client ('client', the
    // client id), one revoked client_credentials token ('jti'). Kept while a token issued
    // before ended_at can still be live (expires_at), then removed by housekeeping.
    await db.query(`
      CREATE TABLE revocations (
        kind text NOT NULL CHECK (kind IN ('user', 'client', 'jti')),
        subject text NOT NULL CHECK (length(subject) BETWEEN 1 AND 256),
        ended_at timestamptz NOT NULL DEFAULT now(),
        expires_at timestamptz NOT NULL,
        PRIMARY KEY (kind, subject)
      )`);
    await db.query('CREATE INDEX revocations_ended_at ON revocations (ended_at)');
    await db.query('CREATE INDEX revocations_expires_at ON revocations (expires_at)');
  }

  async down(db: QueryRunner): Promise<void> {
    await db.query('DROP TABLE revocations');
    await db.query('DROP INDEX sessions_client_live');
    await db.query(`
      ALTER TABLE clients
        DROP CONSTRAINT clients_previous_secret,
        DROP COLUMN previous_secret_hash,
        DROP COLUMN previous_secret_expires_at,
        DROP COLUMN secret_rotated_at,
        DROP COLUMN disabled_at,
        DROP COLUMN updated_at`);
    await db.query('DROP INDEX users_unverified');
    await db.query('DROP TABLE account_tokens');
    await db.query('DROP TABLE mail_outbox');
  }
}
