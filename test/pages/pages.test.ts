// What each page holds, as the contract's section 6 fixes it: the login form's fields and
// attributes, the captcha widget per provider, the consent and sign-out decisions.
import { describe, it } from 'node:test';
import assert from 'node:assert/strict';
import { LOGIN_MESSAGES, describeScopes, type LoginPage } from '../../src/pages/pages.js';
import type { CaptchaProvider } from '../../src/pages/csp.js';
import { bodyText, elements, find, one, type El } from './html.js';
import { CONSENT_ACTION, HIDDEN, LOGIN_ACTION, LOGOUT_ACTION, SETTINGS, pages } from './fixtures.js';

const login = (overrides: Partial<LoginPage> = {}, settings = {}) =>
  pages(settings).login({
    clientName: 'Example App',
    action: LOGIN_ACTION,
    hidden: HIDDEN,
    captcha: false,
    formActions: [],
    ...overrides,
  });

const inForm = (el: El) => el.parentTags.includes('form');

function hiddenFields(els: El[]): Record<string, string> {
  return Object.fromEntries(
    find(els, (el) => el.tag === 'input' && el.attrs.type === 'hidden').map((el) => [el.attrs.name, el.attrs.value]),
  );
}

describe('login page', () => {
  it('has one POST form with the hidden fields, email, password and one submit button', () => {
    const els = elements(login().html);
    const form = one(els, (el) => el.tag === 'form', 'form');
    assert.equal(form.attrs.method, 'post');
    assert.equal(form.attrs.action, LOGIN_ACTION);
    assert.deepEqual(hiddenFields(els), HIDDEN);

    const email = one(els, (el) => el.attrs.name === 'email', 'email input');
    assert.equal(email.tag, 'input');
    assert.ok(inForm(email));
    assert.equal(email.attrs.autocomplete, 'username');
    assert.ok('required' in email.attrs);
    assert.equal(email.attrs.value, '');

    const password = one(els, (el) => el.attrs.name === 'password', 'password input');
    assert.ok(inForm(password));
    assert.equal(password.attrs.type, 'password');
    assert.equal(password.attrs.autocomplete, 'current-password');
    assert.ok('required' in password.attrs);

    const buttons = find(els, (el) => el.tag === 'button');
    assert.equal(buttons.length, 1);
    assert.equal(buttons[0]!.attrs.type, 'submit');
    assert.ok(inForm(buttons[0]!));
  });

  it('labels every field and blocks nothing a password manager or a paste needs', () => {
    const els = elements(login().html);
    for (const input of find(els, (el) => el.tag === 'input' && el.attrs.type !== 'hidden')) {
      assert.ok(input.attrs.id, `${input.attrs.name} has an id`);
      one(els, (el) => el.tag === 'label' && el.attrs.for === input.attrs.id, `label for ${input.attrs.name}`);
      for (const attr of Object.keys(input.attrs)) assert.doesNotMatch(attr, /^on|^maxlength$|^readonly$/);
      assert.notEqual(input.attrs.autocomplete, 'off');
    }
  });

  it('puts the focus on the first empty field', () => {
    const focused = (html: string) => find(elements(html), (el) => 'autofocus' in el.attrs).map((el) => el.attrs.name);
    assert.deepEqual(focused(login().html), ['email']);
    const prefilled = login({ email: 'ada@example.com' }).html;
    assert.deepEqual(focused(prefilled), ['password']);
    assert.equal(one(elements(prefilled), (el) => el.attrs.name === 'email', 'email').attrs.value, 'ada@example.com');
  });

  it('says whom the sign-in is for, under the brand and its logo', () => {
    const { html } = login();
    const els = elements(html);
    assert.equal(one(els, (el) => el.tag === 'h1', 'heading').text, 'Sign in');
    assert.match(bodyText(html), /to continue to Example App/);
    assert.match(bodyText(html), /^Tessera /);
    const logo = one(els, (el) => el.tag === 'img', 'logo');
    assert.equal(logo.attrs.src, SETTINGS.logoUrl);
    assert.equal(logo.attrs.alt, '');
    assert.equal(find(elements(login({}, { logoUrl: undefined }).html), (el) => el.tag === 'img').length, 0);
    assert.match(one(els, (el) => el.tag === 'title', 'title').text, /Sign in · Tessera/);
    assert.equal(one(els, (el) => el.tag === 'html', 'html').attrs.lang, 'en');
    const css = one(els, (el) => el.tag === 'link', 'stylesheet');
    assert.equal(css.attrs.rel, 'stylesheet');
    assert.match(css.attrs.href!, /^\/assets\/tessera\.css\?v=[\w-]+$/);
  });

  it('shows generic messages that never say which part was wrong', () => {
    assert.equal(LOGIN_MESSAGES.invalid_credentials, 'The email or password is incorrect.');
    assert.equal(LOGIN_MESSAGES.captcha_required, 'Please complete the check below and try again.');
    for (const [code, message] of Object.entries(LOGIN_MESSAGES)) {
      assert.doesNotMatch(message, /no (such )?(user|account)|not (found|registered)|unknown|password is wrong/i);
      const els = elements(login({ message: code as keyof typeof LOGIN_MESSAGES }).html);
      const shown = one(els, (el) => el.attrs.role === 'alert', `${code} message`);
      assert.equal(shown.text, message);
    }
    assert.equal(find(elements(login().html), (el) => el.attrs.role === 'alert').length, 0);
  });

  it('has no captcha until one is due', () => {
    const els = elements(login().html);
    assert.equal(find(els, (el) => el.tag === 'script').length, 0);
    assert.equal(find(els, (el) => 'data-sitekey' in el.attrs).length, 0);
  });

  const PROVIDERS: [Exclude<CaptchaProvider, 'none'>, string, string][] = [
    ['hcaptcha', 'h-captcha', 'https://js.hcaptcha.com/1/api.js'],
    ['turnstile', 'cf-turnstile', 'https://challenges.cloudflare.com/turnstile/v0/api.js'],
    ['recaptcha', 'g-recaptcha', 'https://www.google.com/recaptcha/api.js'],
  ];
  for (const [provider, className, scriptUrl] of PROVIDERS) {
    it(`${provider}: the widget inside the form and the provider's script with the nonce`, () => {
      const page = login(
        { captcha: true, message: 'captcha_required' },
        { captcha: { provider, sitekey: 'site-1', scriptUrl } },
      );
      const els = elements(page.html);
      const widget = one(els, (el) => el.attrs.class === className, 'widget');
      assert.equal(widget.tag, 'div');
      assert.equal(widget.attrs['data-sitekey'], 'site-1');
      assert.ok(inForm(widget), 'the provider adds its answer field to the enclosing form');
      const script = one(els, (el) => el.tag === 'script', 'script');
      assert.equal(script.attrs.src, scriptUrl);
      assert.ok('async' in script.attrs && 'defer' in script.attrs);
      assert.match(page.csp, new RegExp(`script-src 'nonce-${escapeRegExp(script.attrs.nonce!)}'`));
      assert.equal(script.text, '', 'no inline script');
      assert.equal(find(els, (el) => el.tag === 'button').length, 1);
    });
  }

  it('renders no widget with CAPTCHA_PROVIDER=none', () => {
    const page = login({ captcha: true }, { captcha: { provider: 'none', scriptUrl: '' } });
    const els = elements(page.html);
    assert.equal(find(els, (el) => el.tag === 'script' || 'data-sitekey' in el.attrs).length, 0);
    assert.doesNotMatch(page.csp, /hcaptcha|frame-src|connect-src/);
  });

  it('links to the password reset page, unless reset by mail is off', () => {
    const links = (settings = {}) =>
      find(elements(login({}, settings).html), (el) => el.tag === 'a').map((el) => el.attrs.href);
    assert.deepEqual(links(), ['/account/password-reset']);
    assert.deepEqual(links({ passwordReset: false }), []);
  });
});

describe('consent page', () => {
  const consent = () =>
    pages().consent({
      clientName: 'Example App',
      action: CONSENT_ACTION,
      hidden: HIDDEN,
      scopes: describeScopes(['openid', 'profile', 'email', 'offline_access', 'orders:read']),
      formActions: ['https://app.example.com/cb'],
    });

  it('lists the client and each scope, described when known', () => {
    const { html } = consent();
    const items = find(elements(html), (el) => el.tag === 'li').map((el) => el.text);
    assert.equal(items.length, 5);
    assert.match(items[0]!, /openid$/);
    assert.match(items[2]!, /email address.*email$/);
    assert.match(items[3]!, /offline_access$/);
    assert.equal(items[4], 'orders:read');
    assert.match(bodyText(html), /Example App would like to/);
    assert.deepEqual(describeScopes(['constructor', '__proto__']), [
      { name: 'constructor', description: 'constructor' },
      { name: '__proto__', description: '__proto__' },
    ]);
  });

  it('posts allow or deny with the hidden fields', () => {
    const els = elements(consent().html);
    const form = one(els, (el) => el.tag === 'form', 'form');
    assert.deepEqual([form.attrs.method, form.attrs.action], ['post', CONSENT_ACTION]);
    assert.deepEqual(hiddenFields(els), HIDDEN);
    const buttons = find(els, (el) => el.tag === 'button');
    assert.deepEqual(
      buttons.map((b) => [b.attrs.type, b.attrs.name, b.attrs.value, inForm(b)]),
      [
        ['submit', 'decision', 'allow', true],
        ['submit', 'decision', 'deny', true],
      ],
    );
  });
});

describe('error, sign-out and signed-out pages', () => {
  it('error: a title, the message and the OAuth error code', () => {
    const { html } = pages().error({
      title: 'Unknown application',
      message: 'This sign-in link is not valid.',
      error: 'invalid_client',
      errorDescription: 'redirect_uri is not registered',
    });
    const els = elements(html);
    assert.equal(one(els, (el) => el.tag === 'h1', 'heading').text, 'Unknown application');
    assert.equal(one(els, (el) => el.tag === 'code', 'code').text, 'invalid_client');
    assert.match(bodyText(html), /This sign-in link is not valid\..*redirect_uri is not registered/);
    assert.equal(find(els, (el) => el.tag === 'form').length, 0);
    const bare = pages().error({ message: 'Something failed.' }).html;
    assert.equal(one(elements(bare), (el) => el.tag === 'h1', 'heading').text, 'Something went wrong');
    assert.equal(find(elements(bare), (el) => el.tag === 'dl').length, 0);
  });

  it('logout confirmation: one POST form, sign out or stay', () => {
    const hidden = { csrf_token: 't', post_logout_redirect_uri: 'https://app.example.com/bye', state: 's' };
    const { html } = pages().logoutConfirm({
      action: LOGOUT_ACTION,
      hidden,
      clientName: 'Example App',
      formActions: ['https://app.example.com/bye'],
    });
    const els = elements(html);
    const form = one(els, (el) => el.tag === 'form', 'form');
    assert.deepEqual([form.attrs.method, form.attrs.action], ['post', LOGOUT_ACTION]);
    assert.deepEqual(hiddenFields(els), hidden);
    assert.deepEqual(
      find(els, (el) => el.tag === 'button').map((b) => [b.attrs.name, b.attrs.value]),
      [
        ['decision', 'logout'],
        ['decision', 'cancel'],
      ],
    );
    assert.match(bodyText(html), /Example App asks you to sign out of Tessera/);
  });

  it('signed out: a page with no form', () => {
    for (const page of [pages().loggedOut(), pages().loggedOut({ clientName: 'Example App' })]) {
      const els = elements(page.html);
      assert.equal(one(els, (el) => el.tag === 'h1', 'heading').text, 'You are signed out');
      assert.equal(find(els, (el) => el.tag === 'form' || el.tag === 'script').length, 0);
    }
  });
});

function escapeRegExp(value: string): string {
  return value.replace(/[.*+?^${}()|[\]\\/]/g, '\\$&');
}
