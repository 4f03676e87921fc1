// The security event types Tessera records, with their default outcome. The README's
// list of event types is this table; an unknown type is still recorded (as a success).

export type Outcome = 'success' | 'failure';

export const EVENT_TYPES = {
  user_registered: {
    outcome: 'success',
    what: 'an account was created (POST /users or `tessera users create`); failure: the email was taken',
  },
  login_success: { outcome: 'success', what: 'a password login opened a session' },
  login_failure: {
    outcome: 'failure',
    what: 'a password login failed (unknown account, wrong password, disabled account)',
  },
  captcha_demanded: {
    outcome: 'failure',
    what: 'a login or password change was answered captcha_required without an answer',
  },
  captcha_passed: { outcome: 'success', what: 'a captcha answer was verified' },
  captcha_failed: { outcome: 'failure', what: 'a captcha answer was wrong or could not be verified' },
  consent_granted: { outcome: 'success', what: 'a user allowed a third-party client the scopes it asked for' },
  consent_denied: { outcome: 'failure', what: 'a user refused a third-party client at the consent page' },
  consent_withdrawn: {
    outcome: 'success',
    what: "a user withdrew a client's consent (DELETE /users/me/consents/{client_id}): its sessions of that client ended",
  },
  code_redeemed: { outcome: 'success', what: 'an authorization code was exchanged for tokens (a new session)' },
  code_reuse: {
    outcome: 'failure',
    what: 'a redeemed authorization code was presented again: the session it opened was ended',
  },
  logout: { outcome: 'success', what: 'a browser session ended at the logout endpoint, with the sessions it opened' },
  token_refreshed: { outcome: 'success', what: 'a refresh token was rotated (or replayed within the grace window)' },
  refresh_reuse: { outcome: 'failure', what: 'a retired refresh token was presented: the session was ended' },
  session_ended: { outcome: 'success', what: 'one session ended, by its user or by revocation (detail.by)' },
  sessions_ended: {
    outcome: 'success',
    what: "all of a user's sessions ended: by an admin, a role change or disabling",
  },
  password_changed: { outcome: 'success', what: 'a user changed their password' },
  password_change_failure: {
    outcome: 'failure',
    what: 'a password change gave the wrong current password (counted like a failed login)',
  },
  roles_changed: { outcome: 'success', what: "an admin changed a user's roles (detail.from, detail.to)" },
  user_created: {
    outcome: 'success',
    what: 'an admin created a user (POST /admin/users; detail.invited: an invitation was mailed)',
  },
  user_deleted: {
    outcome: 'success',
    what: 'an account was erased by an admin or by its owner (detail.by: the admin id or self); only the id remains',
  },
  unverified_account_deleted: {
    outcome: 'success',
    what: 'an account whose address was never verified was deleted after UNVERIFIED_ACCOUNT_TTL',
  },
  email_verified: { outcome: 'success', what: "a registration's verification link was followed" },
  email_change_requested: { outcome: 'success', what: 'a link to confirm a new address was mailed (detail.by)' },
  email_changed: { outcome: 'success', what: 'an account moved to a new, confirmed address (the old one was told)' },
  email_change_failure: {
    outcome: 'failure',
    what: 'an email change gave the wrong current password (counted like a failed login)',
  },
  account_delete_failure: {
    outcome: 'failure',
    what: 'an account deletion gave the wrong current password (counted like a failed login)',
  },
  password_reset_requested: {
    outcome: 'success',
    what: 'a password reset link was mailed; failure: the address has no (enabled) account, nothing was sent',
  },
  password_reset: {
    outcome: 'success',
    what: 'a password was set with a reset or invitation link: every session ended, the owner was mailed',
  },
  user_disabled: { outcome: 'success', what: 'a user was disabled' },
  user_enabled: { outcome: 'success', what: 'a user was enabled' },
  client_created: { outcome: 'success', what: 'a client was registered (API or CLI)' },
  client_updated: { outcome: 'success', what: "a client's metadata was changed (detail.changed: the field names)" },
  client_secret_rotated: {
    outcome: 'success',
    what: "a client's secret was replaced; the previous one works until detail.previous_secret_expires_at",
  },
  client_disabled: { outcome: 'success', what: 'a client was disabled: its sessions ended, its tokens revoked' },
  client_enabled: { outcome: 'success', what: 'a disabled client was enabled again' },
  client_deleted: { outcome: 'success', what: 'a client was deleted: its sessions ended, its tokens revoked' },
  client_token_revoked: {
    outcome: 'success',
    what: 'a client revoked one of its client_credentials access tokens (RFC 7009; detail.jti)',
  },
  key_created: { outcome: 'success', what: 'a signing key was made' },
  key_activated: { outcome: 'success', what: 'a signing key started signing' },
  key_retired: { outcome: 'success', what: 'a signing key stopped signing' },
  key_revoked: { outcome: 'success', what: 'a signing key was revoked' },
  master_key_rewrap: { outcome: 'success', what: 'stored secrets were re-sealed under a new master key' },
  audit_read: { outcome: 'success', what: 'an admin read the audit log (detail: the filters)' },
  audit_pruned: {
    outcome: 'success',
    what: 'events past AUDIT_RETENTION_DAYS were deleted under a signed prune record',
  },
  mail_undeliverable: {
    outcome: 'failure',
    what: 'a queued mail could not be sent for 48 hours and was dropped (detail: kind, attempts, reason)',
  },
  mfa_required: {
    outcome: 'success',
    what: 'a right password of an account with a second factor was answered with an mfa_token',
  },
  mfa_failure: {
    outcome: 'failure',
    what: 'a second step failed: wrong, replayed or expired code or assertion (counted like a failed login)',
  },
  mfa_token_spent: {
    outcome: 'failure',
    what: 'an mfa_token ran out of attempts (CAPTCHA_AFTER_FAILURES wrong codes): the login starts again',
  },
  mfa_enrolled: { outcome: 'success', what: 'a user confirmed a new second factor (detail.kind: totp or webauthn)' },
  mfa_removed: { outcome: 'success', what: 'a user removed one of their second factors' },
  mfa_reset: { outcome: 'success', what: 'an admin removed every second factor of a user (the user was mailed)' },
  recovery_codes_generated: { outcome: 'success', what: 'a new set of recovery codes replaced the old set' },
  recovery_code_used: { outcome: 'success', what: 'a recovery code completed a login (detail.remaining)' },
  step_up_required: {
    outcome: 'failure',
    what: 'an action needing a recent login or a second factor was refused (insufficient_user_authentication)',
  },
  access_denied: {
    outcome: 'failure',
    what: 'a signed-in user was refused a route for a permission their roles lack (403; detail.permission, detail.route); at most AUDIT_REFUSALS_PER_IP refusals per IP per minute',
  },
  token_rejected: {
    outcome: 'failure',
    what: 'a bearer token at our endpoints, or a refresh token at /oauth/token, was refused (detail.reason: signature, type, unknown_key, algorithm, issuer, audience, claims, malformed; expired tokens are not recorded); limited like access_denied',
  },
  refusals_dropped: {
    outcome: 'failure',
    what: 'refusals from one IP past AUDIT_REFUSALS_PER_IP a minute that were counted, not recorded (detail.dropped, detail.kinds)',
  },
  session_evicted: {
    outcome: 'success',
    what: "a login past MAX_SESSIONS_PER_USER ended the user's least recently used session (detail.limit, detail.by_session)",
  },
} as const satisfies Record<string, { outcome: Outcome; what: string }>;

type EventType = keyof typeof EVENT_TYPES;

export function defaultOutcome(type: string): Outcome {
  return Object.hasOwn(EVENT_TYPES, type) ? EVENT_TYPES[type as EventType].outcome : 'success';
}
