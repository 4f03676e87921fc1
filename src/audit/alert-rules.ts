// Alert rules over security events, as pure functions: which rule an event feeds and
// under which subject, whether a threshold is crossed, and whether an alert is new or
// folds into the one raised for the same rule and subject within the dedupe window.

export interface AlertSettings {
  /** Failed logins for one account name within the window; 0 turns the rule off. */
  failedLoginsPerAccount: number;
  /** Failed logins from one client IP within the window; 0 turns the rule off. */
  failedLoginsPerIp: number;
  /** Wrong or unverifiable captcha answers from one client IP within the window; 0 turns the rule off. */
  captchaFailuresPerIp: number;
  /** Failed second steps (wrong codes or assertions) for one account within the window; 0 turns the rule off. */
  mfaFailuresPerAccount: number;
  /** Refusals (403s, forged or misdirected tokens) from one client IP within the window; 0 turns the rule off. */
  refusalsPerIp: number;
  windowSeconds: number;
  dedupWindowSeconds: number;
}

export type RuleName =
  | 'failed_logins_account'
  | 'failed_logins_ip'
  | 'captcha_failures_ip'
  | 'mfa_failures_account'
  | 'refusals_ip'
  | 'refresh_reuse'
  | 'key_revoked'
  | 'admin_role_granted';
export type Severity = 'warning' | 'critical';

/** The README's table of alert rules. */
export const RULES: Record<RuleName, { severity: Severity; when: string; setting?: string }> = {
  failed_logins_account: {
    severity: 'warning',
    when: 'failed password checks (logins and password changes) for one account name (existing or not) within ALERT_WINDOW reach the threshold',
    setting: 'ALERT_FAILED_LOGINS_PER_ACCOUNT',
  },
  failed_logins_ip: {
    severity: 'warning',
    when: 'failed password checks (logins and password changes) and second steps from one client IP within ALERT_WINDOW reach the threshold',
    setting: 'ALERT_FAILED_LOGINS_PER_IP',
  },
  captcha_failures_ip: {
    severity: 'warning',
    when: 'wrong or unverifiable captcha answers from one client IP within ALERT_WINDOW reach the threshold',
    setting: 'ALERT_CAPTCHA_FAILURES_PER_IP',
  },
  mfa_failures_account: {
    severity: 'critical',
    when: 'failed second steps (wrong codes, replays, refused passkey assertions) for one account within ALERT_WINDOW reach the threshold: someone has its password',
    setting: 'ALERT_MFA_FAILURES_PER_ACCOUNT',
  },
  refusals_ip: {
    severity: 'warning',
    when: 'refusals (403s, forged or misdirected bearer tokens) from one client IP within ALERT_WINDOW reach the threshold, those past AUDIT_REFUSALS_PER_IP included',
    setting: 'ALERT_REFUSALS_PER_IP',
  },
  refresh_reuse: {
    severity: 'critical',
    when: 'a retired refresh token was presented (the session was ended); per user',
  },
  key_revoked: { severity: 'critical', when: 'a signing key was revoked; per key' },
  admin_role_granted: {
    severity: 'critical',
    when: 'a user gained the admin role (role change, or created as admin); per user',
  },
};

/** The fields of an event the rules read. */
export interface RuleEvent {
  id: number;
  created_at: Date;
  type: string;
  user_id: string | null;
  session_id: string | null;
  ip: string | null;
  actor: string | null;
  target: string | null;
  detail: Record<string, unknown>;
}

/** Every failed check of a password or other secret (the credential guard's events). */
const CREDENTIAL_FAILURES = [
  'login_failure',
  'password_change_failure',
  'email_change_failure',
  'account_delete_failure',
] as const;
const FAILURES_FROM_IP = [...CREDENTIAL_FAILURES, 'mfa_failure'] as const;
/** Refusal events, and the summary of those past the per-IP record limit (weighed by its detail.dropped). */
const REFUSALS = ['access_denied', 'token_rejected', 'refusals_dropped'] as const;

/** For threshold rules: which events to count, and by what. */
interface Threshold {
  types: readonly string[];
  field: 'ip' | 'account';
  limit: number;
  /** A detail field that says how many occurrences an event stands for (absent: one). */
  weight?: 'dropped';
}

export interface RuleMatch {
  rule: RuleName;
  subject: string;
  threshold?: Threshold;
  detail: Record<string, unknown>;
}

const asStrings = (value: unknown): string[] =>
  Array.isArray(value) ? value.filter((v): v is string => typeof v === 'string') : [];

/** The rules an event feeds. */
export function matchEvent(e: RuleEvent, s: AlertSettings): RuleMatch[] {
  const out: RuleMatch[] = [];
  switch (e.type) {
    case 'login_failure':
    case 'password_change_failure':
    case 'email_change_failure':
    case 'account_delete_failure':
    case 'mfa_failure': {
      const account = typeof e.detail.account === 'string' ? e.detail.account : undefined;
      if (e.type === 'mfa_failure') {
        if (s.mfaFailuresPerAccount > 0 && account)
          out.push({
            rule: 'mfa_failures_account',
            subject: account,
            threshold: { types: ['mfa_failure'], field: 'account', limit: s.mfaFailuresPerAccount },
            detail: { account, user_id: e.user_id },
          });
      } else if (s.failedLoginsPerAccount > 0 && account) {
        out.push({
          rule: 'failed_logins_account',
          subject: account,
          threshold: { types: CREDENTIAL_FAILURES, field: 'account', limit: s.failedLoginsPerAccount },
          detail: { account, user_id: e.user_id },
        });
      }
      if (s.failedLoginsPerIp > 0 && e.ip) {
        out.push({
          rule: 'failed_logins_ip',
          subject: e.ip,
          threshold: { types: FAILURES_FROM_IP, field: 'ip', limit: s.failedLoginsPerIp },
          detail: { ip: e.ip },
        });
      }
      break;
    }
    case 'captcha_failed':
      if (s.captchaFailuresPerIp > 0 && e.ip) {
        out.push({
          rule: 'captcha_failures_ip',
          subject: e.ip,
          threshold: { types: ['captcha_failed'], field: 'ip', limit: s.captchaFailuresPerIp },
          detail: { ip: e.ip },
        });
      }
      break;
    case 'access_denied':
    case 'token_rejected':
    case 'refusals_dropped':
      if (s.refusalsPerIp > 0 && e.ip) {
        out.push({
          rule: 'refusals_ip',
          subject: e.ip,
          threshold: { types: REFUSALS, field: 'ip', limit: s.refusalsPerIp, weight: 'dropped' },
          detail: { ip: e.ip },
        });
      }
      break;
    case 'refresh_reuse':
      out.push({
        rule: 'refresh_reuse',
        subject: e.user_id ?? e.session_id ?? 'unknown',
        detail: { user_id: e.user_id, session_id: e.session_id, ip: e.ip },
      });
      break;
    case 'key_revoked':
      out.push({
        rule: 'key_revoked',
        subject: String((e.detail.kid as string | undefined) ?? e.target ?? 'unknown'),
        detail: { kid: e.detail.kid, purpose: e.detail.purpose, actor: e.actor },
      });
      break;
    case 'roles_changed': {
      const gained = asStrings(e.detail.to).includes('admin') && !asStrings(e.detail.from).includes('admin');
      if (gained)
        out.push({
          rule: 'admin_role_granted',
          subject: e.user_id ?? e.target ?? 'unknown',
          detail: { user_id: e.user_id, actor: e.actor },
        });
      break;
    }
    case 'user_registered':
      if (asStrings(e.detail.roles).includes('admin'))
        out.push({
          rule: 'admin_role_granted',
          subject: e.user_id ?? e.target ?? 'unknown',
          detail: { user_id: e.user_id, actor: e.actor, created: true },
        });
      break;
    default:
      break;
  }
  return out;
}

/** The events of one batch that feed one (rule, subject). */
export interface MatchGroup {
  key: string;
  match: RuleMatch;
  eventIds: number[];
  lastAt: Date;
}

export function groupMatches(events: readonly RuleEvent[], s: AlertSettings): MatchGroup[] {
  const groups = new Map<string, MatchGroup>();
  for (const e of events) {
    for (const match of matchEvent(e, s)) {
      const key = `${match.rule}\u0000${match.subject}`;
      const group = groups.get(key);
      if (group) {
        group.eventIds.push(e.id);
        group.lastAt = e.created_at;
        group.match = match;
      } else {
        groups.set(key, { key, match, eventIds: [e.id], lastAt: e.created_at });
      }
    }
  }
  return [...groups.values()];
}

/** A new alert, or one more occurrence of the alert raised for this rule and subject less than the dedupe window ago. */
export function dedupeDecision(
  existing: { first_seen_at: Date } | undefined,
  now: Date,
  dedupWindowSeconds: number,
): 'new' | 'merge' {
  if (!existing) return 'new';
  return now.getTime() - existing.first_seen_at.getTime() < dedupWindowSeconds * 1000 ? 'merge' : 'new';
}

export function summarize(rule: RuleName, count: number, detail: Record<string, unknown>, s: AlertSettings): string {
  switch (rule) {
    case 'failed_logins_account':
      return `${count} failed password checks for one account name within ${s.windowSeconds} s`;
    case 'failed_logins_ip':
      return `${count} failed password checks from ${String(detail.ip)} within ${s.windowSeconds} s`;
    case 'mfa_failures_account':
      return `${count} failed second steps for one account within ${s.windowSeconds} s: its password is known`;
    case 'captcha_failures_ip':
      return `${count} failed captcha answers from ${String(detail.ip)} within ${s.windowSeconds} s`;
    case 'refusals_ip':
      return `${count} refused requests (403s, forged tokens) from ${String(detail.ip)} within ${s.windowSeconds} s`;
    case 'refresh_reuse':
      return `refresh token reuse: session ${String(detail.session_id)} of user ${String(detail.user_id)} was ended`;
    case 'key_revoked':
      return `signing key ${String(detail.kid)} (${String(detail.purpose)}) was revoked`;
    case 'admin_role_granted':
      return `user ${String(detail.user_id)} was granted the admin role`;
  }
}
