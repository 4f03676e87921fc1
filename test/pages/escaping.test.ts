// Every dynamic value on every page is data, never markup: rendered with hostile values,
// each page parses (as a browser would) to exactly the elements and attributes it has with
// harmless ones, and the hostile text comes back intact as text or as an attribute value.
import { describe, it } from 'node:test';
import assert from 'node:assert/strict';
import type { Page, Pages } from '../../src/pages/pages.js';
import { bodyText, elements, shape } from './html.js';
import { CONSENT_ACTION, LOGIN_ACTION, LOGOUT_ACTION, PAYLOADS, SETTINGS, pages } from './fixtures.js';

type Render = (pages: Pages, value: string) => Page;

/** Each page with `value` in every field a caller or a setting controls. */
const RENDERS: Record<string, Render> = {
  login: (p, v) =>
    p.login({
      clientName: v,
      action: LOGIN_ACTION,
      hidden: { interaction: v, csrf_token: v, [`x${v}`]: v },
      email: v,
      message: 'invalid_credentials',
      captcha: true,
      formActions: [],
    }),
  consent: (p, v) =>
    p.consent({
      clientName: v,
      action: CONSENT_ACTION,
      hidden: { interaction: v, csrf_token: v, [`x${v}`]: v },
      scopes: [
        { name: `a${v}`, description: `b${v}` },
        { name: `c${v}`, description: `d${v}` },
      ],
      formActions: [],
    }),
  error: (p, v) => p.error({ title: v, message: v, error: v, errorDescription: v }),
  logoutConfirm: (p, v) =>
    p.logoutConfirm({ action: LOGOUT_ACTION, hidden: { csrf_token: v, [`x${v}`]: v }, clientName: v, formActions: [] }),
  loggedOut: (p, v) => p.loggedOut({ clientName: v }),
};

const BENIGN = 'Example App';

/** How often `value` appears, decoded, in the parsed document's texts and attribute values. */
function occurrences(html: string, value: string): number {
  const strings = elements(html).flatMap((el) => [el.text, ...Object.keys(el.attrs), ...Object.values(el.attrs)]);
  return strings.reduce((n, s) => n + s.split(value).length - 1, 0);
}

describe('escaping on every page', () => {
  for (const [name, render] of Object.entries(RENDERS)) {
    for (const payload of PAYLOADS) {
      it(`${name}: ${JSON.stringify(payload)} adds no element or attribute`, () => {
        // The brand name and the sitekey come from settings: hostile there too.
        const hostile = pages({ brandName: payload, captcha: { ...SETTINGS.captcha, sitekey: payload } });
        const benign = pages({ brandName: BENIGN, captcha: { ...SETTINGS.captcha, sitekey: BENIGN } });
        const { html } = render(hostile, payload);
        const expected = render(benign, BENIGN).html;
        assert.deepEqual(shape(html), shape(expected));
        for (const el of elements(html)) {
          for (const attr of Object.keys(el.attrs)) assert.doesNotMatch(attr, /^on/i, `${el.tag} has ${attr}`);
          if (el.tag === 'script') assert.equal(el.attrs.src, SETTINGS.captcha.scriptUrl);
          if (el.tag === 'img') assert.equal(el.attrs.src, SETTINGS.logoUrl);
          // The one link of our own: the login page's "Forgot your password?".
          if (el.tag === 'a') assert.equal(el.attrs.href, '/account/password-reset');
          if (el.tag === 'svg' || el.tag === 'textarea') assert.fail(`a ${el.tag} element`);
        }
        // The value itself survives, decoded, in as many places as a harmless one does.
        assert.equal(occurrences(html, payload), occurrences(expected, BENIGN));
        assert.ok(bodyText(html).includes(payload), 'the payload is shown as text');
      });
    }
  }

  it('login: the email, the hidden fields and the sitekey come back as exact attribute values', () => {
    const payload = '"><img src=x onerror=alert(1)>';
    const page = pages({ captcha: { ...SETTINGS.captcha, sitekey: payload } }).login({
      clientName: payload,
      action: LOGIN_ACTION,
      hidden: { interaction: payload, [payload]: 'named' },
      email: payload,
      captcha: true,
      formActions: [],
    });
    const els = elements(page.html);
    assert.equal(els.find((el) => el.attrs.name === 'email')?.attrs.value, payload);
    assert.equal(els.find((el) => el.attrs.name === 'interaction')?.attrs.value, payload);
    assert.equal(els.find((el) => el.attrs.name === payload)?.attrs.value, 'named');
    assert.equal(els.find((el) => el.attrs.class === 'h-captcha')?.attrs['data-sitekey'], payload);
    assert.ok(bodyText(page.html).includes(`to continue to ${payload}`));
  });

  it('escapes & < > " and \' in the markup itself', () => {
    const { html } = pages().error({ message: `&<>"'` });
    assert.ok(html.includes('&amp;&lt;&gt;&quot;&#39;'));
    assert.ok(!html.includes(`&<>"'`));
  });
});
