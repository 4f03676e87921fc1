// The Content-Security-Policy of one hosted page: nothing by default, our stylesheet, the
// one script the nonce names (the captcha provider's, when due) and what that provider
// needs, and the form targets this answer may lead to. Hostile values are dropped, never
// inserted: a space, quote, ';' or ',' in a source would rewrite the policy.

export type CaptchaProvider = 'hcaptcha' | 'turnstile' | 'recaptcha' | 'none';

/** What each provider's widget loads: its scripts, frames, styles, images and API calls. */
export const CAPTCHA_ORIGINS: Readonly<Record<Exclude<CaptchaProvider, 'none'>, readonly string[]>> = {
  hcaptcha: ['https://hcaptcha.com', 'https://*.hcaptcha.com'],
  turnstile: ['https://challenges.cloudflare.com'],
  recaptcha: ['https://www.google.com', 'https://www.gstatic.com', 'https://www.recaptcha.net'],
};

export interface PageCspOptions {
  nonce: string;
  /** Present only on answers that render the captcha widget. */
  captcha?: { provider: CaptchaProvider; scriptUrl: string } | undefined;
  logoUrl?: string | undefined;
  /** Where a POST from this page may end up: redirect_uri or post_logout_redirect_uri. */
  formActions?: readonly string[] | undefined;
  /**
   * Whether the page shows a data: image (the TOTP enrolment's QR code, made here). Only
   * that page: data: images cannot run script, but nothing else needs them.
   */
  dataImages?: boolean | undefined;
}

const NONCE = /^[A-Za-z0-9+/]{22,}={0,2}$/;
/** Characters that end or split a source list or a header, or that a URL parser reads loosely. */
const UNSAFE = /[\s;,'"\\\p{Cc}]/u;
const HOST = /^(?:[a-z0-9-]+\.)*[a-z0-9-]+$|^\[[0-9a-f:.]+\]$/;
const SCHEME = /^[a-z][a-z0-9+.-]*:$/;
/** Schemes that would turn form-action into script or content execution. */
const PSEUDO_SCHEMES = new Set(['javascript:', 'vbscript:', 'data:', 'blob:', 'filesystem:', 'about:']);
/** What a source may be once the URL parser has normalised it (punycode, percent-encoding). */
const SOURCE = /^[\x21-\x7e]+$/;

function parse(value: string): URL | undefined {
  if (typeof value !== 'string' || value.length === 0 || value.length > 2048 || UNSAFE.test(value)) return undefined;
  try {
    return new URL(value);
  } catch {
    return undefined;
  }
}

function safe(source: string): string | undefined {
  return SOURCE.test(source) && !UNSAFE.test(source) ? source : undefined;
}

/** An http(s) URL's origin as a CSP source, or undefined for anything else. */
export function originSource(value: string): string | undefined {
  const url = parse(value);
  if (!url || (url.protocol !== 'https:' && url.protocol !== 'http:') || !HOST.test(url.hostname)) return undefined;
  return safe(url.origin);
}

/**
 * A form target as a CSP source: an http(s) URL without its query and fragment (CSP ignores
 * them anyway), a native app's custom scheme (`com.example.app:/cb`) as its scheme alone.
 */
export function formActionSource(value: string): string | undefined {
  const url = parse(value);
  if (!url) return undefined;
  if (url.protocol === 'https:' || url.protocol === 'http:') {
    if (!HOST.test(url.hostname)) return undefined;
    return safe(url.origin + url.pathname);
  }
  if (!SCHEME.test(url.protocol) || PSEUDO_SCHEMES.has(url.protocol)) return undefined;
  return safe(url.protocol);
}

function directive(name: string, sources: Iterable<string | undefined>): string | undefined {
  const list = [...new Set([...sources].filter((s): s is string => s !== undefined))];
  return list.length > 0 ? `${name} ${list.join(' ')}` : undefined;
}

export function pageCsp(options: PageCspOptions): string {
  if (!NONCE.test(options.nonce)) throw new Error('a page nonce must be base64 of at least 128 bits');
  const captcha: string[] = [];
  if (options.captcha && options.captcha.provider !== 'none') {
    captcha.push(...CAPTCHA_ORIGINS[options.captcha.provider]);
    const scriptOrigin = originSource(options.captcha.scriptUrl);
    if (scriptOrigin) captcha.push(scriptOrigin);
  }
  const logo = options.logoUrl ? originSource(options.logoUrl) : undefined;
  const formActions = (options.formActions ?? []).map(formActionSource);
  return [
    "default-src 'none'",
    directive('script-src', [`'nonce-${options.nonce}'`, ...captcha]),
    directive('style-src', ["'self'", ...captcha]),
    directive('img-src', ["'self'", options.dataImages ? 'data:' : undefined, logo, ...captcha]),
    directive('frame-src', captcha),
    directive('connect-src', captcha),
    directive('form-action', ["'self'", ...formActions]),
    "frame-ancestors 'none'",
    "base-uri 'none'",
    "object-src 'none'",
  ]
    .filter((d): d is string => d !== undefined)
    .join('; ');
}
