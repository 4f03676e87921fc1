// A password login at the hosted page: the same check as POST /auth/login (one credential
// guard, one set of counters), then either the browser session behind single sign-on or,
// for an account with a second factor (or one the policy makes enrol), the pending step.
import type { FastifyReply } from 'fastify';
import type { AppConfig } from '../app.js';
import type { Database } from '../db/database.js';
import { endBrowserSession, type BrowserSessionRow } from '../db/repositories/browser-sessions.js';
import type { UserRow } from '../db/repositories/users.js';
import type { PasswordHasher } from '../domain/passwords/password-hasher.js';
import type { CredentialGuard } from '../defences/credential-guard.js';
import type { SecondFactors } from '../mfa/second-factors.js';
import { requiresSecondFactor, type SecondFactorMethod } from '../domain/mfa/policy.js';
import { recordSecurityEvent } from '../audit/audit-log.js';
import { checkPassword, mfaRequired } from '../sessions/login.js';
import { TesseraError } from '../errors/errors.js';
import { renewBrowserSession, startBrowserSession } from './browser.js';

export interface PageLoginDeps {
  db: Database;
  hasher: PasswordHasher;
  credentialGuard: CredentialGuard;
  mfa: SecondFactors;
  config: Pick<AppConfig, 'sessionTtl' | 'accounts' | 'mfa'>;
}

export interface PageLogin {
  email: string;
  password: string;
  captchaToken: string | undefined;
  ip: string;
  userAgent: string | null;
  /** The client the login is for, for the audit event and the mfa_token's binding. */
  clientId: string;
  /** The browser's current session, replaced by this login. */
  current: BrowserSessionRow | undefined;
}

/** What a right password leads to at the hosted page. */
export type PasswordOutcome =
  | { kind: 'signed_in'; session: BrowserSessionRow }
  | {
      kind: 'second_step';
      mfaToken: string;
      methods: SecondFactorMethod[];
      /** PublicKeyCredentialRequestOptionsJSON for this user's passkeys, when there are any. */
      webauthn: unknown;
    }
  | {
      kind: 'enrol';
      mfaToken: string;
      totp: { secret: string; otpauth_uri: string; qr_svg: string };
    };

const PASSWORD_AMR = ['pwd'];

export async function signInAtPage(
  deps: PageLoginDeps,
  reply: FastifyReply,
  r: PageLogin,
  log: { warn(o: object, m: string): void },
): Promise<PasswordOutcome> {
  const { user, captcha, account } = await checkPassword(deps, { ...r, step: 'login' }, log);
  const { methods, passkeys } = await deps.mfa.methods(user.id);
  if (methods.length > 0) {
    // The password was right; the browser session waits for the second step.
    const webauthn = passkeys.length > 0 ? await deps.mfa.assertionOptions(user.id, passkeys) : undefined;
    const pending = await mfaRequired(deps, {
      userId: user.id,
      clientId: r.clientId,
      ip: r.ip,
      methods,
      webauthn,
      request: {},
    });
    const extra = pending.extra as { mfa_token: string };
    return { kind: 'second_step', mfaToken: extra.mfa_token, methods, webauthn };
  }
  if (requiresSecondFactor(user.roles, deps.config.mfa)) return startEnrolment(deps, user, r);
  const session = await openPageSession(deps, reply, {
    userId: user.id,
    amr: PASSWORD_AMR,
    ...r,
    detail: { captcha, account },
  });
  return { kind: 'signed_in', session };
}

/**
 * An account the policy covers, without a factor yet: a TOTP secret to scan, and an
 * mfa_token binding the pending login (and that secret's factor id) to user, IP and client.
 */
async function startEnrolment(deps: PageLoginDeps, user: UserRow, r: PageLogin): Promise<PasswordOutcome> {
  const { id, ...totp } = await deps.mfa.startTotp(user);
  const pending = await mfaRequired(deps, {
    userId: user.id,
    clientId: r.clientId,
    ip: r.ip,
    methods: ['totp'],
    webauthn: undefined,
    request: { enrol_factor: id },
  });
  return { kind: 'enrol', mfaToken: (pending.extra as { mfa_token: string }).mfa_token, totp };
}

export interface PageSession {
  userId: string;
  amr: string[];
  ip: string;
  userAgent: string | null;
  clientId: string;
  current: BrowserSessionRow | undefined;
  /** More of the login_success event (how the login was made). */
  detail: Record<string, unknown>;
}

/**
 * The browser session of a completed login, whatever its steps were (password, second step,
 * passkey, enrolment): the same session under a new token for the user already here,
 * another user's replaced; audited as login_success.
 */
export async function openPageSession(
  deps: Pick<PageLoginDeps, 'db' | 'config'>,
  reply: FastifyReply,
  s: PageSession,
): Promise<BrowserSessionRow> {
  const { db, config } = deps;
  let session: BrowserSessionRow | undefined;
  if (s.current && s.current.user_id === s.userId) {
    // prompt=login, max_age or step-up for the user already here: the same row (its token
    // sessions stay linked), a fresh auth_time and a new token; the old cookie is dead.
    session = await renewBrowserSession(db, reply, { id: s.current.id, amr: s.amr, ttlSeconds: config.sessionTtl });
    // The presented token changed under us: a parallel re-login won (its token is the only
    // live one) or the session just ended. Opening a second session here would leave two
    // live tokens, so this request is refused; a retry sees the browser's current cookie.
    if (!session)
      throw new TesseraError('temporarily_unavailable', {
        headers: { 'Retry-After': '1' },
        detail: 'browser session token changed during re-authentication',
      });
  } else if (s.current) {
    // Another account signs in in this browser: the previous one is signed out first.
    await endBrowserSession(db, { id: s.current.id, reason: 'replaced' });
  }
  session ??= await startBrowserSession(db, reply, {
    userId: s.userId,
    amr: s.amr,
    ttlSeconds: config.sessionTtl,
    ip: s.ip,
    userAgent: s.userAgent,
  });
  await recordSecurityEvent(db, {
    type: 'login_success',
    userId: s.userId,
    actor: s.userId,
    ip: s.ip,
    detail: { client_id: s.clientId, via: 'hosted_page', amr: s.amr, ...s.detail, browser_session: session.id },
  });
  return session;
}
