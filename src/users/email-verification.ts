// Proving an address: the link of a registration (the account then counts as verified,
// with the password of that registration) and the link of an email change (the account
// then moves to the new address, and the old one is told).
import type { Config } from '../config/config.js';
import type { Database } from '../db/database.js';
import { TesseraError } from '../errors/errors.js';
import { isValidEmail, normalizeEmail } from '../domain/users/email.js';
import { recordSecurityEvent } from '../audit/audit-log.js';
import { dropAccountTokens, issueAccountToken, redeemAccountToken } from '../db/repositories/account-tokens.js';
import {
  changeEmail,
  findUserByEmail,
  lockUserById,
  markEmailVerified,
  type UserRow,
} from '../db/repositories/users.js';
import { accountLinks } from './account-links.js';
import type { MailQueue } from './register-user.js';

export interface VerificationDeps {
  db: Database;
  mail: MailQueue;
  config: Pick<Config, 'issuer' | 'accounts'>;
}

/** POST /users/verify-email: a registration's or an email change's link. */
export async function verifyEmail(
  deps: VerificationDeps,
  r: { token: string; ip: string | null },
): Promise<{ email: string }> {
  return deps.db.transaction(async (tx) => {
    const token = await redeemAccountToken(tx, r.token, ['verify_email', 'email_change']);
    if (!token) throw new TesseraError('invalid_link', { detail: 'unknown, used or expired verification token' });
    const user = await lockUserById(tx, token.user_id);
    if (!user) throw new TesseraError('invalid_link', { detail: 'user gone' });
    if (token.purpose === 'verify_email') {
      // The address changed since the link was sent: it proves nothing about the new one.
      if (token.email !== user.email) throw new TesseraError('invalid_link', { detail: 'address changed since' });
      await markEmailVerified(tx, user.id, user.email_verified_at === null ? token.password_hash : null);
      // The other registrations of this address are void now.
      await dropAccountTokens(tx, user.id, ['verify_email']);
      await recordSecurityEvent(tx, { type: 'email_verified', userId: user.id, ip: r.ip, detail: {} });
      return { email: user.email };
    }
    if (!(await changeEmail(tx, user.id, token.email)))
      throw new TesseraError('email_taken', { detail: 'new address taken before confirmation' });
    // Links sent to the old address (a reset, say) must not act on the moved account.
    await dropAccountTokens(tx, user.id, ['password_reset', 'invitation', 'verify_email']);
    await deps.mail.queue(tx, { to: user.email, kind: 'email_changed' });
    await recordSecurityEvent(tx, { type: 'email_changed', userId: user.id, ip: r.ip, detail: {} });
    return { email: token.email };
  });
}

/**
 * Starts moving an account to a new address: a link to the new address, which takes effect
 * when followed. `taken` tells an admin the address has an account; a user changing their
 * own address is not told (no enumeration): nothing is sent then.
 */
export async function requestEmailChange(
  deps: VerificationDeps,
  r: { user: UserRow; email: string; by: string; ip: string | null },
): Promise<{ sent: boolean; taken: boolean }> {
  const email = normalizeEmail(r.email);
  if (!isValidEmail(email)) throw new TesseraError('invalid_request', { description: 'The email address is invalid' });
  if (email === r.user.email) return { sent: false, taken: false };
  if (await findUserByEmail(deps.db, email)) return { sent: false, taken: true };
  const ttl = deps.config.accounts.passwordResetTtl;
  await deps.db.transaction(async (tx) => {
    const token = await issueAccountToken(tx, { userId: r.user.id, purpose: 'email_change', email, ttlSeconds: ttl });
    await deps.mail.queue(tx, {
      to: email,
      kind: 'email_change',
      link: accountLinks(deps.config.issuer).verifyEmail(token),
      expiresInMinutes: Math.round(ttl / 60),
    });
    await recordSecurityEvent(tx, {
      type: 'email_change_requested',
      userId: r.user.id,
      ip: r.ip,
      detail: { by: r.by },
    });
  });
  return { sent: true, taken: false };
}
