// Password login for the first-party client: the cheap checks, then the password under
// the credential guard, then either a new session and its token pair or, for an account
// with a second factor, an mfa_token for the second step (POST /auth/mfa).
import { createHash, randomBytes, randomUUID } from 'node:crypto';
import type { Config } from '../config/config.js';
import type { Database } from '../db/database.js';
import { openSession } from './session-limit.js';
import { findUserByEmail, findUserById, updatePasswordHash, type UserRow } from '../db/repositories/users.js';
import type { PasswordHasher } from '../domain/passwords/password-hasher.js';
import { resolveAudience, resolveScope, USER_SCOPES } from '../domain/tokens/grant-request.js';
import type { CredentialGuard } from '../defences/credential-guard.js';
import { TesseraError } from '../errors/errors.js';
import { recordSecurityEvent } from '../audit/audit-log.js';
import { FIRST_PARTY_CLIENT_ID } from '../clients/clients.js';
import { issueTokenPair, type IssuedTokenPair, type TokenPairDeps } from '../grants/token-pair.js';
import type { SecondFactors } from '../mfa/second-factors.js';
import { insertMfaLogin, reserveMfaAttempt, spendMfaLogin } from '../db/repositories/mfa.js';
import type { AuthenticationResponseJSON } from '@simplewebauthn/server';
import type { SecondFactorMethod } from '../domain/mfa/policy.js';

export interface LoginDeps extends TokenPairDeps {
  db: Database;
  hasher: PasswordHasher;
  credentialGuard: CredentialGuard;
  mfa: SecondFactors;
  config: Pick<
    Config,
    | 'refreshTokenTtl'
    | 'refreshIdleTtl'
    | 'defaultAudience'
    | 'audiences'
    | 'accounts'
    | 'mfa'
    | 'captcha'
    | 'maxSessionsPerUser'
  >;
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
  const { config } = deps;
  // Cheap checks first: nothing here costs a hash.
  const clientId = r.clientId ?? FIRST_PARTY_CLIENT_ID;
  if (clientId !== FIRST_PARTY_CLIENT_ID)
    throw new TesseraError('invalid_request', { detail: 'unknown client_id at login' });
  const scope = resolveScope(r.scope, USER_SCOPES);
  if (scope === undefined) throw new TesseraError('invalid_scope');
  const audience = resolveAudience(r.resource, config);
  if (audience === undefined) throw new TesseraError('invalid_target');

  const { user, captcha, account } = await checkPassword(deps, { ...r, step: 'login' }, log);
  const { methods, passkeys } = await deps.mfa.methods(user.id);
  if (methods.length > 0) {
    // The password was right; the login waits for its second step.
    throw await mfaRequired(deps, {
      userId: user.id,
      clientId,
      ip: r.ip,
      methods,
      webauthn: passkeys.length > 0 ? await deps.mfa.assertionOptions(user.id, passkeys) : undefined,
      request: { scope, audience, captcha, account, user_agent: r.userAgent },
    });
  }
  return openLoginSession(deps, {
    user,
    clientId,
    scope,
    audience,
    amr: ['pwd'],
    ip: r.ip,
    userAgent: r.userAgent,
    detail: { captcha, account },
  });
}

/** A completed login: its session, its token pair, its audit event. */
async function openLoginSession(
  deps: LoginDeps,
  s: {
    user: UserRow;
    clientId: string;
    scope: string;
    audience: string;
    amr: string[];
    ip: string;
    userAgent: string | null;
    detail: Record<string, unknown>;
  },
): Promise<IssuedTokenPair & { userId: string; sessionId: string }> {
  const { config, db } = deps;
  const { user, clientId, scope, audience } = s;
  const session = await db.transaction((tx) =>
    openSession(
      tx,
      {
        userId: user.id,
        clientId,
        scope,
        audience,
        jti: randomUUID(),
        ttlSeconds: config.refreshTokenTtl,
        userAgent: s.userAgent,
        ip: s.ip,
        amr: s.amr,
      },
      config.maxSessionsPerUser,
    ),
  );
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
    amr: s.amr,
  });
  await recordSecurityEvent(db, {
    type: 'login_success',
    userId: user.id,
    sessionId: session.id,
    actor: user.id,
    ip: s.ip,
    detail: { client_id: clientId, amr: s.amr, ...s.detail },
  });
  return { ...issued, userId: user.id, sessionId: session.id };
}

const MFA_TOKEN = /^[A-Za-z0-9_-]{43}$/;
const hashMfaToken = (token: string) => createHash('sha256').update(token, 'utf8').digest();

/**
 * The answer to a right password of an account with a second factor: a new mfa_token
 * (256 random bits, only its hash stored), bound to the client and IP, for MFA_LOGIN_TTL.
 */
export async function mfaRequired(
  deps: { db: Database; config: Pick<Config, 'mfa'> },
  m: {
    userId: string;
    clientId: string;
    ip: string;
    methods: SecondFactorMethod[];
    webauthn: unknown;
    request: Record<string, unknown>;
  },
): Promise<TesseraError> {
  const token = randomBytes(32).toString('base64url');
  await insertMfaLogin(deps.db, {
    tokenHash: hashMfaToken(token),
    userId: m.userId,
    clientId: m.clientId,
    ip: m.ip,
    request: m.request,
    ttlSeconds: deps.config.mfa.loginTtl,
  });
  await recordSecurityEvent(deps.db, {
    type: 'mfa_required',
    userId: m.userId,
    actor: m.userId,
    ip: m.ip,
    detail: { client_id: m.clientId, methods: m.methods },
  });
  return new TesseraError('mfa_required', {
    detail: 'password right, second step pending',
    extra: { mfa_token: token, methods: m.methods, ...(m.webauthn ? { webauthn: m.webauthn } : {}) },
  });
}

export interface SecondStep {
  mfaToken: string;
  method: SecondFactorMethod;
  code: string | undefined;
  assertion: AuthenticationResponseJSON | undefined;
  captchaToken: string | undefined;
  /** The client the step is for: the one the mfa_token was issued to. */
  clientId: string;
  ip: string;
}

/**
 * Checks a second step under the credential guard: an attempt is reserved on the
 * mfa_token (at most CAPTCHA_AFTER_FAILURES, whatever the parallelism) and in the guard's
 * counters for this account's second steps and this IP, which a right password does not
 * reset. The token is spent by success or by its last failure. Returns the login it completes.
 */
export async function checkSecondStep(
  deps: Pick<LoginDeps, 'db' | 'credentialGuard' | 'mfa'> & { config: Pick<Config, 'captcha'> },
  r: SecondStep,
): Promise<{ userId: string; request: Record<string, unknown>; amr: string[]; account: string; captcha: string }> {
  const { db, config } = deps;
  const dead = () => new TesseraError('invalid_grant', { detail: 'mfa_token unknown, spent, expired or elsewhere' });
  if (!MFA_TOKEN.test(r.mfaToken)) throw dead();
  const tokenHash = hashMfaToken(r.mfaToken);
  const limit = config.captcha.afterFailures;
  // Who the token is for, to pick the counters; the attempt itself is reserved under the guard.
  const peek = await db.query<{ user_id: string; client_id: string }>(
    `SELECT user_id, client_id FROM mfa_logins
      WHERE token_hash = $1 AND ip = $2::inet AND spent_at IS NULL AND expires_at > now()`,
    [tokenHash, r.ip],
  );
  const pending = peek[0];
  if (!pending || pending.client_id !== r.clientId) throw dead();
  const passed = await deps.credentialGuard.check(
    {
      step: 'mfa',
      account: `mfa:${pending.user_id}`,
      ip: r.ip,
      captchaToken: r.captchaToken,
      userId: pending.user_id,
      failWith: 'invalid_code',
    },
    async () => {
      const login = await reserveMfaAttempt(db, tokenHash, r.ip, limit);
      if (!login) throw dead();
      const verdict = await deps.mfa.check(login.user_id, r.method, { code: r.code, assertion: r.assertion });
      if (!verdict.ok) {
        if (login.attempts >= limit && (await spendMfaLogin(db, tokenHash)))
          await recordSecurityEvent(db, {
            type: 'mfa_token_spent',
            userId: login.user_id,
            ip: r.ip,
            detail: { attempts: login.attempts },
          });
        return verdict;
      }
      // Of parallel right answers, one completes the login.
      if (!(await spendMfaLogin(db, tokenHash))) throw dead();
      return { ok: true, value: { login, amr: verdict.value.amr } };
    },
  );
  const { login, amr } = passed.value;
  return { userId: login.user_id, request: login.request, amr, account: passed.account, captcha: passed.captcha };
}

/** POST /auth/mfa: the second step of a first-party login, then its session and tokens. */
export async function completeMfaLogin(
  deps: LoginDeps,
  r: SecondStep & { userAgent: string | null },
): Promise<IssuedTokenPair & { userId: string; sessionId: string }> {
  const step = await checkSecondStep(deps, r);
  const user = await findUserById(deps.db, step.userId);
  // Disabled (or erased) between the two steps: like a wrong password, nothing more.
  if (!user || user.disabled) throw new TesseraError('invalid_credentials', { detail: 'user disabled during login' });
  const req = step.request as { scope: string; audience: string };
  return openLoginSession(deps, {
    user,
    clientId: r.clientId,
    scope: req.scope,
    audience: req.audience,
    amr: step.amr,
    ip: r.ip,
    userAgent: r.userAgent,
    detail: { method: r.method, mfa_account: step.account, captcha: step.captcha },
  });
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
