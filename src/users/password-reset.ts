// Password reset by mail, and invitations (an admin's new user sets a first password the
// same way). A request answers before the address is looked up; the link carries a
// 256-bit single-use token, stored hashed, valid PASSWORD_RESET_TTL, replaced by a newer
// request and ended by any password change. Confirming sets the password under the
// policy, verifies the address (the link proved it), ends every session and tells the owner.
import type { Config } from '../config/config.js';
import type { Database, Queryable } from '../db/database.js';
import type { PasswordHasher } from '../domain/passwords/password-hasher.js';
import type { CredentialGuard } from '../defences/credential-guard.js';
import { TesseraError } from '../errors/errors.js';
import { recordSecurityEvent } from '../audit/audit-log.js';
import { endUserSessions } from '../db/repositories/sessions.js';
import {
  dropAccountTokens,
  findLiveAccountToken,
  issueAccountToken,
  redeemAccountToken,
} from '../db/repositories/account-tokens.js';
import {
  findUserByEmail,
  lockUserById,
  markEmailVerified,
  markSessionsRevoked,
  setPasswordHash,
  type UserRow,
} from '../db/repositories/users.js';
import { accountLinks } from './account-links.js';
import type { MailQueue } from './register-user.js';
import { checkNewPassword, type NewPasswordDeps } from './new-password.js';

export interface ResetDeps {
  db: Database;
  mail: MailQueue;
  config: Pick<Config, 'issuer' | 'accounts' | 'password'>;
}

/**
 * POST /users/password-reset: counted by the credential guard like a login attempt (a
 * captcha past the thresholds), then answered; `later` runs the lookup and the mail after
 * the answer, so an existing and an unknown address cost the caller the same.
 */
export async function requestPasswordReset(
  deps: ResetDeps & { credentialGuard: CredentialGuard },
  r: { email: string; ip: string; captchaToken: string | undefined },
  later: (task: () => Promise<void>) => void,
): Promise<void> {
  if (!deps.config.accounts.selfServiceReset)
    throw new TesseraError('password_reset_unavailable', { detail: 'no SMTP_URL in production' });
  const { account } = await deps.credentialGuard.admit({
    step: 'password_reset',
    account: r.email,
    ip: r.ip,
    captchaToken: r.captchaToken,
  });
  later(async () => {
    const user = await findUserByEmail(deps.db, r.email);
    // A disabled account stays closed: a reset must not be a way around an admin's decision.
    if (!user || user.disabled) {
      await recordSecurityEvent(deps.db, {
        type: 'password_reset_requested',
        outcome: 'failure',
        userId: user?.id ?? null,
        target: null,
        ip: r.ip,
        detail: { account, reason: user ? 'disabled' : 'unknown_account' },
      });
      return;
    }
    await deps.db.transaction(async (tx) => {
      await sendResetLink(deps, tx, user, 'password_reset');
      await recordSecurityEvent(tx, {
        type: 'password_reset_requested',
        userId: user.id,
        ip: r.ip,
        detail: { account },
      });
    });
  });
}

/** Issues a reset (or invitation) token for the user and queues its mail, in `tx`. */
export async function sendResetLink(
  deps: Pick<ResetDeps, 'mail' | 'config'>,
  tx: Queryable,
  user: Pick<UserRow, 'id' | 'email'>,
  purpose: 'password_reset' | 'invitation',
): Promise<void> {
  const ttl = purpose === 'invitation' ? deps.config.accounts.invitationTtl : deps.config.accounts.passwordResetTtl;
  const token = await issueAccountToken(tx, { userId: user.id, purpose, email: user.email, ttlSeconds: ttl });
  await deps.mail.queue(tx, {
    to: user.email,
    kind: purpose,
    link: accountLinks(deps.config.issuer).passwordResetConfirm(token),
    expiresInMinutes: Math.round(ttl / 60),
  });
}

/** A reset mail sent on an admin's or the CLI's behalf. */
export async function sendPasswordResetFor(
  deps: Pick<ResetDeps, 'db' | 'mail' | 'config'>,
  user: UserRow,
  by: { actor: string; ip: string | null },
): Promise<void> {
  await deps.db.transaction(async (tx) => {
    await sendResetLink(deps, tx, user, 'password_reset');
    await recordSecurityEvent(tx, {
      type: 'password_reset_requested',
      userId: user.id,
      ip: by.ip,
      actor: by.actor,
      detail: { by: by.actor },
    });
  });
}

/** What a reset page shows before the password is typed: whether the link still works, and for what. */
export async function resetLinkPurpose(
  db: Queryable,
  token: string,
): Promise<'password_reset' | 'invitation' | undefined> {
  const row = await findLiveAccountToken(db, token, ['password_reset', 'invitation']);
  return row?.purpose === 'invitation' ? 'invitation' : row ? 'password_reset' : undefined;
}

/** POST /users/password-reset/confirm. */
export async function confirmPasswordReset(
  deps: ResetDeps & NewPasswordDeps & { hasher: PasswordHasher },
  r: { token: string; password: string; ip: string | null },
): Promise<{ userId: string; sessionsEnded: number }> {
  // Checked first without using the token, so a password the policy refuses costs no link.
  const live = await findLiveAccountToken(deps.db, r.token, ['password_reset', 'invitation']);
  if (!live) throw new TesseraError('invalid_link', { detail: 'unknown, used or expired reset token' });
  await checkNewPassword(deps, r.password, live.email);
  const hash = await deps.hasher.hash(r.password);
  return deps.db.transaction(async (tx) => {
    // Redeemed here, in the transaction that uses it: of parallel confirmations one wins.
    const token = await redeemAccountToken(tx, r.token, ['password_reset', 'invitation']);
    if (!token) throw new TesseraError('invalid_link', { detail: 'reset token used meanwhile' });
    const user = await lockUserById(tx, token.user_id);
    // The link went to an address the account no longer has, or the account was disabled since.
    if (!user || user.email !== token.email || user.disabled)
      throw new TesseraError('invalid_link', { detail: 'account changed since the link was sent' });
    await setPasswordHash(tx, user.id, hash);
    // Following the link proved the address.
    if (user.email_verified_at === null) await markEmailVerified(tx, user.id);
    await dropAccountTokens(tx, user.id, ['password_reset', 'invitation', 'verify_email']);
    const ended = await endUserSessions(tx, { userId: user.id, reason: 'password_reset' });
    // Browser sessions (single sign-on) older than this stop counting too.
    await markSessionsRevoked(tx, user.id);
    await deps.mail.queue(tx, { to: user.email, kind: 'password_changed' });
    await recordSecurityEvent(tx, {
      type: 'password_reset',
      userId: user.id,
      ip: r.ip,
      detail: { purpose: token.purpose, sessions_ended: ended },
    });
    return { userId: user.id, sessionsEnded: ended };
  });
}
