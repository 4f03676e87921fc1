// The refresh_token grant (RFC 6749 section 6): rotate the session's refresh family, or
// end it when a retired token comes back. A refresh token that is not ours (forged, of
// another kind) is a token_rejected event, like one at our other endpoints.
import { randomUUID } from 'node:crypto';
import type { Config } from '../config/config.js';
import type { Database } from '../db/database.js';
import { findLiveSession, rotateRefresh } from '../db/repositories/sessions.js';
import { classifyRotation } from '../domain/sessions/refresh-family.js';
import { isSubsetScope } from '../domain/tokens/grant-request.js';
import { TesseraError } from '../errors/errors.js';
import { noteSecurityEvent } from '../audit/request-context.js';
import { TokenInvalidError } from '../tokens/token-service.js';
import { describeRejection, type RefusalLog } from '../audit/refusals.js';
import { issueTokenPair, type IssuedTokenPair, type TokenPairDeps } from './token-pair.js';
import { FIRST_PARTY_CLIENT_ID } from '../clients/clients.js';

export interface RefreshDeps extends TokenPairDeps {
  db: Database;
  config: Pick<Config, 'mfa' | 'refreshIdleTtl' | 'refreshReuseGrace' | 'issuer'>;
  refusals: Pick<RefusalLog, 'record'>;
}

export interface RefreshRequest {
  refreshToken: string;
  clientId: string | undefined;
  scope: string | undefined;
  resource: string | undefined;
  /** Where the request came from, for the audit event of the rotation. */
  ip: string | null;
  userAgent: string | null;
  requestId: string | null;
}

/** RFC 6749 section 6: a narrower scope may be asked for, never a wider one; the resource stays. */
function checkNarrowing(r: RefreshRequest, granted: { scope: string; audience: string }): string {
  let scope = granted.scope;
  if (r.scope !== undefined) {
    if (!isSubsetScope(r.scope, granted.scope))
      throw new TesseraError('invalid_scope', { detail: 'refresh asked for a wider scope' });
    scope = [...new Set(r.scope.split(' ').filter(Boolean))].join(' ');
  }
  if (r.resource !== undefined && r.resource !== granted.audience)
    throw new TesseraError('invalid_target', { detail: 'refresh asked for another resource' });
  return scope;
}

export async function refreshTokenGrant(
  deps: RefreshDeps,
  r: RefreshRequest,
  log: { warn(o: object, m: string): void },
): Promise<IssuedTokenPair> {
  const { config, db, tokens } = deps;
  let claims;
  try {
    claims = await tokens.verifyRefreshToken(r.refreshToken);
  } catch (error) {
    const rejection = describeRejection(error, r.refreshToken, { issuer: config.issuer, audiences: [config.issuer] });
    if (rejection && r.ip)
      await deps.refusals.record({
        kind: 'token_rejected',
        ip: r.ip,
        detail: { ...rejection, route: '/oauth/token', grant: 'refresh_token' },
      });
    throw new TesseraError('invalid_grant', {
      detail: `refresh token rejected: ${(error as TokenInvalidError).message}`,
    });
  }

  // A refused scope or resource must not retire the current token: check those before the
  // rotation (a session's scope and audience never change). A retired token skips this and
  // goes on to the rotation, which detects the reuse.
  if (r.scope !== undefined || r.resource !== undefined) {
    const live = await findLiveSession(db, claims.sid, claims.sub, config.refreshReuseGrace);
    if (live && (live.current_jti === claims.jti || live.replayable_jti === claims.jti)) checkNarrowing(r, live);
  }

  const newJti = randomUUID();
  const row = await rotateRefresh(db, {
    sessionId: claims.sid,
    userId: claims.sub,
    presentedJti: claims.jti,
    newJti,
    graceSeconds: config.refreshReuseGrace,
    idleSeconds: config.refreshIdleTtl,
    clientId: r.clientId ?? null,
    ip: r.ip,
    userAgent: r.userAgent,
    requestId: r.requestId,
  });
  const outcome = classifyRotation(row, newJti);
  // The rotation statement recorded the audit event; tell this request's observers.
  if (row)
    noteSecurityEvent(
      row.ended_at ? { type: 'refresh_reuse', outcome: 'failure' } : { type: 'token_refreshed', outcome: 'success' },
    );
  if (outcome.kind === 'reuse') {
    log.warn(
      { event: 'refresh_reuse', sid: claims.sid, sub: claims.sub },
      'refresh token reuse detected; session ended',
    );
    throw new TesseraError('invalid_grant', { detail: 'refresh token reuse' });
  }
  // Malformed ids in a verified token match no session either: the repository refuses them.
  if (outcome.kind === 'invalid' || !row)
    throw new TesseraError('invalid_grant', { detail: 'no live session for refresh token' });

  return issueTokenPair(deps, {
    sessionId: row.id,
    userId: row.user_id,
    clientId: row.client_id,
    scope: checkNarrowing(r, row),
    audience: row.audience,
    roles: row.roles,
    authTime: new Date(row.auth_time),
    refreshJti: outcome.jti,
    refreshIssuedAt: outcome.issuedAt,
    sessionExpiresAt: new Date(row.expires_at),
    // Sessions opened by the code flow get a fresh ID token too (OIDC Core 12.2), without nonce.
    amr: row.amr,
    openid: row.client_id !== FIRST_PARTY_CLIENT_ID ? {} : undefined,
  });
}
