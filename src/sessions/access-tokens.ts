// Whether an access token still speaks for someone: a user token only while its session
// is live and its user enabled (a logout counts at once), a client token only while its
// client is enabled. Shared by bearer authentication and introspection.
import type { Queryable } from '../db/database.js';
import { findClient } from '../db/repositories/clients.js';
import { isSessionLive } from '../db/repositories/sessions.js';
import { findUserById, type UserRow } from '../db/repositories/users.js';
import type { AccessClaims } from '../tokens/token-service.js';

export type { UserRow };

export type UserTokenCheck = { user: UserRow } | { refused: string };

/** The enabled user behind a user token (one with a sid) whose session is live. */
export async function checkUserToken(db: Queryable, claims: AccessClaims): Promise<UserTokenCheck> {
  if (typeof claims.sid !== 'string' || !(await isSessionLive(db, claims.sid, claims.sub)))
    return { refused: "session ended or not the subject's" };
  const user = await findUserById(db, claims.sub);
  if (!user || user.disabled) return { refused: 'user missing or disabled' };
  return { user };
}

/** A client's own token (no sid) is good while the client exists, is enabled and is its subject. */
export async function checkClientToken(db: Queryable, claims: AccessClaims): Promise<boolean> {
  const client = await findClient(db, claims.client_id);
  return Boolean(client && !client.disabled && claims.sub === client.id);
}
