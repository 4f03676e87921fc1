// The hosted login page's steps after the password: the second step (TOTP, recovery code
// or passkey), a passwordless passkey sign-in, and the TOTP enrolment the policy forces.
// Each ends in the browser session of src/authorization/page-login.ts; the checks are the
// API's own (checkSecondStep, SecondFactors), under the same counters.
import { createHash } from 'node:crypto';
import type { FastifyReply } from 'fastify';
import type { AuthenticationResponseJSON } from '@simplewebauthn/server';
import { Value } from 'typebox/value';
import { AssertionResponse } from '../schemas.js';
import type { BrowserSessionRow } from '../db/repositories/browser-sessions.js';
import { findUserById } from '../db/repositories/users.js';
import { findPendingTotp, reserveMfaAttempt, spendMfaLogin } from '../db/repositories/mfa.js';
import { PASSWORDLESS_AMR, type SecondFactorMethod } from '../domain/mfa/policy.js';
import type { Config } from '../config/config.js';
import { TesseraError } from '../errors/errors.js';
import { checkSecondStep } from '../sessions/login.js';
import { openPageSession, type PageLoginDeps } from './page-login.js';

type Deps = PageLoginDeps & { config: Pick<Config, 'captcha'> };

/** How long a started TOTP enrolment waits for its first code (SecondFactors' own limit). */
const PENDING_TOTP_TTL = 900;
const MFA_TOKEN = /^[A-Za-z0-9_-]{43}$/;
const tokenHash = (token: string) => createHash('sha256').update(token, 'utf8').digest();

/**
 * A form's assertion field: PublicKeyCredential.toJSON() as JSON text, held to the API's
 * own schema of it; undefined for anything else (answered like a wrong code).
 */
export function parseAssertion(text: string | undefined): AuthenticationResponseJSON | undefined {
  if (text === undefined || text === '') return undefined;
  let value: unknown;
  try {
    value = JSON.parse(text);
  } catch {
    return undefined;
  }
  return Value.Check(AssertionResponse, value) ? value : undefined;
}

/** Who a live mfa_token is for, from this IP and for this client; undefined when dead. */
export async function pendingMfaLogin(
  deps: Pick<Deps, 'db'>,
  m: { mfaToken: string; ip: string; clientId: string },
): Promise<{ userId: string; request: Record<string, unknown> } | undefined> {
  if (!MFA_TOKEN.test(m.mfaToken)) return undefined;
  const rows = await deps.db.query<{ user_id: string; client_id: string; request: Record<string, unknown> }>(
    `SELECT user_id, client_id, request FROM mfa_logins
      WHERE token_hash = $1 AND ip = $2::inet AND spent_at IS NULL AND expires_at > now()`,
    [tokenHash(m.mfaToken), m.ip],
  );
  const row = rows[0];
  return row && row.client_id === m.clientId ? { userId: row.user_id, request: row.request } : undefined;
}

interface BrowserContext {
  ip: string;
  userAgent: string | null;
  clientId: string;
  current: BrowserSessionRow | undefined;
}

const disabled = () => new TesseraError('invalid_credentials', { detail: 'user disabled during login' });

/** The second step at the hosted page: checked like POST /auth/mfa, then the browser session. */
export async function secondStepAtPage(
  deps: Deps,
  reply: FastifyReply,
  r: BrowserContext & {
    mfaToken: string;
    method: SecondFactorMethod;
    code: string | undefined;
    assertion: AuthenticationResponseJSON | undefined;
    captchaToken: string | undefined;
  },
): Promise<BrowserSessionRow> {
  const step = await checkSecondStep(deps, r);
  const user = await findUserById(deps.db, step.userId);
  // Disabled (or erased) between the two steps: like a wrong password, nothing more.
  if (!user || user.disabled) throw disabled();
  return openPageSession(deps, reply, {
    ...r,
    userId: user.id,
    amr: step.amr,
    detail: { method: r.method, mfa_account: step.account, captcha: step.captcha },
  });
}

/**
 * A passwordless sign-in with a discoverable passkey. Its failures count under the
 * credential guard like wrong passwords, per IP and per credential id it names (the
 * account is unknown before the check; one shared name would let anyone make the captcha
 * due for every passkey sign-in).
 */
export async function passkeyAtPage(
  deps: Deps,
  reply: FastifyReply,
  r: BrowserContext & { assertion: AuthenticationResponseJSON | undefined; captchaToken: string | undefined },
): Promise<BrowserSessionRow> {
  const passed = await deps.credentialGuard.check(
    {
      step: 'login',
      account: `passkey:${r.assertion?.rawId ?? ''}`,
      ip: r.ip,
      captchaToken: r.captchaToken,
      failWith: 'invalid_credentials',
    },
    async () => {
      if (r.assertion === undefined) return { ok: false, reason: 'malformed assertion', userId: null };
      const verdict = await deps.mfa.checkPasswordless(r.assertion);
      if (!verdict.ok) return verdict;
      const user = await findUserById(deps.db, verdict.value.userId);
      if (!user || user.disabled) return { ok: false, reason: 'disabled', userId: verdict.value.userId };
      return { ok: true, value: user };
    },
  );
  return openPageSession(deps, reply, {
    ...r,
    userId: passed.value.id,
    amr: PASSWORDLESS_AMR,
    detail: { method: 'passkey', captcha: passed.captcha, account: passed.account },
  });
}

export type EnrolmentResult =
  { ok: true; session: BrowserSessionRow; recoveryCodes: string[] } | { ok: false; userId: string; email: string };

/**
 * The first code of the TOTP secret the policy made the user enrol after the password. Each
 * try reserves an attempt on the mfa_token (at most CAPTCHA_AFTER_FAILURES per password
 * login); the last failure or the success spends it. A dead token answers invalid_grant.
 */
export async function confirmEnrolmentAtPage(
  deps: Deps,
  reply: FastifyReply,
  r: BrowserContext & { mfaToken: string; code: string },
): Promise<EnrolmentResult> {
  const { db } = deps;
  const dead = () => new TesseraError('invalid_grant', { detail: 'enrolment mfa_token unknown, spent or expired' });
  if (!MFA_TOKEN.test(r.mfaToken)) throw dead();
  const hash = tokenHash(r.mfaToken);
  const login = await reserveMfaAttempt(db, hash, r.ip, deps.config.captcha.afterFailures);
  if (!login || login.client_id !== r.clientId) throw dead();
  const user = await findUserById(db, login.user_id);
  if (!user || user.disabled) throw disabled();
  // The secret shown on this page, not one started elsewhere since.
  const pending = await findPendingTotp(db, user.id, PENDING_TOTP_TTL);
  if (!pending || pending.id !== login.request.enrol_factor) throw dead();
  const actor = { userId: user.id, sessionId: undefined, ip: r.ip };
  let enrolled: Awaited<ReturnType<typeof deps.mfa.confirmTotp>>;
  try {
    enrolled = await deps.mfa.confirmTotp(user, r.code, actor);
  } catch (error) {
    if (!(error instanceof TesseraError) || error.code !== 'invalid_code') throw error;
    if (login.attempts >= deps.config.captcha.afterFailures) {
      await spendMfaLogin(db, hash);
      throw dead();
    }
    return { ok: false, userId: user.id, email: user.email };
  }
  if (!(await spendMfaLogin(db, hash))) throw dead();
  const session = await openPageSession(deps, reply, {
    ...r,
    userId: user.id,
    amr: ['pwd', 'otp', 'mfa'],
    detail: { method: 'totp', enrolled: true },
  });
  return { ok: true, session, recoveryCodes: enrolled.recovery_codes ?? [] };
}
