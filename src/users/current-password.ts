// The signed-in user's current password, asked again before a change that a stolen access
// token must not be able to make (password, address, erasure). Checked under the
// credential guard like a login, so it is no password oracle.
import type { PasswordHasher } from '../domain/passwords/password-hasher.js';
import type { CredentialGuard } from '../defences/credential-guard.js';
import type { UserRow } from '../db/repositories/users.js';

export async function checkCurrentPassword(
  deps: { hasher: PasswordHasher; credentialGuard: CredentialGuard },
  r: {
    step: 'password_change' | 'email_change' | 'account_delete';
    user: UserRow;
    password: string;
    ip: string;
    captchaToken: string | undefined;
  },
): Promise<void> {
  await deps.credentialGuard.check(
    { step: r.step, account: r.user.email, ip: r.ip, captchaToken: r.captchaToken, userId: r.user.id },
    async () =>
      (await deps.hasher.verify(r.user.password_hash, r.password))
        ? { ok: true, value: undefined }
        : { ok: false, reason: 'wrong_password', userId: r.user.id },
  );
}
