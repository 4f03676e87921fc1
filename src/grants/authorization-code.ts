// The authorization_code grant (RFC 6749 4.1.3, RFC 7636 4.6, OIDC Core 3.1.3): one
// transaction redeems the code (once: parallel presentations queue on its row), checks
// everything the request bound it to, opens the session and mints its tokens. A code that
// comes back ends the session its first redemption opened (RFC 6749 4.1.2).
import { createHash, randomUUID, timingSafeEqual } from 'node:crypto';
import type { Config } from '../config/config.js';
import type { Database } from '../db/database.js';
import type { ClientRow } from '../db/repositories/clients.js';
import { findRedeemedCode, linkCodeSession, redeemAuthorizationCode } from '../db/repositories/authorization-codes.js';
import { endSession } from '../db/repositories/sessions.js';
import { openSession } from '../sessions/session-limit.js';
import { findUserById } from '../db/repositories/users.js';
import { TesseraError } from '../errors/errors.js';
import { recordSecurityEvent } from '../audit/audit-log.js';
import { noteSecurityEvent } from '../audit/request-context.js';
import { sha256 } from '../authorization/browser.js';
import { issueAccessOnly, issueTokenPair, type TokenPairDeps, type TokenResponseBody } from './token-pair.js';

export interface AuthorizationCodeDeps extends TokenPairDeps {
  db: Database;
  config: Pick<Config, 'mfa' | 'refreshIdleTtl' | 'refreshTokenTtl' | 'maxSessionsPerUser'>;
}

export interface CodeRequest {
  code: string | undefined;
  redirectUri: string | undefined;
  codeVerifier: string | undefined;
  ip: string;
  userAgent: string | null;
}

/** RFC 7636 4.1: 43 to 128 unreserved characters. */
const VERIFIER = /^[A-Za-z0-9._~-]{43,128}$/;

function pkceMatches(verifier: string, challenge: string): boolean {
  const computed = Buffer.from(createHash('sha256').update(verifier, 'ascii').digest('base64url'));
  const expected = Buffer.from(challenge);
  return computed.length === expected.length && timingSafeEqual(computed, expected);
}

const invalidGrant = (detail: string) => new TesseraError('invalid_grant', { detail });

export async function authorizationCodeGrant(
  deps: AuthorizationCodeDeps,
  client: ClientRow,
  r: CodeRequest,
): Promise<TokenResponseBody> {
  const { db, config } = deps;
  if (!r.code) throw new TesseraError('invalid_request', { detail: 'code missing' });
  const codeHash = sha256(r.code);

  const outcome = await db.transaction(async (tx) => {
    const row = await redeemAuthorizationCode(tx, codeHash);
    if (!row) {
      // Unknown, or redeemed before: then every token issued from it is revoked.
      const earlier = await findRedeemedCode(tx, codeHash);
      if (earlier?.session_id && earlier.client_id === client.id) {
        const ended = await endSession(tx, { sessionId: earlier.session_id, reason: 'code_reuse' });
        if (ended) {
          await recordSecurityEvent(tx, {
            type: 'code_reuse',
            userId: earlier.user_id,
            sessionId: earlier.session_id,
            ip: r.ip,
            detail: { client_id: client.id },
          });
          return { kind: 'reuse' as const };
        }
      }
      return { kind: 'refused' as const, detail: earlier ? 'code already redeemed' : 'unknown code' };
    }
    // From here the code is spent, whatever the verdict: a code is tried once.
    const refuse = (detail: string) => ({ kind: 'refused' as const, detail });
    if (row.client_id !== client.id) return refuse('code issued to another client');
    if (row.expired) return refuse('code expired');
    if (row.redirect_uri_sent || r.redirectUri !== undefined) {
      if (r.redirectUri !== row.redirect_uri) return refuse('redirect_uri differs from the authorization request');
    }
    if (row.code_challenge) {
      if (!r.codeVerifier || !VERIFIER.test(r.codeVerifier)) return refuse('code_verifier missing or malformed');
      if (!pkceMatches(r.codeVerifier, row.code_challenge)) return refuse('code_verifier does not match');
    } else if (r.codeVerifier !== undefined) {
      // RFC 9700 2.1.1: a verifier for a request that had no challenge is a downgrade attempt.
      return refuse('code_verifier without a code_challenge');
    }
    const user = await findUserById(tx, row.user_id);
    if (!user || user.disabled) return refuse('user gone or disabled');

    const session = await openSession(
      tx,
      {
        userId: user.id,
        clientId: client.id,
        scope: row.scope,
        audience: row.audience,
        jti: randomUUID(),
        ttlSeconds: config.refreshTokenTtl,
        userAgent: r.userAgent,
        ip: r.ip,
        authTime: new Date(row.auth_time),
        ...(row.browser_session_id ? { browserSessionId: row.browser_session_id } : {}),
        amr: row.amr,
      },
      config.maxSessionsPerUser,
    );
    await linkCodeSession(tx, codeHash, session.id);
    const tokens = {
      sessionId: session.id,
      userId: user.id,
      clientId: client.id,
      scope: row.scope,
      audience: row.audience,
      roles: user.roles,
      authTime: new Date(session.auth_time),
      refreshJti: session.current_jti,
      refreshIssuedAt: new Date(session.current_issued_at),
      sessionExpiresAt: new Date(session.expires_at),
      amr: row.amr,
      openid: { nonce: row.nonce ?? undefined },
    };
    // Signed inside the transaction: no token leaves unless its session is stored.
    const body = client.grant_types.includes('refresh_token')
      ? (await issueTokenPair(deps, tokens)).response
      : await issueAccessOnly(deps, tokens);
    await recordSecurityEvent(tx, {
      type: 'code_redeemed',
      userId: user.id,
      sessionId: session.id,
      actor: user.id,
      ip: r.ip,
      detail: { client_id: client.id, scope: row.scope },
    });
    return { kind: 'issued' as const, body };
  });

  if (outcome.kind === 'reuse') {
    noteSecurityEvent({ type: 'code_reuse', outcome: 'failure' });
    throw invalidGrant('authorization code reused; its session was ended');
  }
  if (outcome.kind === 'refused') throw invalidGrant(outcome.detail);
  return outcome.body;
}
