// The hosted pages (login, second step, consent, error, sign-out): Eta templates compiled
// once at startup, every interpolation HTML-escaped, each answer with its own nonce and CSP.
import { createHash, randomBytes } from 'node:crypto';
import { readFileSync } from 'node:fs';
import { join } from 'node:path';
import { Eta } from 'eta/core';
import { type CaptchaProvider, originSource, pageCsp } from './csp.js';
import { packageRoot } from './package-root.js';
import { stylesheet } from './stylesheet.js';

/** One answer: the document and the Content-Security-Policy made for it (same nonce). */
export interface Page {
  html: string;
  csp: string;
}

export interface PagesSettings {
  brandName: string;
  logoUrl?: string | undefined;
  captcha: { provider: CaptchaProvider; sitekey?: string | undefined; scriptUrl: string };
  /** Whether the login page links to the password reset page (off when no mail can be sent). */
  passwordReset?: boolean;
}

export type LoginMessage =
  | 'invalid_credentials'
  | 'captcha_required'
  | 'captcha_failed'
  | 'rate_limited'
  | 'unavailable'
  | 'email_not_verified'
  | 'mfa_expired'
  | 'passkey_failed';

/** What a failed sign-in says: never which of the email or the password was wrong. */
export const LOGIN_MESSAGES: Readonly<Record<LoginMessage, string>> = {
  invalid_credentials: 'The email or password is incorrect.',
  captcha_required: 'Please complete the check below and try again.',
  captcha_failed: 'The check could not be verified. Please complete it again.',
  rate_limited: 'Too many attempts. Please wait a moment and try again.',
  unavailable: 'Signing in is not possible right now. Please try again later.',
  email_not_verified: 'Please confirm your email address first: follow the link in the mail we sent you.',
  mfa_expired: 'This sign-in has expired or had too many attempts. Please sign in again.',
  passkey_failed: 'The passkey could not be used. Please try again, or sign in with your password.',
};

export type MfaMessage = 'invalid_code' | 'captcha_required' | 'captcha_failed' | 'unavailable';

/** What a failed second step says: never which factor or why. */
const MFA_MESSAGES: Readonly<Record<MfaMessage, string>> = {
  invalid_code: 'The code is incorrect.',
  captcha_required: LOGIN_MESSAGES.captcha_required,
  captcha_failed: LOGIN_MESSAGES.captcha_failed,
  unavailable: LOGIN_MESSAGES.unavailable,
};

/** The passkey button's script: a static file (script-src allows it by the page's nonce). */
export const PASSKEY_SCRIPT_PATH = '/assets/passkey.js';

export interface StaticAsset {
  body: Buffer;
  etag: string;
  href: string;
}

let passkeyAsset: StaticAsset | undefined;

export function passkeyScript(): StaticAsset {
  if (passkeyAsset) return passkeyAsset;
  const body = readFileSync(join(packageRoot(), 'src', 'pages', 'assets', 'passkey.js'));
  const digest = createHash('sha256').update(body).digest('base64url');
  passkeyAsset = { body, etag: `"${digest}"`, href: `${PASSKEY_SCRIPT_PATH}?v=${digest.slice(0, 16)}` };
  return passkeyAsset;
}

export interface ScopeView {
  name: string;
  description: string;
}

const SCOPE_DESCRIPTIONS: Readonly<Record<string, string>> = {
  openid: 'Know who you are on this service',
  profile: 'See your basic profile information',
  email: 'See your email address',
  offline_access: 'Keep access while you are not using it',
};

/** The consent page's lines for these scopes; a scope we do not know shows its name. */
export function describeScopes(names: readonly string[]): ScopeView[] {
  return names.map((name) => ({
    name,
    description: Object.hasOwn(SCOPE_DESCRIPTIONS, name) ? SCOPE_DESCRIPTIONS[name]! : name,
  }));
}

/** The element each provider's script turns into its widget. */
const CAPTCHA_WIDGET_CLASS: Readonly<Record<Exclude<CaptchaProvider, 'none'>, string>> = {
  hcaptcha: 'h-captcha',
  turnstile: 'cf-turnstile',
  recaptcha: 'g-recaptcha',
};

export interface LoginPage {
  clientName: string;
  action: string;
  hidden: Readonly<Record<string, string>>;
  email?: string | undefined;
  message?: LoginMessage | undefined;
  /** Whether this answer must carry the captcha widget (ignored with CAPTCHA_PROVIDER=none). */
  captcha: boolean;
  formActions: readonly string[];
  /** The passwordless passkey form, shown by its script where the browser supports it. */
  passkey?: PasskeyForm | undefined;
}

interface PasskeyForm {
  action: string;
  hidden: Readonly<Record<string, string>>;
  /** PublicKeyCredentialRequestOptionsJSON, as JSON text (a data- attribute: escaped like any other). */
  options: string;
}

interface MfaPage {
  clientName: string;
  action: string;
  hidden: Readonly<Record<string, string>>;
  methods: readonly ('totp' | 'recovery_code' | 'webauthn')[];
  /** PublicKeyCredentialRequestOptionsJSON as JSON text, when a passkey is among the methods. */
  webauthnOptions?: string | undefined;
  message?: MfaMessage | undefined;
  captcha: boolean;
  formActions: readonly string[];
}

interface EnrolPage {
  clientName: string;
  action: string;
  hidden: Readonly<Record<string, string>>;
  secret: string;
  otpauthUri: string;
  qrSvg: string;
  message?: 'invalid_code' | undefined;
  formActions: readonly string[];
}

interface RecoveryCodesPage {
  action: string;
  hidden: Readonly<Record<string, string>>;
  codes: readonly string[];
  formActions: readonly string[];
}

interface ConsentPage {
  clientName: string;
  action: string;
  hidden: Readonly<Record<string, string>>;
  scopes: readonly ScopeView[];
  formActions: readonly string[];
}

interface ErrorPage {
  title?: string | undefined;
  message: string;
  /** The OAuth error code, shown as is (escaped). */
  error?: string | undefined;
  errorDescription?: string | undefined;
}

interface LogoutConfirmPage {
  action: string;
  hidden: Readonly<Record<string, string>>;
  clientName?: string | undefined;
  formActions: readonly string[];
}

interface LoggedOutPage {
  clientName?: string | undefined;
}

interface VerifyEmailPage {
  action: string;
  hidden: Readonly<Record<string, string>>;
}

export interface PasswordResetRequestPage {
  action: string;
  hidden: Readonly<Record<string, string>>;
  email?: string | undefined;
  message?: 'captcha_required' | 'captcha_failed' | undefined;
  /** Whether this answer must carry the captcha widget (ignored with CAPTCHA_PROVIDER=none). */
  captcha: boolean;
}

interface PasswordResetConfirmPage {
  action: string;
  hidden: Readonly<Record<string, string>>;
  /** An invitation's first password rather than a reset. */
  invitation: boolean;
  minLength: number;
  /** Why the last password was refused (the policy's own words). */
  message?: string | undefined;
}

/** The end of an account page's step: what happened, and where to go next (a path here). */
interface AccountDonePage {
  title: string;
  message: string;
  error?: boolean | undefined;
  hint?: string | undefined;
  link?: { href: string; text: string } | undefined;
}

export interface Pages {
  login(data: LoginPage): Page;
  mfa(data: MfaPage): Page;
  mfaEnrol(data: EnrolPage): Page;
  recoveryCodes(data: RecoveryCodesPage): Page;
  consent(data: ConsentPage): Page;
  error(data: ErrorPage): Page;
  logoutConfirm(data: LogoutConfirmPage): Page;
  loggedOut(data?: LoggedOutPage): Page;
  verifyEmail(data: VerifyEmailPage): Page;
  passwordResetRequest(data: PasswordResetRequestPage): Page;
  passwordResetConfirm(data: PasswordResetConfirmPage): Page;
  accountDone(data: AccountDonePage): Page;
}

const TEMPLATES = [
  'layout',
  'login',
  'mfa',
  'mfa-enrol',
  'recovery-codes',
  'consent',
  'error',
  'logout-confirm',
  'logged-out',
  'verify-email',
  'password-reset',
  'password-reset-confirm',
  'account-done',
] as const;
type TemplateName = (typeof TEMPLATES)[number];

export const TEMPLATES_DIR = join('src', 'pages', 'templates');

/** Our own form targets only: a path on this origin, never `//host` or a scheme. */
const FORM_PATH = /^\/(?![/\\])[^\s"'<>\\]*$/;

function formPath(action: string): string {
  if (!FORM_PATH.test(action)) throw new Error(`a page's form action must be a path on this server: ${action}`);
  return action;
}

/** A logo is an http(s) URL (its origin joins img-src) or a path on this server. */
function checkLogoUrl(logoUrl: string | undefined): string | undefined {
  if (logoUrl === undefined || logoUrl === '') return undefined;
  if (FORM_PATH.test(logoUrl) || originSource(logoUrl) !== undefined) return logoUrl;
  throw new Error('BRAND_LOGO_URL must be an http(s) URL or a path on this server');
}

function newNonce(): string {
  return randomBytes(16).toString('base64');
}

export function createPages(settings: PagesSettings): Pages {
  const eta = new Eta({ autoEscape: true, useWith: false, varName: 'it', cache: true });
  // The whole defence rests on this; refuse to start if a future Eta escaped less.
  if (eta.config.escapeFunction(`&<>"'`) !== '&amp;&lt;&gt;&quot;&#39;') {
    throw new Error('the template engine does not escape & < > " \' as expected');
  }
  const dir = join(packageRoot(), TEMPLATES_DIR);
  for (const name of TEMPLATES) eta.loadTemplate(`@${name}`, readFileSync(join(dir, `${name}.eta`), 'utf8'));

  const { brandName } = settings;
  const logoUrl = checkLogoUrl(settings.logoUrl);
  const { provider, scriptUrl } = settings.captcha;
  if (provider !== 'none' && originSource(scriptUrl) === undefined) {
    throw new Error('CAPTCHA_SCRIPT_URL must be an http(s) URL');
  }
  const { href } = stylesheet();
  const captchaWidget = (due: boolean) =>
    due && provider !== 'none'
      ? { className: CAPTCHA_WIDGET_CLASS[provider], sitekey: settings.captcha.sitekey ?? '', scriptUrl }
      : undefined;

  function page(
    name: Exclude<TemplateName, 'layout'>,
    title: string,
    data: object,
    csp: { nonce: string; captcha: boolean; formActions?: readonly string[] | undefined; dataImages?: boolean },
  ): Page {
    const body = eta.render(`@${name}`, { ...data, brandName, nonce: csp.nonce });
    const html = eta.render('@layout', { title, brandName, logoUrl, stylesheet: href, body });
    return {
      html,
      csp: pageCsp({
        nonce: csp.nonce,
        captcha: csp.captcha ? { provider, scriptUrl } : undefined,
        logoUrl,
        formActions: csp.formActions,
        dataImages: csp.dataImages,
      }),
    };
  }

  return {
    login(data) {
      const email = data.email ?? '';
      const widget = captchaWidget(data.captcha);
      return page(
        'login',
        'Sign in',
        {
          clientName: data.clientName,
          action: formPath(data.action),
          hidden: Object.entries(data.hidden),
          email,
          message: data.message ? LOGIN_MESSAGES[data.message] : undefined,
          autofocus: email === '' ? 'email' : 'password',
          captcha: widget,
          passwordReset: settings.passwordReset !== false,
          // Its fields go in a data- attribute, the form is made by the script: the page's
          // one form stays the password form, for password managers and form readers.
          passkey: data.passkey && {
            action: formPath(data.passkey.action),
            fields: JSON.stringify(data.passkey.hidden),
            options: data.passkey.options,
          },
          passkeyScript: passkeyScript().href,
        },
        { nonce: newNonce(), captcha: widget !== undefined, formActions: data.formActions },
      );
    },
    mfa(data) {
      const widget = captchaWidget(data.captcha);
      return page(
        'mfa',
        'Two-step verification',
        {
          clientName: data.clientName,
          action: formPath(data.action),
          hidden: Object.entries(data.hidden),
          totp: data.methods.includes('totp'),
          recoveryCode: data.methods.includes('recovery_code'),
          webauthn: data.methods.includes('webauthn') ? data.webauthnOptions : undefined,
          message: data.message ? MFA_MESSAGES[data.message] : undefined,
          captcha: widget,
          passkeyScript: passkeyScript().href,
        },
        { nonce: newNonce(), captcha: widget !== undefined, formActions: data.formActions },
      );
    },
    mfaEnrol(data) {
      return page(
        'mfa-enrol',
        'Set up two-step verification',
        {
          clientName: data.clientName,
          action: formPath(data.action),
          hidden: Object.entries(data.hidden),
          // The SVG comes from our QR encoder; as a data: image it cannot run script anyway.
          qrSrc: `data:image/svg+xml;base64,${Buffer.from(data.qrSvg, 'utf8').toString('base64')}`,
          secretGroups: data.secret.match(/.{1,4}/g) ?? [],
          otpauthUri: data.otpauthUri,
          message: data.message ? MFA_MESSAGES[data.message] : undefined,
        },
        { nonce: newNonce(), captcha: false, formActions: data.formActions, dataImages: true },
      );
    },
    recoveryCodes(data) {
      return page(
        'recovery-codes',
        'Your recovery codes',
        { action: formPath(data.action), hidden: Object.entries(data.hidden), codes: data.codes },
        { nonce: newNonce(), captcha: false, formActions: data.formActions },
      );
    },
    consent(data) {
      return page(
        'consent',
        'Allow access',
        {
          clientName: data.clientName,
          action: formPath(data.action),
          hidden: Object.entries(data.hidden),
          scopes: data.scopes,
        },
        { nonce: newNonce(), captcha: false, formActions: data.formActions },
      );
    },
    error(data) {
      const title = data.title ?? 'Something went wrong';
      return page(
        'error',
        title,
        { title, message: data.message, error: data.error, errorDescription: data.errorDescription },
        { nonce: newNonce(), captcha: false },
      );
    },
    logoutConfirm(data) {
      return page(
        'logout-confirm',
        'Sign out',
        { action: formPath(data.action), hidden: Object.entries(data.hidden), clientName: data.clientName },
        { nonce: newNonce(), captcha: false, formActions: data.formActions },
      );
    },
    loggedOut(data = {}) {
      return page('logged-out', 'Signed out', { clientName: data.clientName }, { nonce: newNonce(), captcha: false });
    },
    verifyEmail(data) {
      return page(
        'verify-email',
        'Confirm your email address',
        { action: formPath(data.action), hidden: Object.entries(data.hidden) },
        { nonce: newNonce(), captcha: false },
      );
    },
    passwordResetRequest(data) {
      const widget = captchaWidget(data.captcha);
      return page(
        'password-reset',
        'Reset your password',
        {
          action: formPath(data.action),
          hidden: Object.entries(data.hidden),
          email: data.email ?? '',
          message: data.message ? LOGIN_MESSAGES[data.message] : undefined,
          captcha: widget,
        },
        { nonce: newNonce(), captcha: widget !== undefined },
      );
    },
    passwordResetConfirm(data) {
      const title = data.invitation ? 'Set your password' : 'Choose a new password';
      return page(
        'password-reset-confirm',
        title,
        {
          title,
          action: formPath(data.action),
          hidden: Object.entries(data.hidden),
          minLength: data.minLength,
          message: data.message,
        },
        { nonce: newNonce(), captcha: false },
      );
    },
    accountDone(data) {
      const link = data.link ? { href: formPath(data.link.href), text: data.link.text } : undefined;
      return page(
        'account-done',
        data.title,
        { title: data.title, message: data.message, error: data.error === true, hint: data.hint, link },
        { nonce: newNonce(), captcha: false },
      );
    },
  };
}
