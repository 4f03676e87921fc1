// The one guard around every check of a password or other secret: login, password change,
// and each later credential step. An attempt is reserved in the shared counters before the
// secret is checked, so no interleaving of parallel requests, on any instance, gets more
// checks without a captcha than CAPTCHA_AFTER_FAILURES per account name and
// CAPTCHA_AFTER_IP_FAILURES per client IP. Past those a captcha is required; failures are
// answered slower and slower, and every check that fails is an audit event that the alert
// rules count. There is no lockout an attacker could turn against a real user: a solved
// captcha always gets an attempt.
import { setTimeout as sleep } from 'node:timers/promises';
import { TesseraError } from '../errors/errors.js';
import type { CaptchaOutcome, CaptchaVerifier } from './captcha.js';
import { attemptKeys, type AttemptCounter } from './attempt-counter.js';
import type { Queryable } from '../db/database.js';
import { recordSecurityEvent } from '../audit/audit-log.js';

/** Where a secret is checked; also the captcha action expected there (reCAPTCHA v3). */
type CredentialStep = 'login' | 'password_change' | 'email_change' | 'account_delete' | 'password_reset' | 'mfa';

export interface CredentialGuardSettings {
  afterFailures: number;
  afterIpFailures: number;
  maxDelayMs: number;
}

/** What the guard writes to the audit log: a failed check, or a captcha step. */
export interface GuardEvent {
  type: `${CredentialStep}_failure` | 'captcha_demanded' | 'captcha_passed' | 'captcha_failed';
  step: CredentialStep;
  ip: string;
  userId: string | null;
  /** The account name's counter key (a keyed hash, never the address as typed). */
  account: string;
  reason?: string;
  verdict?: CaptchaOutcome;
}

export interface GuardedCheck {
  step: CredentialStep;
  /** The account name the secret is for: the email as typed at login, the user's own email after it. */
  account: string;
  ip: string;
  captchaToken: string | undefined;
  /** The user the secret is checked for, when known before the check (for the audit log). */
  userId?: string | null;
  /** What a wrong secret answers: invalid_credentials unless said (a second step: invalid_code). */
  failWith?: 'invalid_credentials' | 'invalid_code';
}

/** The verdict of the check itself; `reason` and `userId` go to the audit log only. */
export type Verdict<T> = { ok: true; value: T } | { ok: false; reason: string; userId: string | null };

export interface Passed<T> {
  value: T;
  /** Whether this attempt needed a captcha, and solved it. */
  captcha: 'passed' | 'not_needed';
  /** The account name's counter key, for the success event. */
  account: string;
}

/** How the guard's events reach the audit log: the account as its counter key, never as typed. */
export function auditGuardEvents(db: Queryable): (event: GuardEvent) => Promise<void> {
  return (e) =>
    recordSecurityEvent(db, {
      type: e.type,
      userId: e.userId,
      ip: e.ip,
      ...(e.type.startsWith('captcha_') ? { target: null } : {}),
      detail: {
        account: e.account,
        step: e.step,
        ...(e.reason ? { reason: e.reason } : {}),
        ...(e.verdict ? { verdict: e.verdict } : {}),
      },
    });
}

/** 250 ms, doubling with each failure past the captcha threshold, up to the maximum. */
function failureDelayMs(failures: number, afterFailures: number, maxDelayMs: number): number {
  const over = failures - afterFailures;
  if (over <= 0) return 0;
  return Math.min(maxDelayMs, 250 * 2 ** Math.min(over - 1, 16));
}

export class CredentialGuard {
  constructor(
    private readonly counter: AttemptCounter,
    private readonly captcha: CaptchaVerifier,
    private readonly settings: CredentialGuardSettings,
    private readonly secret: Buffer,
    private readonly audit: (event: GuardEvent) => Promise<void>,
  ) {}

  /** Housekeeping: counter entries past the window and spent captcha answers. */
  async prune(): Promise<void> {
    await Promise.all([this.counter.prune(), this.captcha.prune()]);
  }

  /** The counter keys for an account name and a client IP. */
  keysFor(account: string, ip: string): { account: string; ip: string } {
    return attemptKeys(this.secret, account, ip);
  }

  /**
   * Whether the next attempt for this account name from this IP needs a captcha, so a page
   * can show the widget before the attempt is refused. Advisory: `check` decides.
   */
  async captchaDue(account: string, ip: string): Promise<boolean> {
    if (!this.captcha.enabled) return false;
    const keys = this.keysFor(account, ip);
    const [forAccount = 0, forIp = 0] = await this.counter.count([keys.account, keys.ip]);
    return forAccount >= this.settings.afterFailures || forIp >= this.settings.afterIpFailures;
  }

  /**
   * Runs `verify` (the hash comparison) only once an attempt is reserved. Throws
   * captcha_required when the attempt's share is used up and no valid captcha answer came
   * with it, invalid_credentials when the verdict is no.
   */
  async check<T>(c: GuardedCheck, verify: () => Promise<Verdict<T>>): Promise<Passed<T>> {
    const keys = this.keysFor(c.account, c.ip);
    const event = (type: GuardEvent['type'], more: Partial<GuardEvent> = {}) =>
      this.audit({ type, step: c.step, ip: c.ip, userId: c.userId ?? null, account: keys.account, ...more });
    const both = [keys.account, keys.ip];
    let captcha: Passed<T>['captcha'] = 'not_needed';
    // Without a captcha provider there is nothing to escalate to: count, never refuse.
    let reservation = await this.counter.reserve(
      both,
      this.captcha.enabled ? [this.settings.afterFailures, this.settings.afterIpFailures] : null,
    );
    if (!reservation) {
      if (!c.captchaToken) {
        await event('captcha_demanded');
        throw this.captchaRequired('captcha demanded');
      }
      const outcome = await this.captcha.verify(c.captchaToken, c.ip, c.step);
      if (outcome !== 'passed') {
        // A wrong answer counts as a failure too, so guessing answers is slowed alike.
        await this.counter.reserve(both, null);
        await event('captcha_failed', { verdict: outcome });
        throw this.captchaRequired(`captcha ${outcome}`);
      }
      await event('captcha_passed');
      captcha = 'passed';
      reservation = (await this.counter.reserve(both, null))!;
    }

    let verdict: Verdict<T>;
    try {
      verdict = await verify();
    } catch (error) {
      // No verdict reached the caller (busy hasher, database error): the attempt taught
      // nothing, so it does not count.
      await this.counter.release(reservation).catch(() => undefined);
      throw error;
    }
    if (!verdict.ok) {
      // The reservation stays: it is this failure's entry in the window.
      await event(`${c.step}_failure`, { reason: verdict.reason, userId: verdict.userId ?? c.userId ?? null });
      const delay = failureDelayMs(reservation.counts[0]!, this.settings.afterFailures, this.settings.maxDelayMs);
      if (delay > 0) await sleep(delay);
      throw new TesseraError(c.failWith ?? 'invalid_credentials', { detail: `${c.step} failed: ${verdict.reason}` });
    }
    await this.counter.release(reservation, keys.account);
    return { value: verdict.value, captcha, account: keys.account };
  }

  /**
   * An attempt that checks no secret but must be counted like one: a password reset
   * request (each one may mail the address). The attempt is reserved and kept, as a failure
   * is; past the thresholds it needs a solved captcha, like a login. Repeated requests for
   * one address or from one IP therefore cost what repeated wrong passwords cost.
   */
  async admit(c: GuardedCheck): Promise<{ captcha: Passed<unknown>['captcha']; account: string }> {
    const keys = this.keysFor(c.account, c.ip);
    const both = [keys.account, keys.ip];
    const event = (type: GuardEvent['type'], more: Partial<GuardEvent> = {}) =>
      this.audit({ type, step: c.step, ip: c.ip, userId: c.userId ?? null, account: keys.account, ...more });
    const reserved = await this.counter.reserve(
      both,
      this.captcha.enabled ? [this.settings.afterFailures, this.settings.afterIpFailures] : null,
    );
    if (reserved) return { captcha: 'not_needed', account: keys.account };
    if (!c.captchaToken) {
      await event('captcha_demanded');
      throw this.captchaRequired('captcha demanded');
    }
    const outcome = await this.captcha.verify(c.captchaToken, c.ip, c.step);
    await this.counter.reserve(both, null);
    if (outcome !== 'passed') {
      await event('captcha_failed', { verdict: outcome });
      throw this.captchaRequired(`captcha ${outcome}`);
    }
    await event('captcha_passed');
    return { captcha: 'passed', account: keys.account };
  }

  private captchaRequired(detail: string): TesseraError {
    return new TesseraError('captcha_required', {
      detail,
      extra: { captcha_provider: this.captcha.provider, captcha_sitekey: this.captcha.sitekey },
    });
  }
}
