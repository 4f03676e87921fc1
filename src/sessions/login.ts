// Password login for the first-party client: the cheap checks, then the password under
// the credential guard, then a new session and its token pair.
import { randomUUID } from 'node:crypto';
import type { Config } from '../config/config.js';
import type { Database } from '../db/database.js';
import { createSession } from '../db/repositories/sessions.js';
import { findUserByEmail, updatePasswordHash, type UserRow } from '../db/repositories/users.js';
import type { PasswordHasher } from '../domain/passwords/password-hasher.js';
import { resolveAudience, resolveScope, USER_SCOPES } from '../domain/tokens/grant-request.js';
import type { CredentialGuard } from '../defences/credential-guard.js';
import { TesseraError } from '../errors/errors.js';
import { recordSecurityEvent } from '../audit/audit-log.js';
import { FIRST_PARTY_CLIENT_ID } from '../clients/clients.js';
import { issueTokenPair, type IssuedTokenPair, type TokenPairDeps } from '../grants/token-pair.js';

export interface LoginDeps extends TokenPairDeps {
  db: Database;
  hasher: PasswordHasher;
  credentialGuard: CredentialGuard;
  config: Pick<Config, 'refreshTokenTtl' | 'refreshIdleTtl' | 'defaultAudience' | 'audiences' | 'accounts'>;
}

export interface LoginRequest {
  email: string;
  password: string;
  captchaToken: string | undefined;
  clientId: string | undefined;
  scope: string | undefined;
  resource: string | undefined;
  ip: string;
  userAgent: string | null;
}

interface Log {
  warn(o: object, m: string): void;
}

export async function passwordLogin(
  deps: LoginDeps,
  r: LoginRequest,
  log: Log,
): Promise<IssuedTokenPair & { userId: string; sessionId: string }> {
  const { config, db } = deps;
  // Cheap checks first: nothing here costs a hash.
  const clientId = r.clientId ?? FIRST_PARTY_CLIENT_ID;
  if (clientId !== FIRST_PARTY_CLIENT_ID)
    throw new TesseraError('invalid_request', { detail: 'unknown client_id at login' });
  const scope = resolveScope(r.scope, USER_SCOPES);
  if (scope === undefined) throw new TesseraError('invalid_scope');
  const audience = resolveAudience(r.resource, config);
  if (audience === undefined) throw new TesseraError('invalid_target');

  const { user, captcha, account } = await checkPassword(deps, { ...r, step: 'login' }, log);

  const session = await createSession(db, {
    userId: user.id,
    clientId,
    scope,
    audience,
    jti: randomUUID(),
    ttlSeconds: config.refreshTokenTtl,
    userAgent: r.userAgent,
    ip: r.ip,
  });
  const issued = await issueTokenPair(deps, {
    sessionId: session.id,
    userId: user.id,
    clientId,
    scope,
    audience,
    roles: user.roles,
    authTime: new Date(session.auth_time),
    refreshJti: session.current_jti,
    refreshIssuedAt: new Date(session.current_issued_at),
    sessionExpiresAt: new Date(session.expires_at),
  });
  await recordSecurityEvent(db, {
    type: 'login_success',
    userId: user.id,
    sessionId: session.id,
    actor: user.id,
    ip: r.ip,
    detail: { client_id: clientId, captcha, account },
  });
  return { ...issued, userId: user.id, sessionId: session.id };
}

export interface PasswordCheck {
  email: string;
  password: string;
  captchaToken: string | undefined;
  ip: string;
}

/**
 * The password of an account, checked under the credential guard (whichever door it came
 * through: /auth/login or the hosted login page, one set of counters). Unknown, disabled
 * and wrong all answer invalid_credentials in the same time; the right password of an
 * account whose address is not verified yet answers email_not_verified.
 */
export async function checkPassword(
  deps: Pick<LoginDeps, 'db' | 'hasher' | 'credentialGuard'> & { config: Pick<Config, 'accounts'> },
  r: PasswordCheck & { step: 'login' },
  log: Log,
): Promise<{ user: UserRow; captcha: 'passed' | 'not_needed'; account: string }> {
  const { db, hasher, credentialGuard } = deps;
  // The guard reserves an attempt before any hash: past the thresholds, a captcha first.
  const {
    value: user,
    captcha,
    account,
  } = await credentialGuard.check(
    { step: r.step, account: r.email, ip: r.ip, captchaToken: r.captchaToken },
    async () => {
      const found = await findUserByEmail(db, r.email);
      // Unknown accounts cost the same argon2 verify as known ones: same answer, same time.
      const passwordOk = found
        ? await hasher.verify(found.password_hash, r.password)
        : await hasher.verifyDummy(r.password);
      if (found && passwordOk && !found.disabled) return { ok: true, value: found };
      return {
        ok: false,
        reason: !found ? 'unknown_account' : found.disabled && passwordOk ? 'disabled' : 'wrong_password',
        userId: found?.id ?? null,
      };
    },
  );
  // Only the right password learns that the address is not verified yet; a wrong one got
  // invalid_credentials above, like an unknown address.
  if (deps.config.accounts.emailVerification === 'required' && user.email_verified_at === null)
    throw new TesseraError('email_not_verified', { detail: 'login before email verification' });
  if (hasher.needsRehash(user.password_hash)) {
    // Parameters were raised since this hash was made: upgrade it, off the response path.
    hasher
      .hash(r.password)
      .then((hash) => updatePasswordHash(db, user.id, user.password_hash, hash))
      .catch((error: unknown) => log.warn({ err: error }, 'password rehash failed'));
  }

  return { user, captcha, account };
}
