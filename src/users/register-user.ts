// Creating a user, shared by POST /users and `tessera users create`.
import type { Config } from '../config/config.js';
import type { Database } from '../db/database.js';
import type { PasswordHasher } from '../domain/passwords/password-hasher.js';
import { TesseraError } from '../errors/errors.js';
import { checkPassword } from '../domain/passwords/password-policy.js';
import { isValidEmail, normalizeEmail } from '../domain/users/email.js';
import { insertUser, type Role, type UserRow } from '../db/repositories/users.js';
import { recordSecurityEvent } from '../audit/audit-log.js';

export const POLICY_TEXT: Record<string, string> = {
  too_short: 'The password is too short',
  too_long: 'The password is too long',
  common: 'The password is too common',
  contains_email: 'The password must not be the email address',
};

export type RegisterResult = { created: true; user: UserRow; email: string } | { created: false; email: string };

export interface RegistrationDeps {
  db: Database;
  hasher: PasswordHasher;
  config: Pick<Config, 'password'>;
}

export async function registerUser(
  deps: RegistrationDeps,
  input: { email: string; password: string; roles: Role[] },
): Promise<RegisterResult> {
  const email = normalizeEmail(input.email);
  // Control characters are refused here: PostgreSQL rejects a NUL byte with an error.
  if (!isValidEmail(email)) {
    throw new TesseraError('invalid_request', { description: 'The email address is invalid' });
  }
  const problem = checkPassword(input.password, { minLength: deps.config.password.minLength, email });
  if (problem) throw new TesseraError('weak_password', { description: POLICY_TEXT[problem]! });
  // Hash before looking: an existing email costs the same time as a new one.
  const passwordHash = await deps.hasher.hash(input.password);
  const user = await insertUser(deps.db, { email, passwordHash, roles: input.roles });
  await recordSecurityEvent(
    deps.db,
    user
      ? { type: 'user_registered', userId: user.id, detail: { roles: user.roles } }
      : { type: 'user_registered', outcome: 'failure', target: null, detail: { reason: 'email_taken' } },
  );
  return user ? { created: true, user, email } : { created: false, email };
}
