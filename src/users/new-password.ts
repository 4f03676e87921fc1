// The one check of a password someone chooses (registration, change, reset, admin creation):
// the local policy first (length, the common list, the address, the service's own words),
// then the breached-password range lookup when one is configured; the caller hashes only
// after both.
import type { Config } from '../config/config.js';
import type { BreachedPasswords } from '../domain/passwords/breached.js';
import { checkPassword } from '../domain/passwords/password-policy.js';
import { TesseraError } from '../errors/errors.js';

const POLICY_TEXT: Record<string, string> = {
  too_short: 'The password is too short',
  too_long: 'The password is too long',
  common: 'The password is too common',
  contains_email: 'The password must not be the email address',
  context: 'The password is built from words tied to this service',
  breached: 'The password has appeared in a data breach: choose another',
};

export interface NewPasswordDeps {
  config: Pick<Config, 'password'>;
  /** The range lookup (app.breachedPasswords); absent where the app is not built, as in the CLI. */
  breachedPasswords?: Pick<BreachedPasswords, 'check'> | undefined;
}

/**
 * The local policy, then the range lookup. A lookup that fails lets the password through
 * (the lookup logs and counts it). Throws 400 weak_password.
 */
export async function checkNewPassword(deps: NewPasswordDeps, password: string, email: string): Promise<void> {
  // Local and free first: a password the policy refuses is never looked up.
  const { minLength, contextWords } = deps.config.password;
  const problem = checkPassword(password, { minLength, email, contextWords });
  if (problem) throw new TesseraError('weak_password', { description: POLICY_TEXT[problem]! });
  if ((await deps.breachedPasswords?.check(password)) === 'breached') {
    throw new TesseraError('weak_password', { description: POLICY_TEXT.breached!, detail: 'breached password' });
  }
}
