// Creating a user: self-registration (POST /users) and accounts made by an admin or the
// CLI. Under EMAIL_VERIFICATION=required a registration proves nothing until its owner
// follows the link mailed to the address; registering an address that has an account
// mails that account's owner a notice instead, with the same answer and the same work.
import type { Config } from '../config/config.js';
import type { Database, Queryable } from '../db/database.js';
import type { PasswordHasher } from '../domain/passwords/password-hasher.js';
import { TesseraError } from '../errors/errors.js';
import { isValidEmail, normalizeEmail } from '../domain/users/email.js';
import {
  insertUser,
  lockUserByEmail,
  replaceUnverifiedPassword,
  type Role,
  type UserRow,
} from '../db/repositories/users.js';
import { issueAccountToken } from '../db/repositories/account-tokens.js';
import { recordSecurityEvent } from '../audit/audit-log.js';
import type { MailRequest } from '../mail/messages.js';
import { accountLinks } from './account-links.js';
import { checkNewPassword, type NewPasswordDeps } from './new-password.js';

/** Where account use cases put their mail: queued in the caller's transaction. */
export interface MailQueue {
  queue(db: Queryable, mail: MailRequest): Promise<void>;
}

export type RegisterResult = { created: true; user: UserRow; email: string } | { created: false; email: string };

export interface RegistrationDeps extends NewPasswordDeps {
  db: Database;
  hasher: PasswordHasher;
  config: Pick<Config, 'password'>;
}

export interface SelfRegistrationDeps extends RegistrationDeps {
  config: Pick<Config, 'password' | 'issuer' | 'accounts'>;
  mail: MailQueue;
}

/**
 * The address normalized and checked, and the password through checkNewPassword (the local
 * policy, then the breached-password lookup): every check before any hash.
 */
export async function checkNewAccount(
  deps: NewPasswordDeps,
  input: { email: string; password: string },
): Promise<{ email: string }> {
  const email = normalizeEmail(input.email);
  // Control characters are refused here: PostgreSQL rejects a NUL byte with an error.
  if (!isValidEmail(email)) {
    throw new TesseraError('invalid_request', { description: 'The email address is invalid' });
  }
  await checkNewPassword(deps, input.password, email);
  return { email };
}

/**
 * An account whose address counts as verified: `tessera users create`, tests, and (through
 * createUserByAdmin) admins. Undefined-free: `created: false` when the address is taken.
 */
export async function registerUser(
  deps: RegistrationDeps,
  input: { email: string; password: string; roles: Role[] },
): Promise<RegisterResult> {
  const { email } = await checkNewAccount(deps, input);
  const passwordHash = await deps.hasher.hash(input.password);
  const user = await insertUser(deps.db, { email, passwordHash, roles: input.roles, verified: true });
  await recordSecurityEvent(
    deps.db,
    user
      ? { type: 'user_registered', userId: user.id, detail: { roles: user.roles, verified: true } }
      : { type: 'user_registered', outcome: 'failure', target: null, detail: { reason: 'email_taken' } },
  );
  return user ? { created: true, user, email } : { created: false, email };
}

/**
 * POST /users. With verification off, the account works at once (and is not verified).
 * With it required: a new address gets an unverified account and a verification link;
 * an unverified address is taken over by this registration (its own link, carrying this
 * password, so the mailbox's owner decides which registration becomes the account); an
 * address with a verified account gets a notice. Before the answer every path does the
 * same: one hash and one INSERT ... ON CONFLICT DO NOTHING; what differs (the link, the
 * notice, the mail) runs in `later`, after the answer, so neither the answer nor its time
 * tells which addresses have accounts.
 */
export async function registerSelf(
  deps: SelfRegistrationDeps,
  input: { email: string; password: string; ip: string | null },
  later: (task: () => Promise<void>) => void,
): Promise<RegisterResult> {
  const { config } = deps;
  if (config.accounts.emailVerification === 'off') return registerOpen(deps, input);
  const { email } = await checkNewAccount(deps, input);
  // Hash before looking: an existing email costs the same time as a new one.
  const passwordHash = await deps.hasher.hash(input.password);
  const created = await insertUser(deps.db, { email, passwordHash, roles: ['user'], verified: false });
  later(() => afterRegistration(deps, { email, passwordHash, created, ip: input.ip }));
  return created ? { created: true, user: created, email } : { created: false, email };
}

/** The mail a registration sends, and its audit event, in one transaction. */
async function afterRegistration(
  deps: SelfRegistrationDeps,
  r: { email: string; passwordHash: string; created: UserRow | undefined; ip: string | null },
): Promise<void> {
  const { email, passwordHash, created } = r;
  const links = accountLinks(deps.config.issuer);
  const ttl = deps.config.accounts.unverifiedTtl;
  const expiresInMinutes = Math.round(ttl / 60);
  const sendLink = async (tx: Queryable, userId: string) => {
    const token = await issueAccountToken(tx, {
      userId,
      purpose: 'verify_email',
      email,
      ttlSeconds: ttl,
      passwordHash,
    });
    await deps.mail.queue(tx, { to: email, kind: 'verify_email', link: links.verifyEmail(token), expiresInMinutes });
  };
  await deps.db.transaction(async (tx) => {
    if (created) {
      await sendLink(tx, created.id);
      await recordSecurityEvent(tx, {
        type: 'user_registered',
        userId: created.id,
        ip: r.ip,
        detail: { roles: created.roles, verified: false },
      });
      return;
    }
    const existing = await lockUserByEmail(tx, email);
    if (existing && existing.email_verified_at === null) {
      await replaceUnverifiedPassword(tx, existing.id, passwordHash);
      await sendLink(tx, existing.id);
      await recordSecurityEvent(tx, {
        type: 'user_registered',
        userId: existing.id,
        ip: r.ip,
        detail: { reason: 'unverified_replaced', verified: false },
      });
      return;
    }
    if (existing) await deps.mail.queue(tx, { to: email, kind: 'account_exists', link: links.passwordResetRequest() });
    await recordSecurityEvent(tx, {
      type: 'user_registered',
      outcome: 'failure',
      userId: existing?.id ?? null,
      target: null,
      ip: r.ip,
      detail: { reason: 'email_taken' },
    });
  });
}

/** EMAIL_VERIFICATION=off: the account works at once and nobody is mailed. */
async function registerOpen(deps: RegistrationDeps, input: { email: string; password: string; ip: string | null }) {
  const { email } = await checkNewAccount(deps, input);
  const passwordHash = await deps.hasher.hash(input.password);
  const user = await insertUser(deps.db, { email, passwordHash, roles: ['user'], verified: false });
  await recordSecurityEvent(
    deps.db,
    user
      ? { type: 'user_registered', userId: user.id, ip: input.ip, detail: { roles: user.roles, verified: false } }
      : { type: 'user_registered', outcome: 'failure', target: null, ip: input.ip, detail: { reason: 'email_taken' } },
  );
  return user ? ({ created: true, user, email } as const) : ({ created: false, email } as const);
}
