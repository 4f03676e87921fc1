// The one place that reads and writes pending authorization requests: what the client
// asked for, waiting for the user's login or consent, bound to one browser.
import type { Queryable } from '../database.js';
import { isUuid } from '../../domain/identifiers.js';
import type { AuthorizationParams } from '../../domain/oauth/authorization-request.js';

export interface AuthorizationRequestRow {
  id: string;
  browser_hash: string;
  client_id: string;
  params: AuthorizationParams;
  created_at: Date;
  expires_at: Date;
  login_at: Date | null;
  browser_session_id: string | null;
  completed_at: Date | null;
}

export async function createAuthorizationRequest(
  db: Queryable,
  r: { browserHash: string; params: AuthorizationParams; ttlSeconds: number },
): Promise<AuthorizationRequestRow> {
  const rows = await db.query<AuthorizationRequestRow>(
    `INSERT INTO authorization_requests (browser_hash, client_id, params, expires_at)
     VALUES ($1, $2, $3::jsonb, now() + make_interval(secs => $4)) RETURNING *`,
    [r.browserHash, r.params.clientId, JSON.stringify(r.params), r.ttlSeconds],
  );
  return rows[0]!;
}

/** A request still waiting, for the browser that started it. */
export async function findPendingRequest(
  db: Queryable,
  id: string,
  browserHash: string,
): Promise<AuthorizationRequestRow | undefined> {
  if (!isUuid(id)) return undefined;
  const rows = await db.query<AuthorizationRequestRow>(
    `SELECT * FROM authorization_requests
      WHERE id = $1 AND browser_hash = $2 AND completed_at IS NULL AND expires_at > now()`,
    [id, browserHash],
  );
  return rows[0];
}

/** Records that the user logged in for this request (prompt=login and max_age are then met). */
export async function markLoggedIn(db: Queryable, id: string, browserSessionId: string): Promise<void> {
  await db.query(
    'UPDATE authorization_requests SET login_at = now(), browser_session_id = $2 WHERE id = $1 AND completed_at IS NULL',
    [id, browserSessionId],
  );
}

/** Completes a request once: false when another request already did (a replayed form). */
export async function completeRequest(db: Queryable, id: string): Promise<boolean> {
  if (!isUuid(id)) return false;
  const rows = await db.query(
    'UPDATE authorization_requests SET completed_at = now() WHERE id = $1 AND completed_at IS NULL RETURNING id',
    [id],
  );
  return rows.length === 1;
}

export async function pruneAuthorizationRequests(db: Queryable): Promise<number> {
  const rows = await db.query(
    `DELETE FROM authorization_requests WHERE expires_at < now() - interval '1 hour' RETURNING id`,
  );
  return rows.length;
}
