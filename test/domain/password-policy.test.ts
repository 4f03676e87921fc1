// Password policy (NIST SP 800-63B): length in code points, NFKC, a common-password
// list, no composition rules, never truncated, bounded before hashing.
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { dictionary } from '@zxcvbn-ts/language-common';
import {
  MAX_PASSWORD_BYTES,
  MAX_PASSWORD_CHARS,
  checkPassword,
  commonPasswordCount,
  normalizePassword,
  withinHashLimit,
} from '../../src/domain/passwords/password-policy.js';

const DEFAULTS = { minLength: 12 };
const commonList = dictionary['passwords-common'];

test('NFKC: fullwidth and compatibility forms equal their plain forms', () => {
  assert.equal(normalizePassword('ｃｏｒｒｅｃｔ ｈｏｒｓｅ'), 'correct horse');
  assert.equal(normalizePassword('Ⅻ ﬁne'), 'XII fine');
  // Precomposed and combining forms of é are one password.
  assert.equal(normalizePassword('caf\u00e9'), normalizePassword('cafe\u0301'));
});

test('a fullwidth spelling of a common password is refused as common', () => {
  assert.ok(commonList.includes('password1234'));
  assert.equal(checkPassword('ｐａｓｓｗｏｒｄ１２３４', DEFAULTS), 'common');
});

test('the default minimum is 12, counted after normalization', () => {
  assert.equal(checkPassword('a'.repeat(11) + 'Z', DEFAULTS), undefined);
  assert.equal(checkPassword('Zq9vLm2xWp4', DEFAULTS), 'too_short', '11 characters');
  assert.equal(checkPassword('', DEFAULTS), 'too_short');
  assert.equal(checkPassword('Zq9vLm2x', { minLength: 8 }), undefined);
});

test('length counts code points: an emoji counts once', () => {
  // 11 letters + 1 emoji = 12 code points (13 UTF-16 units).
  assert.equal(checkPassword('zqvlmxwpkrt\u{1F600}', DEFAULTS), undefined);
  // 10 letters + 1 emoji = 11 code points, though .length is 12.
  const eleven = 'zqvlmxwpkr\u{1F600}';
  assert.equal(eleven.length, 12);
  assert.equal(checkPassword(eleven, DEFAULTS), 'too_short');
});

test('a 128-character password is accepted whole', () => {
  const long = Array.from({ length: 128 }, (_, i) => 'abcdefghijklmnopqrstuvwxyz0123456789'[(i * 7) % 36]).join('');
  assert.equal([...long].length, 128);
  assert.equal(checkPassword(long, DEFAULTS), undefined);
  assert.ok(withinHashLimit(long));
});

test('the size caps: at the limit passes, past it is too_long', () => {
  // MAX_PASSWORD_CHARS four-byte emoji sit exactly at both caps.
  const atCap = '\u{1F510}'.repeat(MAX_PASSWORD_CHARS);
  assert.equal(Buffer.byteLength(atCap, 'utf8') <= MAX_PASSWORD_BYTES, true);
  assert.equal(checkPassword(atCap, DEFAULTS), undefined);
  assert.equal(checkPassword(atCap + '\u{1F510}', DEFAULTS), 'too_long');
  assert.equal(checkPassword('x'.repeat(MAX_PASSWORD_BYTES + 1), DEFAULTS), 'too_long');
  assert.equal(checkPassword('x'.repeat(1_000_000), DEFAULTS), 'too_long');
  assert.equal(withinHashLimit('x'.repeat(MAX_PASSWORD_BYTES + 1)), false);
  assert.equal(withinHashLimit('\u{1F510}'.repeat(MAX_PASSWORD_CHARS + 1)), false);
});

test('a short input that NFKC expands past the caps is too_long', () => {
  // U+FDFA expands to 18 code points under NFKC.
  const bomb = '\uFDFA'.repeat(100);
  assert.ok(withinHashLimit(bomb), 'the raw input is small');
  assert.ok(!withinHashLimit(normalizePassword(bomb)), 'its normalized form is not');
  assert.equal(checkPassword(bomb, DEFAULTS), 'too_long');
});

test('the common-password list has at least 10,000 entries', () => {
  assert.ok(commonPasswordCount() >= 10_000, `only ${commonPasswordCount()} entries`);
});

test('common passwords of 12+ characters are refused, in any letter case', () => {
  const picks = ['password1234', 'qwertyuiop12', 'qwerty123456', '1qaz2wsx3edc', 'passwordpassword'];
  for (const pick of picks) {
    assert.ok(commonList.includes(pick), `${pick} is in the zxcvbn list`);
    assert.equal(checkPassword(pick, DEFAULTS), 'common', pick);
  }
  assert.equal(checkPassword('PASSWORD1234', DEFAULTS), 'common');
  assert.equal(checkPassword('QwertyUiop12', DEFAULTS), 'common');
});

test('no composition rules: a long all-lowercase passphrase passes', () => {
  assert.equal(checkPassword('correct horse battery staple', DEFAULTS), undefined);
  assert.equal(checkPassword('lanternmossquietharbor', DEFAULTS), undefined);
  assert.equal(checkPassword('0491857263048157', DEFAULTS), undefined, 'digits only');
});

test('the account email, or its local part, is refused as a password', () => {
  const email = 'Alice.Wonderland@example.com';
  assert.equal(checkPassword('alice.wonderland@example.com', { ...DEFAULTS, email }), 'contains_email');
  assert.equal(checkPassword('ALICE.WONDERLAND@EXAMPLE.COM', { ...DEFAULTS, email }), 'contains_email');
  assert.equal(checkPassword('alice.wonderland', { ...DEFAULTS, email }), 'contains_email');
  assert.equal(checkPassword('alice.wonderland', DEFAULTS), undefined, 'fine for another account');
});
