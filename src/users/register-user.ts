// Creating a user, shared by POST /users and `tessera users create`.
import type { Services } from '../services.js';
import { TesseraError } from '../errors/errors.js';
import { checkPassword } from '../domain/passwords/password-policy.js';
import { insertUser, normalizeEmail, type Role, type UserRow } from '../db/repositories/users.js';
import { recordSecurityEvent } from '../db/repositories/security-events.js';

export const POLICY_TEXT: Record<string, string> = {
  too_short: 'The password is too short',
  too_long: 'The password is too long',
  common: 'The password is too common',
  contains_email: 'The password must not be the email address',
};

export type RegisterResult = { created: true; user: UserRow; email: string } | { created: false; email: string };

export async function registerUser(services: Pick<Services, 'db' | 'hasher' | 'config'>, input: { email: string; password: string; roles: Role[] }): Promise<RegisterResult> {
  const email = normalizeEmail(input.email);
  // Control characters are refused here: PostgreSQL rejects a NUL byte with an error.
  if (!/^[^\s@]{1,64}@[^\s@]+\.[^\s@]+$/.test(email) || email.length > 254 || /\p{Cc}/u.test(email)) {
    throw new TesseraError('invalid_request', { description: 'The email address is invalid' });
  }
  const problem = checkPassword(input.password, { minLength: services.config.password.minLength, email });
  if (problem) throw new TesseraError('weak_password', { description: POLICY_TEXT[problem]! });
  // Hash before looking: an existing email costs the same time as a new one.
  const passwordHash = await services.hasher.hash(input.password);
  const user = await insertUser(services.db, { email, passwordHash, roles: input.roles });
  await recordSecurityEvent(
    services.db,
    user ? { type: 'user_registered', userId: user.id, detail: { roles: user.roles } } : { type: 'user_registered', outcome: 'failure', target: null, detail: { reason: 'email_taken' } },
  );
  return user ? { created: true, user, email } : { created: false, email };
}
