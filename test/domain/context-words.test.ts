// Context-specific words (ASVS 6.1.2, 6.2.11): a password built mostly of the service's
// own words (product, brand, host, roles, login words, PASSWORD_CONTEXT_WORDS) is refused,
// through letter case, NFKC, leetspeak and symbols; a passphrase that merely holds one is not.
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { loadConfig } from '../../src/config/config.js';
import {
  CONTEXT_REST_MIN,
  DEFAULT_CONTEXT_WORDS,
  builtFromContextWords,
  contextWordsFor,
} from '../../src/domain/passwords/context-words.js';
import { checkPassword } from '../../src/domain/passwords/password-policy.js';

// GOOD_PASSWORD of test/helpers/build.ts (not imported: that builds the whole app).
const GOOD_PASSWORD = 'quiet-lantern-orbit-47';
const contextWords = contextWordsFor({ brandName: 'Example Corp', issuer: 'https://id.example.com' });
const policy = { minLength: 12, contextWords };

test('passwords built from context-specific words are refused', () => {
  const refused = [
    'Tessera2026!', // the product and a year
    'tessera-admin-2026', // the product and a role
    'ExampleCorpLogin1', // BRAND_NAME "Example Corp" and a login word
    'id-example-com-123', // the ISSUER host id.example.com
    'T3ss3r@T3ss3r@', // leetspeak
    'ＴＥＳＳＥＲＡ２０２６！', // fullwidth: NFKC first
    'W3lc0me-Adm1n!', // 1 reads as i here
    'we1come-letmein', // and as l here
    'superuser123', // five letters left beside "user"
  ];
  for (const password of refused) {
    assert.equal(checkPassword(password, policy), 'context', password);
  }
});

test('a passphrase that merely contains a context word is accepted', () => {
  for (const password of [
    'the user of quiet lanterns', // "user", then 18 other letters
    'tessera-harbor-violet', // six letters and more beside the product
    GOOD_PASSWORD,
    'Admiral-Pebble-Orchid-2290', // "admiral" is not "admin"
  ]) {
    assert.equal(checkPassword(password, policy), undefined, password);
  }
  // The boundary: CONTEXT_REST_MIN letters beside the words pass, one fewer does not.
  assert.equal(CONTEXT_REST_MIN, 6);
  assert.equal(checkPassword('tessera-quartz', policy), undefined, 'six letters left');
  assert.equal(checkPassword('tessera-quart!', policy), 'context', 'five letters left');
  // Digits and symbols never count as letters left, and no context word means no refusal.
  assert.equal(builtFromContextWords('tessera-8264-9182', contextWords), true);
  assert.equal(builtFromContextWords('!!!!!!!!!!!!', contextWords), false);
});

test('the word list: the documented defaults, the brand, the host labels, never short words', () => {
  assert.deepEqual([...DEFAULT_CONTEXT_WORDS].sort(), [
    'admin',
    'letmein',
    'login',
    'moderator',
    'password',
    'tessera',
    'user',
    'welcome',
  ]);
  // "id" and "com" are too short or the TLD; "corp" and "example" come from the brand and host.
  assert.deepEqual([...contextWords].sort(), [
    'admin',
    'corp',
    'example',
    'letmein',
    'login',
    'moderator',
    'password',
    'tessera',
    'user',
    'welcome',
  ]);
  const host = contextWordsFor({ brandName: 'Tessera', issuer: 'https://www.auth.acme-widgets.co.uk' });
  assert.ok(
    ['auth', 'acme', 'widgets'].every((w) => host.includes(w)),
    host.join(),
  );
  assert.ok(!host.includes('www') && !host.includes('uk'));
  // An IP address names nothing.
  assert.deepEqual(
    contextWordsFor({ brandName: 'Tessera', issuer: 'http://127.0.0.1:3000' }).sort(),
    [...DEFAULT_CONTEXT_WORDS].sort(),
  );
  // Without words the policy checks nothing of the kind.
  assert.equal(checkPassword('Tessera2026!', { minLength: 12 }), undefined);
});

test('PASSWORD_CONTEXT_WORDS adds words; BRAND_NAME and ISSUER reach config.password.contextWords', () => {
  const config = loadConfig({
    BRAND_NAME: 'Example Corp',
    ISSUER: 'https://id.example.com',
    PASSWORD_CONTEXT_WORDS: 'Orion, Northwind Traders,ab',
  });
  const words = config.password.contextWords;
  for (const word of ['orion', 'northwind', 'traders', 'example', 'corp', 'tessera', 'admin']) {
    assert.ok(words.includes(word), word);
  }
  assert.ok(!words.includes('ab'), 'words under four letters are ignored');
  const withConfig = { minLength: config.password.minLength, contextWords: words };
  assert.equal(checkPassword('Orion-Northwind-2026', withConfig), 'context');
  assert.equal(checkPassword('0r10n-tr4d3rs-77', withConfig), 'context');
  assert.equal(checkPassword('Orion-Northwind-2026', policy), undefined, 'not a word without the setting');
  assert.equal(checkPassword(GOOD_PASSWORD, withConfig), undefined);
  // The default deployment refuses the product and its host.
  const defaults = loadConfig({}).password;
  assert.equal(checkPassword('localhost-tessera', defaults), 'context');
});
