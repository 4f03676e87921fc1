// Changes to users that end sessions: role changes, disabling, password changes and
// "sign out everywhere", and accounts made by admins. Each runs in one transaction with its
// security event.
import { randomBytes } from 'node:crypto';
import type { Config } from '../config/config.js';
import type { Database } from '../db/database.js';
import type { PasswordHasher } from '../domain/passwords/password-hasher.js';
import type { CredentialGuard } from '../defences/credential-guard.js';
import { TesseraError } from '../errors/errors.js';
import { mayChangeUser, type Role } from '../domain/roles/permissions.js';
import { recordSecurityEvent } from '../audit/audit-log.js';
import { endUserSessions } from '../db/repositories/sessions.js';
import {
  countOtherEnabledAdmins,
  findUserById,
  insertUser,
  listUsers,
  markSessionsRevoked,
  setPasswordHash,
  updateUserFlags,
  type UserPage,
  type UserRow,
} from '../db/repositories/users.js';
import { dropAccountTokens } from '../db/repositories/account-tokens.js';
import { checkNewAccount, type MailQueue } from './register-user.js';
import { checkNewPassword, type NewPasswordDeps } from './new-password.js';
import { sendResetLink } from './password-reset.js';
import { checkCurrentPassword } from './current-password.js';

export type { UserRow };

type Actor = { id: string; roles: readonly string[] };

/** Users by email for admins, keyset-paged: `after` is the last email of the previous page. */
export function findUsers(db: Database, p: { query?: string; limit: number; after?: string }): Promise<UserPage> {
  return listUsers(db, p);
}

export async function changeUser(
  deps: { db: Database },
  actor: Actor,
  targetId: string,
  change: { roles?: Role[]; disabled?: boolean },
  ip: string | null,
): Promise<UserRow> {
  const target = await findUserById(deps.db, targetId);
  if (!target) throw new TesseraError('not_found');
  if (!mayChangeUser(actor.roles, target.roles, change))
    throw new TesseraError('forbidden', { detail: 'user change not allowed' });
  const roles = change.roles ? [...new Set(change.roles)].sort() : undefined;
  const losesAdmin =
    target.roles.includes('admin') && ((roles && !roles.includes('admin')) || change.disabled === true);
  return deps.db.transaction(async (tx) => {
    // Never leave the service without an enabled admin.
    if (losesAdmin && (await countOtherEnabledAdmins(tx, target.id)) === 0) {
      throw new TesseraError('invalid_request', {
        description: 'The last enabled admin cannot be demoted or disabled',
      });
    }
    const updated = (await updateUserFlags(tx, target.id, {
      ...(roles ? { roles } : {}),
      ...(change.disabled !== undefined ? { disabled: change.disabled } : {}),
    }))!;
    const rolesChanged = roles !== undefined && roles.join(' ') !== [...target.roles].sort().join(' ');
    const disabledNow = change.disabled === true && !target.disabled;
    // The next refresh must see the new state: end the user's sessions.
    if (rolesChanged || disabledNow) {
      const ended = await endUserSessions(tx, {
        userId: target.id,
        reason: rolesChanged ? 'roles_changed' : 'user_disabled',
      });
      await markSessionsRevoked(tx, target.id);
      await recordSecurityEvent(tx, {
        type: 'sessions_ended',
        userId: target.id,
        ip,
        detail: { by: actor.id, count: ended, reason: rolesChanged ? 'roles_changed' : 'user_disabled' },
      });
    }
    if (rolesChanged)
      await recordSecurityEvent(tx, {
        type: 'roles_changed',
        userId: target.id,
        ip,
        detail: { by: actor.id, from: target.roles, to: roles },
      });
    if (change.disabled !== undefined && change.disabled !== target.disabled) {
      await recordSecurityEvent(tx, {
        type: change.disabled ? 'user_disabled' : 'user_enabled',
        userId: target.id,
        ip,
        detail: { by: actor.id },
      });
    }
    return updated;
  });
}

export async function endAllSessions(
  deps: { db: Database },
  actor: Actor,
  userId: string,
  ip: string | null,
): Promise<number> {
  const target = await findUserById(deps.db, userId);
  if (!target) throw new TesseraError('not_found');
  return deps.db.transaction(async (tx) => {
    const ended = await endUserSessions(tx, { userId, reason: 'ended_by_admin' });
    await markSessionsRevoked(tx, userId);
    await recordSecurityEvent(tx, {
      type: 'sessions_ended',
      userId,
      ip,
      detail: { by: actor.id, count: ended, reason: 'ended_by_admin' },
    });
    return ended;
  });
}

/**
 * Needs the current password, checked under the credential guard like a login (a stolen
 * access token must not become a password oracle); ends every other session of the user.
 */
export async function changePassword(
  deps: NewPasswordDeps & {
    db: Database;
    hasher: PasswordHasher;
    config: Pick<Config, 'password'>;
    credentialGuard: CredentialGuard;
  },
  p: { user: UserRow; sessionId: string; current: string; next: string; ip: string; captchaToken: string | undefined },
): Promise<number> {
  await checkNewPassword(deps, p.next, p.user.email);
  await checkCurrentPassword(deps, {
    step: 'password_change',
    user: p.user,
    password: p.current,
    ip: p.ip,
    captchaToken: p.captchaToken,
  });
  const hash = await deps.hasher.hash(p.next);
  return deps.db.transaction(async (tx) => {
    await setPasswordHash(tx, p.user.id, hash);
    // A reset link mailed before the change must not undo it.
    await dropAccountTokens(tx, p.user.id, ['password_reset', 'invitation']);
    const ended = await endUserSessions(tx, {
      userId: p.user.id,
      exceptSessionId: p.sessionId,
      reason: 'password_changed',
    });
    await recordSecurityEvent(tx, {
      type: 'password_changed',
      userId: p.user.id,
      sessionId: p.sessionId,
      ip: p.ip,
      detail: { other_sessions_ended: ended },
    });
    return ended;
  });
}

/**
 * POST /admin/users: an account whose address counts as verified, with the password the
 * admin sets, or with an invitation mailed to the address to set one (the account has no
 * usable password until then). An address that has an account is refused (409).
 */
export async function createUserByAdmin(
  deps: NewPasswordDeps & {
    db: Database;
    hasher: PasswordHasher;
    mail: MailQueue;
    config: Pick<Config, 'password' | 'issuer' | 'accounts'>;
  },
  actor: Actor,
  r: { email: string; roles: Role[]; password?: string | undefined; invite: boolean; ip: string | null },
): Promise<UserRow> {
  if ((r.password === undefined) === !r.invite)
    throw new TesseraError('invalid_request', { description: 'Send either a password or "invite": true' });
  if (r.invite && !deps.config.accounts.selfServiceReset)
    throw new TesseraError('invalid_request', { description: 'Invitations need mail: set SMTP_URL' });
  // An invited account's password is 256 random bits nobody knows, hashed like any other.
  const password = r.password ?? randomBytes(32).toString('base64url');
  // A generated password is not looked up: nobody chose it, so no breach lists it.
  const { email } = await checkNewAccount(r.invite ? { config: deps.config } : deps, { email: r.email, password });
  const passwordHash = await deps.hasher.hash(password);
  const roles = [...new Set(r.roles)].sort();
  return deps.db.transaction(async (tx) => {
    const user = await insertUser(tx, { email, passwordHash, roles, verified: true });
    if (!user) throw new TesseraError('email_taken', { detail: 'admin create: address taken' });
    if (r.invite) await sendResetLink(deps, tx, user, 'invitation');
    await recordSecurityEvent(tx, {
      type: 'user_created',
      userId: user.id,
      ip: r.ip,
      detail: { by: actor.id, roles, invited: r.invite },
    });
    return user;
  });
}
