// Verifies captcha answers with the provider's siteverify protocol (hCaptcha, Cloudflare
// Turnstile and reCAPTCHA share it): a form POST of secret, response, remoteip and
// sitekey, answered with {"success": true|false}. Anything else fails closed.
//
// Not the `hcaptcha` npm package: it has a fixed host and no timeout, and both must be
// configurable here (tests and air-gapped deployments point CAPTCHA_VERIFY_URL elsewhere).

export type CaptchaProvider = 'hcaptcha' | 'turnstile' | 'recaptcha' | 'none';

export const DEFAULT_VERIFY_URLS: Record<Exclude<CaptchaProvider, 'none'>, string> = {
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
}

const MAX_ANSWER_BYTES = 64 * 1024;

export class CaptchaVerifier {
  constructor(
    private readonly settings: CaptchaSettings,
    private readonly fetchImpl: typeof fetch = fetch,
  ) {}

  get enabled(): boolean {
    return this.settings.provider !== 'none';
  }

  get provider(): CaptchaProvider {
    return this.settings.provider;
  }

  get sitekey(): string | null {
    return this.settings.sitekey ?? null;
  }

  async verify(token: string, remoteIp: string): Promise<CaptchaOutcome> {
    if (this.settings.provider === 'none') return 'passed';
    const url = this.settings.verifyUrl ?? DEFAULT_VERIFY_URLS[this.settings.provider];
    // Without a secret nothing can be verified: fail closed.
    if (!this.settings.secret || !token) return 'unavailable';
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
      const body = JSON.parse(text) as { success?: unknown };
      return body.success === true ? 'passed' : 'failed';
    } catch {
      return 'unavailable';
    }
  }
}
