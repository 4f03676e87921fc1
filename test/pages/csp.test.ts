// The pages' Content-Security-Policy: the design's exact directives, a fresh nonce on every
// answer that matches the one script tag, captcha origins per provider, and form targets
// that cannot rewrite the policy.
import { describe, it } from 'node:test';
import assert from 'node:assert/strict';
import { CAPTCHA_ORIGINS, formActionSource, pageCsp, type CaptchaProvider } from '../../src/pages/csp.js';
import { elements } from './html.js';
import { HIDDEN, LOGIN_ACTION, pages } from './fixtures.js';

const NONCE = 'AAAAAAAAAAAAAAAAAAAAAA==';

/** The policy as directive name -> sources, checking each directive appears once. */
function directives(csp: string): Map<string, string[]> {
  const map = new Map<string, string[]>();
  for (const part of csp.split('; ')) {
    const [name, ...sources] = part.split(' ');
    assert.ok(name && !map.has(name), `directive ${name} once`);
    map.set(name, sources);
  }
  return map;
}

describe('page CSP', () => {
  it('is the design’s policy for a page without captcha', () => {
    assert.equal(
      pageCsp({ nonce: NONCE, formActions: [] }),
      `default-src 'none'; script-src 'nonce-${NONCE}'; style-src 'self'; img-src 'self'; form-action 'self'; ` +
        `frame-ancestors 'none'; base-uri 'none'; object-src 'none'`,
    );
    const logo = directives(pageCsp({ nonce: NONCE, logoUrl: 'https://cdn.example.com:8443/a/logo.svg?v=2' }));
    assert.deepEqual(logo.get('img-src'), ["'self'", 'https://cdn.example.com:8443']);
  });

  it('never allows inline code, eval or framing', () => {
    const p = pages();
    const all = [
      p.login({ clientName: 'A', action: LOGIN_ACTION, hidden: HIDDEN, captcha: true, formActions: [] }),
      p.consent({ clientName: 'A', action: '/oauth/authorize/consent', hidden: HIDDEN, scopes: [], formActions: [] }),
      p.error({ message: 'x' }),
      p.logoutConfirm({ action: '/oauth/logout/confirm', hidden: HIDDEN, formActions: [] }),
      p.loggedOut(),
    ];
    for (const { csp } of all) {
      assert.doesNotMatch(csp, /unsafe-|strict-dynamic|data:|\*(?!\.hcaptcha\.com)/);
      const d = directives(csp);
      assert.deepEqual(d.get('default-src'), ["'none'"]);
      assert.deepEqual(d.get('frame-ancestors'), ["'none'"]);
      assert.deepEqual(d.get('base-uri'), ["'none'"]);
      assert.deepEqual(d.get('object-src'), ["'none'"]);
      assert.deepEqual(d.get('style-src')?.[0], "'self'");
      assert.equal(d.get('form-action')?.[0], "'self'");
    }
  });

  it('makes a fresh 128-bit nonce for every answer, the one the script tag carries', () => {
    const p = pages();
    const nonces = new Set<string>();
    for (let i = 0; i < 50; i++) {
      const page = p.login({ clientName: 'A', action: LOGIN_ACTION, hidden: HIDDEN, captcha: true, formActions: [] });
      const nonce = /'nonce-([^']+)'/.exec(page.csp)?.[1];
      assert.ok(nonce);
      assert.equal(Buffer.from(nonce, 'base64').length, 16);
      const scripts = elements(page.html).filter((el) => el.tag === 'script');
      assert.deepEqual(
        scripts.map((s) => s.attrs.nonce),
        [nonce],
      );
      nonces.add(nonce);
    }
    assert.equal(nonces.size, 50);
    assert.throws(() => pageCsp({ nonce: "x' 'unsafe-inline" }));
    assert.throws(() => pageCsp({ nonce: 'short' }));
  });

  const PROVIDERS: [Exclude<CaptchaProvider, 'none'>, string[]][] = [
    ['hcaptcha', ['https://hcaptcha.com', 'https://*.hcaptcha.com']],
    ['turnstile', ['https://challenges.cloudflare.com']],
    ['recaptcha', ['https://www.google.com', 'https://www.gstatic.com', 'https://www.recaptcha.net']],
  ];
  for (const [provider, origins] of PROVIDERS) {
    it(`${provider}: its origins and the script URL's origin, only while the widget is shown`, () => {
      assert.deepEqual(CAPTCHA_ORIGINS[provider], origins);
      // Tests point CAPTCHA_SCRIPT_URL at a local stand-in: its origin is allowed too.
      const scriptUrl = 'http://127.0.0.1:45678/captcha/api.js?render=explicit';
      const p = pages({ captcha: { provider, sitekey: 'k', scriptUrl } });
      const shown = p.login({ clientName: 'A', action: LOGIN_ACTION, hidden: HIDDEN, captcha: true, formActions: [] });
      const d = directives(shown.csp);
      const expected = [...origins, 'http://127.0.0.1:45678'];
      assert.deepEqual(d.get('script-src')?.slice(1), expected);
      for (const name of ['frame-src', 'connect-src']) assert.deepEqual(d.get(name), expected, name);
      assert.deepEqual(d.get('style-src'), ["'self'", ...expected]);
      assert.deepEqual(d.get('img-src'), ["'self'", 'https://cdn.example.com', ...expected]);

      const hidden = p.login({
        clientName: 'A',
        action: LOGIN_ACTION,
        hidden: HIDDEN,
        captcha: false,
        formActions: [],
      });
      assert.deepEqual(directives(hidden.csp).get('script-src')?.length, 1);
      assert.equal(directives(hidden.csp).has('frame-src'), false);
    });
  }

  it('lets a form lead to the registered redirect URIs, as CSP sources', () => {
    const d = directives(
      pageCsp({
        nonce: NONCE,
        formActions: [
          'https://app.example.com/callback?from=tessera#top',
          'http://localhost:8080/cb',
          'https://[::1]:8443/cb',
          'com.example.app:/oauth2redirect',
          'https://app.example.com/callback',
          'https://bücher.example/ré',
        ],
      }),
    );
    assert.deepEqual(d.get('form-action'), [
      "'self'",
      'https://app.example.com/callback',
      'http://localhost:8080/cb',
      'https://[::1]:8443/cb',
      'com.example.app:',
      'https://xn--bcher-kva.example/r%C3%A9',
    ]);
  });

  it('drops form targets that could rewrite the policy or widen it', () => {
    const hostile = [
      "https://app.example.com/cb; script-src 'unsafe-inline'",
      'https://app.example.com/a,b',
      "https://app.example.com/it's",
      'https://app.example.com/"x"',
      'https://app.example.com/cb\r\nSet-Cookie: x=1',
      'https://app.example.com/\u0000',
      'https://app.example.com/\u0085',
      'https://app.example.com\\@evil.example/',
      'https://*.example.com/cb',
      'https://app.example.com:*/cb',
      "'unsafe-inline'",
      "'self'",
      '*',
      'javascript:alert(1)',
      'data:text/html,x',
      'blob:https://app.example.com/x',
      'https:',
      '/relative/path',
      '',
      'x'.repeat(3000),
    ];
    for (const value of hostile) assert.equal(formActionSource(value), undefined, JSON.stringify(value));
    const csp = pageCsp({ nonce: NONCE, formActions: hostile });
    assert.equal(directives(csp).get('form-action')?.join(' '), "'self'");
    assert.equal(csp.split('; ').length, 8);
    // Page methods drop them the same way.
    const page = pages().login({
      clientName: 'A',
      action: LOGIN_ACTION,
      hidden: HIDDEN,
      captcha: false,
      formActions: [...hostile, 'https://app.example.com/cb'],
    });
    assert.deepEqual(directives(page.csp).get('form-action'), ["'self'", 'https://app.example.com/cb']);
  });
});
