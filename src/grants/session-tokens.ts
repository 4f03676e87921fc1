// Opening a session at login and answering a refresh: the two ways a user gets tokens.
import { randomUUID } from 'node:crypto';
import type { Services } from '../services.js';
import { TesseraError } from '../errors/errors.js';
import { createSession, findLiveSession, rotateRefresh } from '../db/repositories/sessions.js';
import { isUuid, type UserRow } from '../db/repositories/users.js';
import { classifyRotation, refreshTokenExpiry } from '../domain/sessions/refresh-family.js';
import { isSubsetScope } from '../domain/tokens/grant-request.js';
import { TokenInvalidError } from '../tokens/token-service.js';
import { noteSecurityEvent } from '../audit/request-context.js';

export interface TokenResponseBody {
  access_token: string;
  token_type: 'Bearer';
  expires_in: number;
  refresh_token?: string;
  scope: string;
}

export const FIRST_PARTY_CLIENT_ID = 'tessera';

const epoch = (d: Date) => Math.floor(d.getTime() / 1000);

export async function openSession(
  services: Services,
  p: { user: UserRow; clientId: string; scope: string; audience: string; userAgent: string | null; ip: string | null },
): Promise<TokenResponseBody & { sessionId: string }> {
  const { config, db, tokens } = services;
  const session = await createSession(db, {
    userId: p.user.id,
    clientId: p.clientId,
    scope: p.scope,
    audience: p.audience,
    jti: randomUUID(),
    ttlSeconds: config.refreshTokenTtl,
    userAgent: p.userAgent,
    ip: p.ip,
  });
  const issuedAt = new Date(session.current_issued_at);
  const [access, refresh] = await Promise.all([
    tokens.issueAccessToken({
      sub: p.user.id,
      aud: p.audience,
      clientId: p.clientId,
      scope: p.scope,
      sid: session.id,
      roles: p.user.roles,
      authTime: epoch(new Date(session.auth_time)),
    }),
    tokens.issueRefreshToken({
      sub: p.user.id,
      sid: session.id,
      jti: session.current_jti,
      iat: epoch(issuedAt),
      exp: epoch(refreshTokenExpiry(issuedAt, new Date(session.expires_at), config.refreshIdleTtl)),
    }),
  ]);
  return { access_token: access.token, token_type: 'Bearer', expires_in: access.expiresIn, refresh_token: refresh, scope: p.scope, sessionId: session.id };
}

export interface RefreshRequest {
  refreshToken: string;
  clientId: string | undefined;
  scope: string | undefined;
  resource: string | undefined;
  ip: string | null;
}

/** RFC 6749 section 6: a narrower scope may be asked for, never a wider one; the resource stays. */
function checkNarrowing(r: RefreshRequest, granted: { scope: string; audience: string }): string {
  let scope = granted.scope;
  if (r.scope !== undefined) {
    if (!isSubsetScope(r.scope, granted.scope)) throw new TesseraError('invalid_scope', { detail: 'refresh asked for a wider scope' });
    scope = [...new Set(r.scope.split(' ').filter(Boolean))].join(' ');
  }
  if (r.resource !== undefined && r.resource !== granted.audience) throw new TesseraError('invalid_target', { detail: 'refresh asked for another resource' });
  return scope;
}

/** The refresh_token grant: rotate the family, or end it on reuse. */
export async function refreshSession(services: Services, r: RefreshRequest, log: { warn(o: object, m: string): void }): Promise<TokenResponseBody> {
  const { config, db, tokens } = services;
  let claims;
  try {
    claims = await tokens.verifyRefreshToken(r.refreshToken);
  } catch (error) {
    throw new TesseraError('invalid_grant', { detail: `refresh token rejected: ${(error as TokenInvalidError).message}` });
  }
  if (!isUuid(claims.sid) || !isUuid(claims.jti) || !isUuid(claims.sub)) throw new TesseraError('invalid_grant', { detail: 'refresh token ids malformed' });

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
    ip: r.ip,
    clientId: r.clientId ?? null,
  });
  const outcome = classifyRotation(row, newJti);
  // The rotation statement recorded the audit event; tell this request's observers.
  if (row) noteSecurityEvent(row.ended_at ? { type: 'refresh_reuse', outcome: 'failure' } : { type: 'token_refreshed', outcome: 'success' });
  if (outcome.kind === 'reuse') {
    log.warn({ event: 'refresh_reuse', sid: claims.sid, sub: claims.sub }, 'refresh token reuse detected; session ended');
    throw new TesseraError('invalid_grant', { detail: 'refresh token reuse' });
  }
  if (outcome.kind === 'invalid' || !row) throw new TesseraError('invalid_grant', { detail: 'no live session for refresh token' });

  const scope = checkNarrowing(r, row);

  const issuedAt = outcome.issuedAt;
  const [access, refresh] = await Promise.all([
    tokens.issueAccessToken({
      sub: row.user_id,
      aud: row.audience,
      clientId: row.client_id,
      scope,
      sid: row.id,
      roles: row.roles,
      authTime: epoch(new Date(row.auth_time)),
    }),
    tokens.issueRefreshToken({
      sub: row.user_id,
      sid: row.id,
      jti: outcome.jti,
      iat: epoch(issuedAt),
      exp: epoch(refreshTokenExpiry(issuedAt, new Date(row.expires_at), config.refreshIdleTtl)),
    }),
  ]);
  return { access_token: access.token, token_type: 'Bearer', expires_in: access.expiresIn, refresh_token: refresh, scope };
}
