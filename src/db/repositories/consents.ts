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
