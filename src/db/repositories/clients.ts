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
  /** The secret before the last rotation, accepted until previous_secret_expires_at; both null otherwise. */
  previous_secret_hash: string | null;
  previous_secret_expires_at: Date | null;
  secret_rotated_at: Date | null;
  /** When it was disabled; null while it is enabled. */
  disabled_at: Date | null;
  updated_at: Date;
}

const CLIENT_ID = /^[A-Za-z0-9_-]{16,64}$/;

export async function findClient(db: Queryable, id: string): Promise<ClientRow | undefined> {
  if (typeof id !== 'string' || !CLIENT_ID.test(id)) return undefined;
  const rows = await db.query<ClientRow>('SELECT * FROM clients WHERE id = $1', [id]);
  return rows[0];
}

/**
 * The client for authentication: its previous secret hash only while the overlap lasts,
 * judged by the database's clock (the one that set the expiry).
 */
export async function findClientForAuthentication(db: Queryable, id: string): Promise<ClientRow | undefined> {
  if (typeof id !== 'string' || !CLIENT_ID.test(id)) return undefined;
  const rows = await db.query<ClientRow & { live_previous_secret_hash: string | null }>(
    `SELECT *, CASE WHEN previous_secret_expires_at > now() THEN previous_secret_hash END AS live_previous_secret_hash
       FROM clients WHERE id = $1`,
    [id],
  );
  const row = rows[0];
  if (!row) return undefined;
  const { live_previous_secret_hash, ...client } = row;
  return { ...client, previous_secret_hash: live_previous_secret_hash };
}

/** The client, its row locked until the transaction ends (changes read, check, then write). */
export async function lockClient(db: Queryable, id: string): Promise<ClientRow | undefined> {
  if (typeof id !== 'string' || !CLIENT_ID.test(id)) return undefined;
  const rows = await db.query<ClientRow>('SELECT * FROM clients WHERE id = $1 FOR UPDATE', [id]);
  return rows[0];
}

export interface ClientPage {
  clients: ClientRow[];
  /** The id to pass as `after` for the next page; null on the last one. */
  next: string | null;
}

/** Clients by id, keyset-paged: `after` is the last id of the previous page. */
export async function listClients(db: Queryable, p: { limit: number; after?: string }): Promise<ClientPage> {
  const rows = await db.query<ClientRow>(
    'SELECT * FROM clients WHERE ($1::text IS NULL OR id > $1) ORDER BY id LIMIT $2',
    [p.after ?? null, p.limit + 1],
  );
  const page = rows.slice(0, p.limit);
  return { clients: page, next: rows.length > p.limit ? page[page.length - 1]!.id : null };
}

export interface ClientMetadataUpdate {
  name: string;
  grantTypes: string[];
  redirectUris: string[];
  postLogoutRedirectUris: string[];
  scopes: string[];
}

export async function updateClientMetadata(
  db: Queryable,
  id: string,
  m: ClientMetadataUpdate,
): Promise<ClientRow | undefined> {
  const rows = await db.query<ClientRow>(
    `UPDATE clients SET name = $2, grant_types = $3::text[], redirect_uris = $4::text[],
                        post_logout_redirect_uris = $5::text[], scopes = $6::text[], updated_at = now()
      WHERE id = $1 RETURNING *`,
    [id, m.name, m.grantTypes, m.redirectUris, m.postLogoutRedirectUris, m.scopes],
  );
  return rows[0];
}

/** Disables (keeping the first disabled_at) or enables a client. */
export async function setClientDisabled(db: Queryable, id: string, disabled: boolean): Promise<ClientRow | undefined> {
  const rows = await db.query<ClientRow>(
    `UPDATE clients SET disabled = $2, disabled_at = CASE WHEN $2 THEN coalesce(disabled_at, now()) END, updated_at = now()
      WHERE id = $1 RETURNING *`,
    [id, disabled],
  );
  return rows[0];
}

/**
 * A confidential client's new secret hash in one statement: the current one becomes the
 * previous (replacing any still in its overlap) until now + overlapSeconds, or is dropped
 * at once when overlapSeconds is 0. Parallel rotations queue on the row lock, and each
 * sees the one before it, so at most two secrets are ever valid.
 */
export async function rotateClientSecretHash(
  db: Queryable,
  p: { id: string; secretHash: string; overlapSeconds: number },
): Promise<ClientRow | undefined> {
  if (!CLIENT_ID.test(p.id)) return undefined;
  const rows = await db.query<ClientRow>(
    `UPDATE clients SET
       previous_secret_hash       = CASE WHEN $3::int > 0 THEN secret_hash END,
       previous_secret_expires_at = CASE WHEN $3::int > 0 THEN now() + make_interval(secs => $3::int) END,
       secret_hash = $2, secret_rotated_at = now(), updated_at = now()
     WHERE id = $1 AND type = 'confidential' RETURNING *`,
    [p.id, p.secretHash, p.overlapSeconds],
  );
  return rows[0];
}

/** Deletes a client; its consents, codes and pending authorization requests go with it (FKs cascade). */
export async function deleteClientRow(db: Queryable, id: string): Promise<ClientRow | undefined> {
  if (typeof id !== 'string' || !CLIENT_ID.test(id)) return undefined;
  const rows = await db.query<ClientRow>('DELETE FROM clients WHERE id = $1 RETURNING *', [id]);
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
