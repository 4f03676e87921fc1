// What introspection (RFC 7662) and the revoked list tell a resource service: whether an
// access token is active right now, and which sessions, users and clients ended and which
// client_credentials tokens were revoked lately.
import type { Config } from '../config/config.js';
import type { Queryable } from '../db/database.js';
import { endedSince } from '../db/repositories/sessions.js';
import { revocationsSince } from '../db/repositories/revocations.js';
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

/** The latest end per id: a subject listed twice (a user both erased and signed out) counts once, at its latest. */
function latest(entries: { id: string; ended_at: number }[]): Map<string, number> {
  const ends = new Map<string, number>();
  for (const { id, ended_at } of entries) ends.set(id, Math.max(ended_at, ends.get(id) ?? ended_at));
  return ends;
}

/**
 * Sessions, users and clients ended and client_credentials tokens revoked since a unix
 * time, clamped to what live access tokens can still need.
 */
export async function revokedSince(deps: Pick<IntrospectionDeps, 'db' | 'config'>, requested: number) {
  const now = Math.floor(Date.now() / 1000);
  // Older than any live access token is of no use: clamp to the token lifetime.
  const floor = now - deps.config.accessTokenTtl - 60;
  // A time in the future means now: 12 digits of seconds would overflow the database's timestamps.
  const since = Math.min(Math.max(requested, floor), now);
  const ended = await endedSince(deps.db, new Date(since * 1000));
  // Read after `until` was taken, so it holds at least everything ended before it.
  const revoked = await revocationsSince(deps.db, new Date(since * 1000));
  const of = (kind: string) =>
    revoked.filter((r) => r.kind === kind).map((r) => ({ id: r.subject, ended_at: epoch(r.ended_at) }));
  const users = latest([...ended.users.map((u) => ({ id: u.sub, ended_at: epoch(u.ended_at) })), ...of('user')]);
  return {
    since,
    until: epoch(ended.until),
    sessions: ended.sessions.map((s) => ({ sid: s.sid, ended_at: epoch(s.ended_at) })),
    users: [...users].map(([sub, ended_at]) => ({ sub, ended_at })),
    clients: of('client').map((c) => ({ client_id: c.id, ended_at: c.ended_at })),
    jtis: of('jti').map((j) => ({ jti: j.id, ended_at: j.ended_at })),
  };
}
