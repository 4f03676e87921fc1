// The README's tables of audit event types and alert rules are generated from the code:
// the committed text between their markers must be what the script renders.
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { readFileSync } from 'node:fs';
import { RULES } from '../../src/audit/alert-rules.js';
import { EVENT_TYPES } from '../../src/audit/event-types.js';
import {
  README,
  TABLES,
  beginMarker,
  endMarker,
  generatedBlock,
  render,
  renderBlock,
} from '../../scripts/generate-readme-tables.js';

const readme = readFileSync(README, 'utf8');

for (const name of Object.keys(TABLES)) {
  test(`the README's ${name} table is what the code generates`, () => {
    const committed = generatedBlock(readme, name);
    const current = renderBlock(name);
    if (committed === current) return;
    const a = current.split('\n');
    const b = committed.split('\n');
    const at = Math.max(
      0,
      a.findIndex((line, i) => line !== b[i]),
    );
    assert.fail(
      `README.md's ${name} table is out of date: run \`npm run docs:tables\` and commit the result ` +
        `(first difference at its line ${at}: generated ${JSON.stringify(a[at] ?? '')}, committed ${JSON.stringify(b[at] ?? '')})`,
    );
  });
}

test('every event type and every alert rule has its row', () => {
  const rows = (name: string) =>
    renderBlock(name)
      .split('\n')
      .filter((line) => line.startsWith('| `'));
  assert.deepEqual(
    rows('events').map((row) => row.split('`')[1]),
    Object.keys(EVENT_TYPES),
  );
  assert.deepEqual(
    rows('alerts').map((row) => row.split('`')[1]),
    Object.keys(RULES),
  );
});

test('rendering changes only the text between the markers, and a second time nothing', () => {
  const sample = [
    '# Title',
    'before',
    beginMarker('events'),
    'stale',
    endMarker('events'),
    'between',
    beginMarker('alerts'),
    endMarker('alerts'),
    'after',
    '',
  ].join('\n');
  const once = render(sample);
  assert.equal(render(once), once);
  assert.equal(
    once,
    [
      '# Title',
      'before',
      `${beginMarker('events')}${renderBlock('events')}${endMarker('events')}`,
      'between',
      `${beginMarker('alerts')}${renderBlock('alerts')}${endMarker('alerts')}`,
      'after',
      '',
    ].join('\n'),
  );
});

test('a README without its markers, or with a block twice, is refused rather than guessed at', () => {
  assert.throws(() => render('# no markers\n'), /no <!-- BEGIN GENERATED: events -->/);
  const twice = [
    beginMarker('events'),
    endMarker('events'),
    beginMarker('events'),
    endMarker('events'),
    beginMarker('alerts'),
    endMarker('alerts'),
  ].join('\n');
  assert.throws(() => render(twice), /more than one events block/);
});
