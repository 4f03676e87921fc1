// OpenID Connect login: clients for apps (public or confidential, redirect URIs, first
// party, PKCE), browser sessions behind the hosted pages (single sign-on), pending
// authorization requests, authorization codes (stored hashed, single-use) and consents.
import type { MigrationInterface, QueryRunner } from 'typeorm';

export class AuthorizationCode1764892800000 implements MigrationInterface {
  name = 'AuthorizationCode1764892800000';

  async up(db: QueryRunner): Promise<void> {
    await db.query(`
      ALTER TABLE clients
        ADD COLUMN type text NOT NULL DEFAULT 'confidential',
        ADD COLUMN redirect_uris text[] NOT NULL DEFAULT '{}',
        ADD COLUMN post_logout_redirect_uris text[] NOT NULL DEFAULT '{}',
        ADD COLUMN first_party boolean NOT NULL DEFAULT false,
        ADD COLUMN require_pkce boolean NOT NULL DEFAULT true,
        ALTER COLUMN secret_hash DROP NOT NULL,
        DROP CONSTRAINT clients_grants_known,
        ADD CONSTRAINT clients_grants_known
          CHECK (grant_types <@ ARRAY['client_credentials', 'authorization_code', 'refresh_token']::text[]),
        ADD CONSTRAINT clients_type_known CHECK (type IN ('confidential', 'public')),
        ADD CONSTRAINT clients_secret_by_type CHECK ((type = 'public') = (secret_hash IS NULL)),
        ADD CONSTRAINT clients_public_pkce CHECK (type = 'confidential' OR require_pkce),
        ADD CONSTRAINT clients_public_no_client_credentials
          CHECK (type = 'confidential' OR NOT ('client_credentials' = ANY (grant_types)))`);

    await db.query('ALTER TABLE users ADD COLUMN email_verified_at timestamptz');

    // The browser's login at the hosted pages: the cookie holds a random token, the row
    // its SHA-256. auth_time is when the password was last checked in this browser.
    await db.query(`
      CREATE TABLE browser_sessions (
        id uuid PRIMARY KEY DEFAULT gen_random_uuid(),
        token_hash text NOT NULL UNIQUE CHECK (token_hash ~ '^[A-Za-z0-9_-]{43}$'),
        user_id uuid NOT NULL REFERENCES users (id) ON DELETE CASCADE,
        auth_time timestamptz NOT NULL,
        amr text[] NOT NULL,
        created_at timestamptz NOT NULL DEFAULT now(),
        last_seen_at timestamptz NOT NULL DEFAULT now(),
        expires_at timestamptz NOT NULL,
        ended_at timestamptz,
        end_reason text,
        ip text,
        user_agent text
      )`);
    await db.query('CREATE INDEX browser_sessions_user_live ON browser_sessions (user_id) WHERE ended_at IS NULL');
    await db.query('CREATE INDEX browser_sessions_expires_at ON browser_sessions (expires_at)');

    // Token sessions opened from a browser session end with it (logout).
    await db.query(`
      ALTER TABLE sessions
        ADD COLUMN browser_session_id uuid REFERENCES browser_sessions (id) ON DELETE SET NULL,
        ADD COLUMN amr text[] NOT NULL DEFAULT '{pwd}'`);
    await db.query(
      'CREATE INDEX sessions_browser_session ON sessions (browser_session_id) WHERE browser_session_id IS NOT NULL',
    );

    // An authorization request waiting for the user (login, consent), bound to the
    // browser that started it by the SHA-256 of a cookie.
    await db.query(`
      CREATE TABLE authorization_requests (
        id uuid PRIMARY KEY DEFAULT gen_random_uuid(),
        browser_hash text NOT NULL CHECK (browser_hash ~ '^[A-Za-z0-9_-]{43}$'),
        client_id text NOT NULL REFERENCES clients (id) ON DELETE CASCADE,
        params jsonb NOT NULL,
        created_at timestamptz NOT NULL DEFAULT now(),
        expires_at timestamptz NOT NULL,
        login_at timestamptz,
        browser_session_id uuid REFERENCES browser_sessions (id) ON DELETE CASCADE,
        completed_at timestamptz
      )`);
    await db.query('CREATE INDEX authorization_requests_expires_at ON authorization_requests (expires_at)');

    // RFC 6749 4.1.2: single-use, short-lived, bound to everything the request fixed.
    // session_id is the token session its redemption opened, ended if the code comes back.
    await db.query(`
      CREATE TABLE authorization_codes (
        code_hash text PRIMARY KEY CHECK (code_hash ~ '^[A-Za-z0-9_-]{43}$'),
        client_id text NOT NULL REFERENCES clients (id) ON DELETE CASCADE,
        user_id uuid NOT NULL REFERENCES users (id) ON DELETE CASCADE,
        browser_session_id uuid REFERENCES browser_sessions (id) ON DELETE SET NULL,
        redirect_uri text NOT NULL,
        redirect_uri_sent boolean NOT NULL,
        code_challenge text,
        scope text NOT NULL,
        audience text NOT NULL,
        nonce text,
        auth_time timestamptz NOT NULL,
        amr text[] NOT NULL,
        created_at timestamptz NOT NULL DEFAULT now(),
        expires_at timestamptz NOT NULL,
        redeemed_at timestamptz,
        session_id uuid REFERENCES sessions (id) ON DELETE SET NULL
      )`);
    await db.query('CREATE INDEX authorization_codes_expires_at ON authorization_codes (expires_at)');

    // What a user allowed a third-party client to have.
    await db.query(`
      CREATE TABLE consents (
        user_id uuid NOT NULL REFERENCES users (id) ON DELETE CASCADE,
        client_id text NOT NULL REFERENCES clients (id) ON DELETE CASCADE,
        scopes text[] NOT NULL,
        granted_at timestamptz NOT NULL DEFAULT now(),
        PRIMARY KEY (user_id, client_id)
      )`);
  }

  async down(db: QueryRunner): Promise<void> {
    await db.query('DROP TABLE consents');
    await db.query('DROP TABLE authorization_codes');
    await db.query('DROP TABLE authorization_requests');
    await db.query('ALTER TABLE sessions DROP COLUMN browser_session_id, DROP COLUMN amr');
    await db.query('DROP TABLE browser_sessions');
    await db.query('ALTER TABLE users DROP COLUMN email_verified_at');
    await db.query(`DELETE FROM clients WHERE type = 'public'`);
    await db.query(`
      ALTER TABLE clients
        DROP CONSTRAINT clients_public_no_client_credentials,
        DROP CONSTRAINT clients_public_pkce,
        DROP CONSTRAINT clients_secret_by_type,
        DROP CONSTRAINT clients_type_known,
        DROP CONSTRAINT clients_grants_known,
        ALTER COLUMN secret_hash SET NOT NULL,
        DROP COLUMN require_pkce,
        DROP COLUMN first_party,
        DROP COLUMN post_logout_redirect_uris,
        DROP COLUMN redirect_uris,
        DROP COLUMN type`);
    await db.query(
      `UPDATE clients SET grant_types = array_remove(array_remove(grant_types, 'authorization_code'), 'refresh_token')`,
    );
    await db.query(
      `ALTER TABLE clients ADD CONSTRAINT clients_grants_known CHECK (grant_types <@ ARRAY['client_credentials']::text[])`,
    );
  }
}
