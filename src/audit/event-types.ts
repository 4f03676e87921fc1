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
  user_disabled: { outcome: 'success', what: 'a user was disabled' },
  user_enabled: { outcome: 'success', what: 'a user was enabled' },
  client_created: { outcome: 'success', what: 'a client was registered (API or CLI)' },
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
} as const satisfies Record<string, { outcome: Outcome; what: string }>;

type EventType = keyof typeof EVENT_TYPES;

export function defaultOutcome(type: string): Outcome {
  return Object.hasOwn(EVENT_TYPES, type) ? EVENT_TYPES[type as EventType].outcome : 'success';
}
