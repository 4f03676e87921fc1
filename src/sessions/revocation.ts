// Token revocation (RFC 7009): a refresh token, or a user's access token, ends its whole
// session; only the client it was issued to may revoke it.
import type { Config } from '../config/config.js';
import type { Queryable } from '../db/database.js';
import { endSession, findSessionClient } from '../db/repositories/sessions.js';
import { TesseraError } from '../errors/errors.js';
import { recordSecurityEvent } from '../audit/audit-log.js';
import { allAudiences } from '../tokens/audiences.js';
import type { TokenService } from '../tokens/token-service.js';

export interface RevocationDeps {
  db: Queryable;
  tokens: TokenService;
  config: Pick<Config, 'issuer' | 'defaultAudience' | 'audiences'>;
}

/** The session a token belongs to, if it is one of ours and still verifies. */
async function sessionOf(deps: RevocationDeps, token: string, hint: string | undefined): Promise<string | undefined> {
  const order = hint === 'access_token' ? (['access', 'refresh'] as const) : (['refresh', 'access'] as const);
  for (const kind of order) {
    try {
      const claims =
        kind === 'refresh'
          ? await deps.tokens.verifyRefreshToken(token)
          : await deps.tokens.verifyAccessToken(token, allAudiences(deps.config));
      return typeof claims.sid === 'string' ? claims.sid : undefined;
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
  const sid = await sessionOf(deps, r.token, r.hint);
  if (!sid) return;
  const owner = await findSessionClient(deps.db, sid);
  // RFC 7009 2.1: only the client the token was issued to may revoke it.
  if (owner && owner.client_id !== r.requester)
    throw new TesseraError('unauthorized_client', { detail: 'token issued to another client' });
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
