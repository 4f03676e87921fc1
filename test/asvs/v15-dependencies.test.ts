// ASVS 15.1.1 / 15.2.1: the README sets the windows in which vulnerable dependencies are
// fixed, and what enforces them is wired in: CI refuses a build with a known high or
// critical advisory in a production dependency, and dependabot proposes updates weekly
// for npm and the Docker base image.
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { readFileSync } from 'node:fs';
import { join } from 'node:path';
import { fileURLToPath } from 'node:url';

const ROOT = fileURLToPath(new URL('../..', import.meta.url));
const read = (file: string) => readFileSync(join(ROOT, file), 'utf8');

test('the remediation windows are documented and CI and dependabot enforce them', () => {
  const readme = read('README.md');
  const windows = /\*\*Remediation windows\*\*[^]*?(?=\n- |\n\n)/.exec(readme)?.[0];
  assert.ok(windows, 'a "Remediation windows" paragraph');
  assert.match(windows, /critical or high[^]*within 7 days/);
  assert.match(windows, /moderate ones within 30 days/);
  assert.match(windows, /Docker base\s+image/);

  // CI: the audit of production dependencies at level high, and a failure exits non-zero.
  const ci = read('.ci/run');
  assert.match(ci, /npm audit --omit=dev --audit-level=high/);
  assert.match(ci, /high or critical advisories in production dependencies[^\n]*exit 1/);
  assert.ok(ci.indexOf('npm audit') < ci.indexOf('npm test'), 'the gate runs before the tests');

  // Dependabot: npm and the base image, weekly.
  const dependabot = read('.github/dependabot.yml');
  for (const ecosystem of ['npm', 'docker']) {
    const entry = new RegExp(`package-ecosystem: ${ecosystem}\\n(?:\\s+.*\\n)*?\\s+interval: weekly`);
    assert.match(dependabot, entry, ecosystem);
  }
  // The lockfile is what ships: npm ci installs exactly it, in CI and in the image.
  assert.match(ci, /^npm ci$/m);
  assert.match(read('Dockerfile'), /npm ci/);
});
