// The hosted pages that mail links lead to, under ISSUER; the one-time token travels as
// the `token` query parameter (the same token works at the JSON endpoints).
export const ACCOUNT_PAGES = {
  verifyEmail: '/account/verify-email',
  passwordReset: '/account/password-reset',
  passwordResetConfirm: '/account/password-reset/confirm',
} as const;

export function accountLinks(issuer: string) {
  const at = (path: string, token?: string) => {
    const url = new URL(`${issuer}${path}`);
    if (token !== undefined) url.searchParams.set('token', token);
    return url.toString();
  };
  return {
    verifyEmail: (token: string) => at(ACCOUNT_PAGES.verifyEmail, token),
    passwordResetRequest: () => at(ACCOUNT_PAGES.passwordReset),
    passwordResetConfirm: (token: string) => at(ACCOUNT_PAGES.passwordResetConfirm, token),
  };
}
