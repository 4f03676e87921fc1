// Page settings and inputs shared by the page tests.
import { createPages, type PagesSettings } from '../../src/pages/pages.js';

export const SETTINGS: PagesSettings = {
  brandName: 'Tessera',
  logoUrl: 'https://cdn.example.com/brand/logo.svg',
  captcha: {
    provider: 'hcaptcha',
    sitekey: '10000000-ffff-ffff-ffff-000000000001',
    scriptUrl: 'https://js.hcaptcha.com/1/api.js',
  },
};

export const pages = (overrides: Partial<PagesSettings> = {}) => createPages({ ...SETTINGS, ...overrides });

export const LOGIN_ACTION = '/oauth/authorize/login';
export const CONSENT_ACTION = '/oauth/authorize/consent';
export const LOGOUT_ACTION = '/oauth/logout/confirm';
export const HIDDEN = { interaction: '0b6e5f0e-8a59-4c39-9a5e-1f5b7c2d3e4f', csrf_token: 'c2VjcmV0LWNzcmYtdG9rZW4' };

/** Values that would add markup, break out of an attribute or end a tag if not escaped. */
export const PAYLOADS = [
  '<script>alert(1)</script>',
  '"><img src=x onerror=alert(1)>',
  "' onmouseover='alert(1)",
  '&amp; &lt; & < > " \'',
  '</textarea></title></strong><svg onload=alert(1)>',
  '<!-- x --><a href="javascript:alert(1)">x</a>',
  '{{constructor.constructor("alert(1)")()}} <%= it %> ${1}',
];
