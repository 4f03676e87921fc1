// The mails themselves, rendered without a server: every kind names the brand in its
// subject and both parts, says how long its link works, carries no link it should not,
// and the worker's pure parts (backoff, the reason kept for a failure).
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { readdirSync, readFileSync } from 'node:fs';
import { join } from 'node:path';
import { packageRoot } from '../../src/pages/package-root.js';
import {
  createMailRenderer,
  describeMinutes,
  MAIL_KINDS,
  type MailKind,
  type MailRequest,
} from '../../src/mail/messages.js';
import { describeFailure, retryDelaySeconds } from '../../src/mail/delivery.js';

const ISSUER = 'https://id.example.com/tenant';
const render = createMailRenderer({ brandName: 'Acme "Cloud"', issuer: ISSUER, from: 'no-reply@example.com' });
const ID = '0b6f3c1e-5d2a-4f7b-9c8e-1a2b3c4d5e6f';

const WITH_LINK: Partial<Record<MailKind, { expires: boolean; says: RegExp }>> = {
  verify_email: { expires: true, says: /confirm that this is your email address/i },
  account_exists: { expires: false, says: /already has an account.*nothing was changed/s },
  password_reset: { expires: true, says: /reset the password.*did not ask for this/s },
  invitation: { expires: true, says: /administrator created/ },
  email_change: { expires: true, says: /should become the email address/ },
};
const WITHOUT_LINK: Partial<Record<MailKind, RegExp>> = {
  password_changed: /password .* was just changed, and every session .* ended.*contact your administrator/s,
  email_changed: /email address of your .* account was changed.*contact your administrator/s,
  account_deleted: /account and its personal data were erased/,
  mfa_reset: /administrator removed every second factor.*every session .* ended.*contact your administrator/s,
  mfa_changed: /second factors of your .* account just changed.*contact your administrator/s,
};

test('every kind: brand in subject and both parts, its message, a link only where it belongs', () => {
  assert.equal(MAIL_KINDS.length, 10);
  for (const kind of MAIL_KINDS) {
    const spec = WITH_LINK[kind];
    const link = `${ISSUER}/page?token=abc${kind}`;
    const request: MailRequest = spec
      ? { to: 'someone@example.org', kind, link, ...(spec.expires ? { expiresInMinutes: 90 } : {}) }
      : { to: 'someone@example.org', kind };
    const mail = render(request, ID);
    assert.ok(mail.subject.includes('Acme "Cloud"'), kind);
    assert.ok(mail.text.includes('Acme "Cloud"'), kind);
    assert.ok(mail.html.includes('Acme &quot;Cloud&quot;') && !mail.html.includes('Acme "Cloud"'), kind);
    assert.equal(mail.messageId, `<${ID}@id.example.com>`);
    assert.equal(mail.headers['Auto-Submitted'], 'auto-generated');
    assert.equal(mail.from, 'no-reply@example.com');
    assert.equal(mail.to, 'someone@example.org');
    const urls = mail.text.match(/https?:\/\/\S+/g) ?? [];
    if (spec) {
      assert.match(mail.text, spec.says, kind);
      assert.deepEqual([...new Set(urls)], [link], kind);
      assert.equal(/expires in 90 minutes/.test(mail.text), spec.expires, kind);
    } else {
      assert.match(mail.text, WITHOUT_LINK[kind]!, kind);
      assert.deepEqual(urls, [], kind);
      assert.doesNotMatch(mail.html, /href=/, kind);
    }
    // Neither part leaks the address it is sent to (email_changed must not name the new one).
    assert.ok(!mail.text.includes('someone@') && !mail.html.includes('someone@'), kind);
  }
});

test('a link must lie under the issuer, path included', () => {
  const base = { to: 'a@example.org', kind: 'password_reset' as const, expiresInMinutes: 30 };
  assert.ok(render({ ...base, link: `${ISSUER}/reset?token=x` }, ID));
  for (const link of [
    'https://id.example.com/other/reset',
    'https://id.example.com/tenantx/reset',
    'http://id.example.com/tenant/reset',
    'https://id.example.com.evil.org/tenant/reset',
    'https://id.example.com/tenant/reset#frag',
    `${ISSUER}/reset?x="><script>`,
  ]) {
    assert.throws(() => render({ ...base, link }, ID), /under ISSUER/, link);
  }
  assert.throws(() => render({ ...base, link: `${ISSUER}/r` }, 'not-a-uuid'));
});

test('lifetimes read as people say them', () => {
  assert.equal(describeMinutes(1), '1 minute');
  assert.equal(describeMinutes(30), '30 minutes');
  assert.equal(describeMinutes(60), '1 hour');
  assert.equal(describeMinutes(90), '90 minutes');
  assert.equal(describeMinutes(1440), '1 day');
  assert.equal(describeMinutes(10_080), '7 days');
});

test('retries back off from 30 s, doubling, to at most an hour', () => {
  assert.deepEqual([1, 2, 3, 4, 5, 6, 7, 8, 50].map(retryDelaySeconds), [30, 60, 120, 240, 480, 960, 1920, 3600, 3600]);
});

test('a failure is kept as codes only, never its message', () => {
  const auth = Object.assign(new Error('Invalid login: 535 user secret-pass rejected at smtp://u:p@host'), {
    code: 'EAUTH',
    responseCode: 535,
  });
  assert.equal(describeFailure(auth), 'EAUTH SMTP 535');
  const socket = Object.assign(new Error('self-signed certificate'), {
    code: 'ESOCKET',
    cause: { code: 'DEPTH_ZERO_SELF_SIGNED_CERT' },
  });
  assert.equal(describeFailure(socket), 'ESOCKET DEPTH_ZERO_SELF_SIGNED_CERT');
  assert.equal(describeFailure(Object.assign(new Error('x'), { code: 'lower case or message text' })), 'send failed');
  assert.equal(describeFailure(new DOMException('gone', 'AbortError')), 'aborted');
  assert.equal(describeFailure('a string'), 'send failed');
});

test('the templates: one per kind and part, raw output only for rendered HTML, attributes quoted', () => {
  const dir = join(packageRoot(), 'src', 'mail', 'templates');
  const files = readdirSync(dir).sort();
  const expected = ['layout.html.eta', 'layout.txt.eta', 'link.html.eta'];
  for (const kind of MAIL_KINDS) expected.push(`${kind}.html.eta`, `${kind}.txt.eta`);
  assert.deepEqual(files, expected.sort());
  for (const file of files) {
    const source = readFileSync(join(dir, file), 'utf8');
    const raw = source.match(/<%[-_]?\s*~[^%]*%>/g) ?? [];
    if (file.startsWith('layout.')) assert.deepEqual(raw, ['<%~ it.body %>'], file);
    else
      for (const r of raw)
        assert.match(r, /^<%~ include\('@link', \{ link: it\.link, label: '[A-Za-z ]+' \}\) %>$/, file);
    assert.doesNotMatch(source, /\boutput\s*\(|__eta|layout\s*\(/, file);
    assert.doesNotMatch(source, /=\s*<%/, `${file}: an unquoted attribute value`);
  }
});
