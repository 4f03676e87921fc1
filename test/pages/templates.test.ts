// The template engine and the template files themselves: escaping on by default, one raw
// slot (the layout's body), every attribute quoted, found from the package root.
import { describe, it } from 'node:test';
import assert from 'node:assert/strict';
import { readdirSync, readFileSync } from 'node:fs';
import { join } from 'node:path';
import { Eta } from 'eta/core';
import { packageRoot } from '../../src/pages/package-root.js';
import { TEMPLATES_DIR } from '../../src/pages/pages.js';
import { pages } from './fixtures.js';

const dir = join(packageRoot(), TEMPLATES_DIR);
const templates = readdirSync(dir).filter((f) => f.endsWith('.eta'));
const source = (file: string) => readFileSync(join(dir, file), 'utf8');

describe('templates', () => {
  it('are found from the package root (where package.json names tessera)', () => {
    const manifest = JSON.parse(readFileSync(join(packageRoot(), 'package.json'), 'utf8'));
    assert.equal(manifest.name, 'tessera');
    assert.deepEqual(templates.sort(), [
      'account-done.eta',
      'consent.eta',
      'error.eta',
      'layout.eta',
      'logged-out.eta',
      'login.eta',
      'logout-confirm.eta',
      'mfa-enrol.eta',
      'mfa.eta',
      'password-reset-confirm.eta',
      'password-reset.eta',
      'recovery-codes.eta',
      'verify-email.eta',
    ]);
  });

  it('Eta escapes & < > " and \' by default, with it as the data and no with()', () => {
    const eta = new Eta();
    assert.equal(eta.config.autoEscape, true);
    assert.equal(eta.config.useWith, false);
    assert.equal(eta.config.varName, 'it');
    assert.equal(eta.renderString('<%= it.v %>', { v: `a&b<c>d"e'f` }), 'a&amp;b&lt;c&gt;d&quot;e&#39;f');
  });

  it('output raw only in the layout, once, for the already rendered body', () => {
    for (const file of templates) {
      const raw = source(file).match(/<%[-_]?\s*~[^%]*%>/g) ?? [];
      if (file === 'layout.eta') assert.deepEqual(raw, ['<%~ it.body %>']);
      else assert.deepEqual(raw, [], `${file} writes raw output`);
      // No way around escaping from code blocks either.
      assert.doesNotMatch(source(file), /\boutput\s*\(|__eta|include\s*\(|layout\s*\(/, file);
    }
  });

  it('quote every attribute value they fill in', () => {
    for (const file of templates) {
      assert.doesNotMatch(source(file), /=\s*<%/, `${file}: an unquoted attribute value`);
      // style and event handler attributes would need 'unsafe-inline' in the CSP.
      assert.doesNotMatch(source(file), /\s(style|on[a-z]+)\s*=/i, file);
    }
  });

  it('refuse a logo or captcha script that is not an http(s) URL', () => {
    for (const logoUrl of ['javascript:alert(1)', 'data:image/svg+xml,<svg/>', '//evil.example/x.png', 'https://a/"x'])
      assert.throws(() => pages({ logoUrl }), /BRAND_LOGO_URL/, logoUrl);
    assert.throws(
      () => pages({ captcha: { provider: 'turnstile', scriptUrl: 'javascript:alert(1)' } }),
      /CAPTCHA_SCRIPT_URL/,
    );
    assert.doesNotThrow(() => pages({ captcha: { provider: 'none', scriptUrl: '' } }));
    assert.doesNotThrow(() => pages({ logoUrl: undefined }));
  });

  it('refuse a form action that leaves this server', () => {
    const p = pages();
    for (const action of ['https://evil.example/login', '//evil.example/login', 'javascript:alert(1)', '/\\evil'])
      assert.throws(
        () => p.consent({ clientName: 'x', action, hidden: {}, scopes: [], formActions: [] }),
        /form action/,
        action,
      );
  });
});
