// The one place that reads and writes clients.
import type { Queryable } from '../database.js';

export interface ClientRow {
  id: string;
  name: string;
  type: 'confidential' | 'public';
  /** SHA-256 of the secret; null exactly for public clients, which have none. */
  secret_hash: string | null;
  grant_types: string[];
  /** Compared by exact string match (RFC 6749 3.1.2.3). */
  redirect_uris: string[];
  post_logout_redirect_uris: string[];
  scopes: string[];
  /** Tessera's own apps: no consent page. */
  first_party: boolean;
  /** Always true for public clients. */
  require_pkce: boolean;
  can_introspect: boolean;
  disabled: boolean;
  created_at: Date;
}

const CLIENT_ID = /^[A-Za-z0-9_-]{16,64}$/;

export async function findClient(db: Queryable, id: string): Promise<ClientRow | undefined> {
  if (typeof id !== 'string' || !CLIENT_ID.test(id)) return undefined;
  const rows = await db.query<ClientRow>('SELECT * FROM clients WHERE id = $1', [id]);
  return rows[0];
}

export interface ClientInsert {
  id: string;
  name: string;
  type: 'confidential' | 'public';
  secretHash: string | null;
  grantTypes: string[];
  redirectUris: string[];
  postLogoutRedirectUris: string[];
  scopes: string[];
  firstParty: boolean;
  requirePkce: boolean;
  canIntrospect: boolean;
}

export async function insertClient(db: Queryable, c: ClientInsert): Promise<ClientRow> {
  const rows = await db.query<ClientRow>(
    `INSERT INTO clients (id, name, type, secret_hash, grant_types, redirect_uris, post_logout_redirect_uris,
                          scopes, first_party, require_pkce, can_introspect)
     VALUES ($1, $2, $3, $4, $5::text[], $6::text[], $7::text[], $8::text[], $9, $10, $11) RETURNING *`,
    [
      c.id,
      c.name,
      c.type,
      c.secretHash,
      c.grantTypes,
      c.redirectUris,
      c.postLogoutRedirectUris,
      c.scopes,
      c.firstParty,
      c.requirePkce,
      c.canIntrospect,
    ],
  );
  return rows[0]!;
}
