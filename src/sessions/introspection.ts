// What introspection (RFC 7662) and the revoked list tell a resource service: whether an
// access token is active right now, and which sessions and users ended lately.
import type { Config } from '../config/config.js';
import type { Queryable } from '../db/database.js';
import { endedSince } from '../db/repositories/sessions.js';
import { allAudiences } from '../tokens/audiences.js';
import type { AccessClaims, TokenService } from '../tokens/token-service.js';
import { checkClientToken, checkUserToken } from './access-tokens.js';

export interface IntrospectionDeps {
  db: Queryable;
  tokens: TokenService;
  config: Pick<Config, 'issuer' | 'defaultAudience' | 'audiences' | 'accessTokenTtl'>;
}

/** The claims of an active access token (with the user's email for user tokens); refresh tokens are never active. */
export async function activeAccessClaims(
  deps: IntrospectionDeps,
  token: string,
): Promise<(AccessClaims & { username?: string }) | undefined> {
  let claims: AccessClaims;
  try {
    claims = await deps.tokens.verifyAccessToken(token, allAudiences(deps.config));
  } catch {
    return undefined;
  }
  if (typeof claims.sid === 'string') {
    const checked = await checkUserToken(deps.db, claims);
    return 'user' in checked ? { ...claims, username: checked.user.email } : undefined;
  }
  return (await checkClientToken(deps.db, claims)) ? claims : undefined;
}

const epoch = (d: Date) => Math.floor(new Date(d).getTime() / 1000);

/** Sessions and users ended since a unix time, clamped to what live access tokens can still need. */
export async function revokedSince(deps: Pick<IntrospectionDeps, 'db' | 'config'>, requested: number) {
  const now = Math.floor(Date.now() / 1000);
  // Older than any live access token is of no use: clamp to the token lifetime.
  const floor = now - deps.config.accessTokenTtl - 60;
  // A time in the future means now: 12 digits of seconds would overflow the database's timestamps.
  const since = Math.min(Math.max(requested, floor), now);
  const ended = await endedSince(deps.db, new Date(since * 1000));
  return {
    since,
    until: epoch(ended.until),
    sessions: ended.sessions.map((s) => ({ sid: s.sid, ended_at: epoch(s.ended_at) })),
    users: ended.users.map((u) => ({ sub: u.sub, ended_at: epoch(u.ended_at) })),
  };
}
