// Who must use a second factor, and what a login's methods say about it: the amr values
// (RFC 8176) a session records and the acr its tokens carry. Pure: no I/O.

/** RFC 8176 method references Tessera records. */
export type Amr = 'pwd' | 'otp' | 'hwk' | 'user' | 'mfa';

/**
 * The acr values tokens carry: `pwd` one factor; `mfa` a password and a one-time code;
 * `phr` a passkey took part (phishing-resistant: its signature is bound to our origin).
 */
export type Acr = 'pwd' | 'mfa' | 'phr';
export const ACR_VALUES: readonly Acr[] = ['pwd', 'mfa', 'phr'];

export type SecondFactorMethod = 'totp' | 'recovery_code' | 'webauthn';

export interface MfaPolicy {
  requiredRoles: readonly string[];
  requiredForAll: boolean;
}

/** Whether an account with these roles must use a second factor. */
export function requiresSecondFactor(roles: readonly string[], policy: MfaPolicy): boolean {
  return policy.requiredForAll || roles.some((r) => policy.requiredRoles.includes(r));
}

export const isMultiFactor = (amr: readonly string[]): boolean => amr.includes('mfa');

/** The amr of a password login completed with this second step. */
export function secondStepAmr(method: SecondFactorMethod): Amr[] {
  return method === 'webauthn' ? ['pwd', 'hwk', 'user', 'mfa'] : ['pwd', 'otp', 'mfa'];
}

/** A passkey alone with user verification (PIN or biometric): possession and a second factor on the device. */
export const PASSWORDLESS_AMR: Amr[] = ['hwk', 'user', 'mfa'];

export function acrFor(amr: readonly string[]): Acr {
  if (amr.includes('hwk') && isMultiFactor(amr)) return 'phr';
  return isMultiFactor(amr) ? 'mfa' : 'pwd';
}

/**
 * The roles a token may carry: an account the policy covers gets none until its session
 * used a second factor, so no service that trusts the token's roles sees powers the
 * account has not fully proven; its own enrolment endpoints still work.
 */
export function tokenRoles(roles: string[], amr: readonly string[], policy: MfaPolicy): string[] {
  return requiresSecondFactor(roles, policy) && !isMultiFactor(amr) ? [] : roles;
}
