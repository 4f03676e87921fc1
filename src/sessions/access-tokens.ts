// Whether an access token still speaks for someone: a user token only while its session
// is live and its user enabled (a logout counts at once), a client token only while its
// client is enabled and neither the token (its jti) nor the client was revoked after it was
// issued. Shared by bearer authentication and introspection.
import type { Queryable } from '../db/database.js';
import { findClient } from '../db/repositories/clients.js';
import { findRevocations } from '../db/repositories/revocations.js';
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

/**
 * A client's own token (no sid) is good while the client exists, is enabled and is its
 * subject, the token was not revoked (RFC 7009), and the client was not disabled (or
 * narrowed) since the token was issued: a token issued before the revocation's second is
 * refused, as verifiers judge it from the feed's whole seconds.
 */
export async function checkClientToken(db: Queryable, claims: AccessClaims): Promise<boolean> {
  const client = await findClient(db, claims.client_id);
  if (!client || client.disabled || claims.sub !== client.id) return false;
  const iat = typeof claims.iat === 'number' ? claims.iat : 0;
  const revoked = await findRevocations(db, [
    { kind: 'jti', subject: claims.jti },
    { kind: 'client', subject: client.id },
  ]);
  return !revoked.some((r) => r.kind === 'jti' || Math.floor(new Date(r.ended_at).getTime() / 1000) >= iat);
}
