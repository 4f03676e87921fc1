// The one place that reads and writes clients.
import type { Queryable } from '../database.js';

export interface ClientRow {
  id: string;
  name: string;
  secret_hash: string;
  grant_types: string[];
  scopes: string[];
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

export async function insertClient(
  db: Queryable,
  c: { id: string; name: string; secretHash: string; grantTypes: string[]; scopes: string[]; canIntrospect: boolean },
): Promise<ClientRow> {
  const rows = await db.query<ClientRow>(
    `INSERT INTO clients (id, name, secret_hash, grant_types, scopes, can_introspect)
     VALUES ($1, $2, $3, $4::text[], $5::text[], $6) RETURNING *`,
    [c.id, c.name, c.secretHash, c.grantTypes, c.scopes, c.canIntrospect],
  );
  return rows[0]!;
}
