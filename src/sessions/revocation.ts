// Token revocation (RFC 7009): a refresh token, or a user's access token, ends its whole
// session; a client_credentials access token is revoked by its jti until it expires.
// Only the client a token was issued to may revoke it.
import type { Config } from '../config/config.js';
import type { Queryable } from '../db/database.js';
import { endSession, findSessionClient } from '../db/repositories/sessions.js';
import { recordRevocation } from '../db/repositories/revocations.js';
import { TesseraError } from '../errors/errors.js';
import { recordSecurityEvent } from '../audit/audit-log.js';
import { allAudiences } from '../tokens/audiences.js';
import type { TokenService } from '../tokens/token-service.js';

export interface RevocationDeps {
  db: Queryable;
  tokens: TokenService;
  config: Pick<Config, 'issuer' | 'defaultAudience' | 'audiences'>;
}

/** What a token speaks for: a session (user tokens, refresh tokens), or a client on its own behalf. */
type Revocable =
  { kind: 'session'; sid: string } | { kind: 'client_token'; clientId: string; jti: string; exp: number };

/** What the token belongs to, if it is one of ours and still verifies. */
async function revocableOf(
  deps: RevocationDeps,
  token: string,
  hint: string | undefined,
): Promise<Revocable | undefined> {
  const order = hint === 'access_token' ? (['access', 'refresh'] as const) : (['refresh', 'access'] as const);
  for (const kind of order) {
    try {
      if (kind === 'refresh') {
        const claims = await deps.tokens.verifyRefreshToken(token);
        return typeof claims.sid === 'string' ? { kind: 'session', sid: claims.sid } : undefined;
      }
      const claims = await deps.tokens.verifyAccessToken(token, allAudiences(deps.config));
      if (typeof claims.sid === 'string') return { kind: 'session', sid: claims.sid };
      // A client_credentials token: the client is its own subject.
      if (claims.sub === claims.client_id && typeof claims.jti === 'string' && typeof claims.exp === 'number')
        return { kind: 'client_token', clientId: claims.client_id, jti: claims.jti, exp: claims.exp };
      return undefined;
    } catch {
      /* not this kind */
    }
  }
  return undefined;
}

/** Unknown, expired or malformed tokens change nothing and are no error (RFC 7009 2.2). */
export async function revokeToken(
  deps: RevocationDeps,
  r: { token: string; hint: string | undefined; requester: string; ip: string },
): Promise<void> {
  const revocable = await revocableOf(deps, r.token, r.hint);
  if (!revocable) return;
  // RFC 7009 2.1: only the client the token was issued to may revoke it.
  const refuse = () => new TesseraError('unauthorized_client', { detail: 'token issued to another client' });
  if (revocable.kind === 'client_token') {
    if (revocable.clientId !== r.requester) throw refuse();
    // Kept until the token expires: after that it is refused anyway.
    await recordRevocation(deps.db, { kind: 'jti', subject: revocable.jti, expiresAt: new Date(revocable.exp * 1000) });
    await recordSecurityEvent(deps.db, {
      type: 'client_token_revoked',
      target: revocable.clientId,
      ip: r.ip,
      detail: { client_id: revocable.clientId, jti: revocable.jti },
    });
    return;
  }
  const { sid } = revocable;
  const owner = await findSessionClient(deps.db, sid);
  if (owner && owner.client_id !== r.requester) throw refuse();
  const ended = await endSession(deps.db, { sessionId: sid, reason: 'revoked' });
  if (ended)
    await recordSecurityEvent(deps.db, {
      type: 'session_ended',
      userId: ended.user_id,
      sessionId: sid,
      ip: r.ip,
      detail: { by: 'revocation' },
    });
}
