// The login defences around the password check: a captcha once an account name (existing
// or not) or a client IP has failed too often, and a growing delay on further failures.
// There is no hard lockout an attacker could use against a real user.
import { setTimeout as sleep } from 'node:timers/promises';
import { TesseraError } from '../errors/errors.js';
import type { CaptchaOutcome, CaptchaVerifier } from './captcha.js';
import { failureKeys, type FailureCounter } from './failure-counter.js';

export interface LoginGuardSettings {
  afterFailures: number;
  afterIpFailures: number;
  maxDelayMs: number;
}

/** A captcha step at login, for the audit log: demanded (no answer given), passed, or failed. */
export interface CaptchaEvent {
  outcome: 'demanded' | 'passed' | 'failed';
  ip: string;
  /** The account name's counter key (a keyed hash, never the address as typed). */
  account: string;
  verdict?: CaptchaOutcome;
}

export interface Attempt {
  keys: { account: string; ip: string };
  /** Whether a captcha was demanded and passed on this attempt. */
  captcha: CaptchaOutcome | 'not_needed';
}

/** 250 ms, doubling with each failure past the captcha threshold, up to the maximum. */
export function failureDelayMs(failures: number, afterFailures: number, maxDelayMs: number): number {
  const over = failures - afterFailures;
  if (over <= 0) return 0;
  return Math.min(maxDelayMs, 250 * 2 ** Math.min(over - 1, 16));
}

export class LoginGuard {
  constructor(
    private readonly counter: FailureCounter,
    private readonly captcha: CaptchaVerifier,
    private readonly settings: LoginGuardSettings,
    private readonly secret: Buffer,
    private readonly onCaptcha: (event: CaptchaEvent) => Promise<void> = async () => undefined,
  ) {}

  /** The counter keys for an account name and a client IP. */
  keysFor(email: string, ip: string): { account: string; ip: string } {
    return failureKeys(this.secret, email, ip);
  }

  /**
   * Runs before any password hashing. Throws captcha_required when a captcha is due and
   * the answer is missing, wrong, or cannot be verified (fail closed).
   */
  async before(email: string, ip: string, captchaToken: string | undefined): Promise<Attempt> {
    const keys = this.keysFor(email, ip);
    const [account = 0, byIp = 0] = await this.counter.count([keys.account, keys.ip]);
    const due = account >= this.settings.afterFailures || byIp >= this.settings.afterIpFailures;
    if (!due || !this.captcha.enabled) return { keys, captcha: 'not_needed' };
    if (!captchaToken) {
      await this.onCaptcha({ outcome: 'demanded', ip, account: keys.account });
      throw this.captchaRequired('captcha demanded');
    }
    const outcome = await this.captcha.verify(captchaToken, ip);
    if (outcome !== 'passed') {
      await this.counter.record([keys.account, keys.ip]);
      await this.onCaptcha({ outcome: 'failed', ip, account: keys.account, verdict: outcome });
      throw this.captchaRequired(`captcha ${outcome}`);
    }
    await this.onCaptcha({ outcome: 'passed', ip, account: keys.account });
    return { keys, captcha: 'passed' };
  }

  /** A failed password check: count it, then answer slower the more it has failed. */
  async failed(attempt: Attempt): Promise<void> {
    const [account = 0] = await this.counter.record([attempt.keys.account, attempt.keys.ip]);
    const delay = failureDelayMs(account, this.settings.afterFailures, this.settings.maxDelayMs);
    if (delay > 0) await sleep(delay);
  }

  async succeeded(attempt: Attempt): Promise<void> {
    await this.counter.reset(attempt.keys.account);
  }

  private captchaRequired(detail: string): TesseraError {
    return new TesseraError('captcha_required', {
      detail,
      extra: { captcha_provider: this.captcha.provider, captcha_sitekey: this.captcha.sitekey },
    });
  }
}
