// The account pages' renderers with hostile values in every field a caller or a setting
// controls: each page parses to exactly the elements and attributes it has with harmless
// values, and the hostile text comes back as text or as an attribute value, never markup.
// Their links and form targets stay on this server.
import { describe, it } from 'node:test';
import assert from 'node:assert/strict';
import type { Page, Pages } from '../../src/pages/pages.js';
import { bodyText, elements, shape } from '../pages/html.js';
import { PAYLOADS, SETTINGS, pages } from '../pages/fixtures.js';

type Render = (pages: Pages, value: string) => Page;

const RENDERS: Record<string, Render> = {
  verifyEmail: (p, v) =>
    p.verifyEmail({ action: '/account/verify-email', hidden: { token: v, csrf_token: v, [`x${v}`]: v } }),
  passwordResetRequest: (p, v) =>
    p.passwordResetRequest({
      action: '/account/password-reset',
      hidden: { csrf_token: v },
      email: v,
      message: 'captcha_required',
      captcha: true,
    }),
  passwordResetConfirm: (p, v) =>
    p.passwordResetConfirm({
      action: '/account/password-reset/confirm',
      hidden: { token: v, csrf_token: v },
      invitation: false,
      minLength: 12,
      message: v,
    }),
  accountDone: (p, v) =>
    p.accountDone({ title: v, message: v, error: true, hint: v, link: { href: '/account/password-reset', text: v } }),
};

const BENIGN = 'Example App';

function occurrences(html: string, value: string): number {
  const strings = elements(html).flatMap((el) => [el.text, ...Object.keys(el.attrs), ...Object.values(el.attrs)]);
  return strings.reduce((n, s) => n + s.split(value).length - 1, 0);
}

describe('account pages: escaping', () => {
  for (const [name, render] of Object.entries(RENDERS)) {
    for (const payload of PAYLOADS) {
      it(`${name}: ${JSON.stringify(payload)} adds no element or attribute`, () => {
        const hostile = pages({ brandName: payload, captcha: { ...SETTINGS.captcha, sitekey: payload } });
        const benign = pages({ brandName: BENIGN, captcha: { ...SETTINGS.captcha, sitekey: BENIGN } });
        const { html } = render(hostile, payload);
        const expected = render(benign, BENIGN).html;
        assert.deepEqual(shape(html), shape(expected));
        for (const el of elements(html)) {
          for (const attr of Object.keys(el.attrs)) assert.doesNotMatch(attr, /^on/i, `${el.tag} has ${attr}`);
          if (el.tag === 'script') assert.equal(el.attrs.src, SETTINGS.captcha.scriptUrl);
          if (el.tag === 'a') assert.equal(el.attrs.href, '/account/password-reset');
        }
        assert.equal(occurrences(html, payload), occurrences(expected, BENIGN));
        assert.ok(bodyText(html).includes(payload), 'the payload is shown as text');
      });
    }
  }

  it('the request form shows the widget only when due, and its script under the nonce', () => {
    const p = pages();
    const plain = p.passwordResetRequest({ action: '/account/password-reset', hidden: {}, captcha: false });
    assert.doesNotMatch(plain.html, /<script|h-captcha/);
    assert.doesNotMatch(plain.csp, /hcaptcha/);
    const due = p.passwordResetRequest({ action: '/account/password-reset', hidden: {}, captcha: true });
    const nonce = /'nonce-([^']+)'/.exec(due.csp)![1]!;
    assert.ok(due.html.includes(`<script src="${SETTINGS.captcha.scriptUrl}" nonce="${nonce}" async defer>`));
    assert.match(due.csp, /frame-src https:\/\/hcaptcha\.com/);
  });

  it('refuse form targets and links that leave this server', () => {
    const p = pages();
    for (const target of ['https://evil.example/x', '//evil.example/x', 'javascript:alert(1)']) {
      assert.throws(() => p.verifyEmail({ action: target, hidden: {} }), /form action/);
      assert.throws(
        () => p.accountDone({ title: 't', message: 'm', link: { href: target, text: 'x' } }),
        /form action/,
        target,
      );
    }
  });
});
