// The plan summary: every module of oidcc-basic-certification-test-plan has exactly one
// test named after it, in the file plan.ts names, and README.md lists each module's outcome
// as plan.ts does. (No server: it reads the files.)
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { readFileSync } from 'node:fs';
import { BASIC_OP_PLAN, readmeLine } from './plan.js';

const here = new URL('./', import.meta.url);
const read = (name: string) => readFileSync(new URL(name, here), 'utf8');

test('plan summary', () => {
  const files = [...new Set(BASIC_OP_PLAN.map((m) => m.file))];
  const testsIn = new Map(files.map((f) => [f, [...read(f).matchAll(/^test\('([^']+)'/gm)].map((m) => m[1]!)]));
  for (const m of BASIC_OP_PLAN) {
    const count = [...testsIn.values()].flat().filter((name) => name === m.module).length;
    assert.equal(count, 1, `${m.module}: one test in all files`);
    assert.ok(testsIn.get(m.file)!.includes(m.module), `${m.module} is tested in ${m.file}`);
  }
  const modules = new Set(BASIC_OP_PLAN.map((m) => m.module));
  assert.equal(modules.size, BASIC_OP_PLAN.length, 'no module twice');
  for (const [file, names] of testsIn)
    for (const name of names) assert.ok(modules.has(name), `${file}: test "${name}" is a module of the plan`);

  const listed = read('README.md')
    .split('\n')
    .filter((line) => line.startsWith('- `oidcc-'));
  assert.deepEqual(listed, BASIC_OP_PLAN.map(readmeLine), 'README.md lists the plan as plan.ts does');
});
