// Erasing an account (an admin's DELETE /admin/users/{id}, or the user's own DELETE
// /users/me with the current password): the row goes and with it, by foreign keys, every
// session, browser session, code, consent and pending link. What remains is the audit
// log's events under the pseudonymous user id, and a revocation entry so verifiers drop
// the user's live access tokens at once. The owner is told by mail.
import type { Config } from '../config/config.js';
import type { Database } from '../db/database.js';
import type { PasswordHasher } from '../domain/passwords/password-hasher.js';
import type { CredentialGuard } from '../defences/credential-guard.js';
import { TesseraError } from '../errors/errors.js';
import { recordSecurityEvent } from '../audit/audit-log.js';
import { endUserSessions } from '../db/repositories/sessions.js';
import { recordRevocation } from '../db/repositories/revocations.js';
import { countOtherEnabledAdmins, deleteUser, lockUserById, type UserRow } from '../db/repositories/users.js';
import type { MailQueue } from './register-user.js';
import { checkCurrentPassword } from './current-password.js';

export interface EraseDeps {
  db: Database;
  mail: MailQueue;
  config: Pick<Config, 'accessTokenTtl'>;
}

/** Erases the user; `by` is the acting admin's id, 'self' or 'cli'. */
export async function eraseUser(deps: EraseDeps, r: { userId: string; by: string; ip: string | null }): Promise<void> {
  await deps.db.transaction(async (tx) => {
    const target = await lockUserById(tx, r.userId);
    if (!target) throw new TesseraError('not_found');
    // Never leave the service without an enabled admin.
    if (target.roles.includes('admin') && !target.disabled && (await countOtherEnabledAdmins(tx, target.id)) === 0)
      throw new TesseraError('invalid_request', { description: 'The last enabled admin cannot be deleted' });
    const ended = await endUserSessions(tx, { userId: target.id, reason: 'user_deleted' });
    // Access tokens outlive the row for up to ACCESS_TOKEN_TTL: the revoked feed lists the user meanwhile.
    await recordRevocation(tx, {
      kind: 'user',
      subject: target.id,
      expiresAt: new Date(Date.now() + (deps.config.accessTokenTtl + 60) * 1000),
    });
    await deps.mail.queue(tx, { to: target.email, kind: 'account_deleted' });
    await deleteUser(tx, target.id);
    await recordSecurityEvent(tx, {
      type: 'user_deleted',
      userId: target.id,
      ip: r.ip,
      actor: r.by === 'self' ? target.id : r.by,
      detail: { by: r.by, sessions_ended: ended, roles: target.roles },
    });
  });
}

/** DELETE /users/me: the current password, checked under the credential guard like a login. */
export async function deleteOwnAccount(
  deps: EraseDeps & { hasher: PasswordHasher; credentialGuard: CredentialGuard },
  r: { user: UserRow; password: string; ip: string; captchaToken: string | undefined },
): Promise<void> {
  await checkCurrentPassword(deps, { step: 'account_delete', ...r });
  await eraseUser(deps, { userId: r.user.id, by: 'self', ip: r.ip });
}
