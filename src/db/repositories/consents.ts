// The one place that reads and writes consents: the scopes a user allowed a client.
import type { Queryable } from '../database.js';
import { isUuid } from '../../domain/identifiers.js';

export async function findConsent(db: Queryable, userId: string, clientId: string): Promise<string[] | undefined> {
  if (!isUuid(userId)) return undefined;
  const rows = await db.query<{ scopes: string[] }>(
    'SELECT scopes FROM consents WHERE user_id = $1 AND client_id = $2',
    [userId, clientId],
  );
  return rows[0]?.scopes;
}

/** Adds scopes to what the user allowed the client (a consent only ever widens here). */
export async function grantConsent(db: Queryable, userId: string, clientId: string, scopes: string[]): Promise<void> {
  await db.query(
    `INSERT INTO consents (user_id, client_id, scopes) VALUES ($1, $2, $3::text[])
     ON CONFLICT (user_id, client_id) DO UPDATE
       SET scopes = ARRAY(SELECT DISTINCT unnest(consents.scopes || EXCLUDED.scopes)), granted_at = now()`,
    [userId, clientId, scopes],
  );
}

export interface ConsentView {
  client_id: string;
  client_name: string;
  scopes: string[];
  granted_at: Date;
}

/** The user's consents, newest first; a consent to a deleted client went with it (ON DELETE CASCADE). */
export async function listConsents(db: Queryable, userId: string): Promise<ConsentView[]> {
  if (!isUuid(userId)) return [];
  return db.query<ConsentView>(
    `SELECT c.client_id, cl.name AS client_name, c.scopes, c.granted_at
       FROM consents c JOIN clients cl ON cl.id = c.client_id
      WHERE c.user_id = $1 ORDER BY c.granted_at DESC, c.client_id LIMIT 500`,
    [userId],
  );
}

/** Deletes the user's consent to the client; the scopes it gave, or undefined when there was none. */
export async function deleteConsent(db: Queryable, userId: string, clientId: string): Promise<string[] | undefined> {
  if (!isUuid(userId)) return undefined;
  const rows = await db.query<{ scopes: string[] }>(
    'DELETE FROM consents WHERE user_id = $1 AND client_id = $2 RETURNING scopes',
    [userId, clientId],
  );
  return rows[0]?.scopes;
}
