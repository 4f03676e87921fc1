// Verifies captcha answers with the provider's siteverify protocol (hCaptcha, Cloudflare
// Turnstile and reCAPTCHA share it): a form POST of secret, response, remoteip and
// sitekey, answered with {"success": true|false, "hostname": ...}. An answer passes once,
// solved on one of our hosts, and for reCAPTCHA v3 with enough score for the expected
// action. Anything else fails closed.
//
// Not the `hcaptcha` npm package: it has a fixed host and no timeout, and both must be
// configurable here (tests and air-gapped deployments point CAPTCHA_VERIFY_URL elsewhere).
import type { CaptchaReplayStore } from './captcha-replay.js';

export type CaptchaProvider = 'hcaptcha' | 'turnstile' | 'recaptcha' | 'none';

const DEFAULT_VERIFY_URLS: Record<Exclude<CaptchaProvider, 'none'>, string> = {
  hcaptcha: 'https://api.hcaptcha.com/siteverify',
  turnstile: 'https://challenges.cloudflare.com/turnstile/v0/siteverify',
  recaptcha: 'https://www.google.com/recaptcha/api/siteverify',
};

export type CaptchaOutcome = 'passed' | 'failed' | 'unavailable';

export interface CaptchaSettings {
  provider: CaptchaProvider;
  secret: string | undefined;
  sitekey: string | undefined;
  verifyUrl: string | undefined;
  timeoutMs: number;
  /** Hosts an answer may have been solved on, lower case. */
  hostnames: readonly string[];
  /** reCAPTCHA v3 only: the lowest score that passes. */
  minScore: number;
}

/** The members of a siteverify answer that are checked; the rest are ignored. */
interface SiteverifyAnswer {
  success?: unknown;
  hostname?: unknown;
  score?: unknown;
  action?: unknown;
}

const MAX_ANSWER_BYTES = 64 * 1024;

export class CaptchaVerifier {
  private readonly hostnames: ReadonlySet<string>;

  constructor(
    private readonly settings: CaptchaSettings,
    private readonly replay: CaptchaReplayStore,
    private readonly fetchImpl: typeof fetch = fetch,
  ) {
    this.hostnames = new Set(settings.hostnames);
  }

  get enabled(): boolean {
    return this.settings.provider !== 'none';
  }

  get provider(): CaptchaProvider {
    return this.settings.provider;
  }

  get sitekey(): string | null {
    return this.settings.sitekey ?? null;
  }

  /** Drops answers past their replay window (the store's own housekeeping). */
  prune(): Promise<void> {
    return this.replay.prune();
  }

  /** `action`: what the widget was run for (reCAPTCHA v3 and Turnstile report it back). */
  async verify(token: string, remoteIp: string, action = 'login'): Promise<CaptchaOutcome> {
    if (this.settings.provider === 'none') return 'passed';
    const url = this.settings.verifyUrl ?? DEFAULT_VERIFY_URLS[this.settings.provider];
    // Without a secret nothing can be verified: fail closed.
    if (!this.settings.secret || !token) return 'unavailable';
    // Claimed before siteverify is asked, so of parallel requests with one answer, on any
    // instance, one at most can pass. A provider's own duplicate check is not relied on.
    let first: boolean;
    try {
      first = await this.replay.claim(token);
    } catch {
      return 'unavailable';
    }
    if (!first) return 'failed';
    const form = new URLSearchParams({ secret: this.settings.secret, response: token, remoteip: remoteIp });
    if (this.settings.sitekey) form.set('sitekey', this.settings.sitekey);
    try {
      const response = await this.fetchImpl(url, {
        method: 'POST',
        headers: { 'content-type': 'application/x-www-form-urlencoded', accept: 'application/json' },
        body: form.toString(),
        signal: AbortSignal.timeout(this.settings.timeoutMs),
        redirect: 'error',
      });
      if (!response.ok) return 'unavailable';
      const text = await response.text();
      if (text.length > MAX_ANSWER_BYTES) return 'unavailable';
      const body = JSON.parse(text) as SiteverifyAnswer;
      return this.accepts(body, action) ? 'passed' : 'failed';
    } catch {
      return 'unavailable';
    }
  }

  private accepts(answer: SiteverifyAnswer, action: string): boolean {
    if (answer.success !== true) return false;
    // A sitekey may be allowed on other sites too: the answer must come from one of ours.
    if (typeof answer.hostname !== 'string' || !this.hostnames.has(answer.hostname.toLowerCase())) return false;
    switch (this.settings.provider) {
      case 'recaptcha':
        // v2 answers carry neither; a v3 answer must carry both, for this action.
        if (answer.score === undefined && answer.action === undefined) return true;
        return typeof answer.score === 'number' && answer.score >= this.settings.minScore && answer.action === action;
      case 'turnstile':
        // A widget rendered without an action reports none (or an empty one).
        return answer.action === undefined || answer.action === '' || answer.action === action;
      default:
        // hCaptcha has no action; its Enterprise score counts risk (higher: more likely a
        // bot), so CAPTCHA_MIN_SCORE does not apply to it.
        return true;
    }
  }
}
