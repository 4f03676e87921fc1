// The bench's table and chart: targets are judged the right way round, failures and misses
// show, and the SVG carries one bar per target with its mark, text escaped.
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { chart, check, markdown, ratio, type Measure, type Row } from '../../bench/report.js';

const measure = (name: string, value: number, failures: number | null = 0): Measure => ({
  name,
  value,
  unit: 'req/s',
  cell: `${value} req/s`,
  failures,
});

test('a higher-is-better target is met at the target, a lower-is-better one only below it', () => {
  assert.equal(check('vs peer', 1.5, 1.5)[0]!.met, true);
  assert.equal(check('vs peer', 1.49, 1.5)[0]!.met, false);
  assert.equal(check('p99', 20, 20, { better: 'lower', kind: 'absolute' })[0]!.met, false);
  assert.equal(check('p99', 19, 20, { better: 'lower', kind: 'absolute' })[0]!.met, true);
});

test('no figure, no target: a missing ratio is not judged', () => {
  assert.deepEqual(check('vs peer', null, 2), []);
  assert.deepEqual(check('vs peer', ratio(10, 0), 2), []);
  assert.equal(ratio(3, 2), 1.5);
});

const rows: Row[] = [
  {
    workload: 'JWKS <fast> & cheap',
    tessera: measure('Tessera', 900, 3),
    peer: measure('oidc-provider', 1000),
    ceiling: measure('bare Fastify', 1200),
    vsPeer: 0.9,
    vsCeiling: 0.75,
    checks: [...check('vs peer', 0.9, 1.5), ...check('vs ceiling', 0.75, 0.7)],
  },
  {
    workload: 'appends',
    tessera: { ...measure('Tessera', 6000), unit: 'events/s' },
    peer: null,
    peerNote: 'n/a',
    ceiling: null,
    vsPeer: null,
    vsCeiling: null,
    checks: check('events/s', 6000, 5000, { kind: 'absolute', unit: '/s' }),
  },
  {
    workload: 'peak RSS',
    tessera: measure('Tessera', 300, null),
    peer: null,
    ceiling: null,
    vsPeer: null,
    vsCeiling: null,
    checks: [],
  },
];

test('the table shows failures, the missing peer, each target and whether it was met', () => {
  const lines = markdown(rows).split('\n');
  assert.equal(lines.length, 2 + rows.length);
  const jwks = lines[2]!.split(' | ');
  assert.match(lines[2]!, /\| 3 \/ 0 \/ 0 \|/);
  assert.ok(jwks.includes('0.90') && jwks.includes('0.75'));
  assert.match(lines[2]!, /vs peer ≥ 1\.5; vs ceiling ≥ 0\.7 \| \*\*missed\*\*; met \|$/);
  assert.match(lines[3]!, /\| appends \| 6000 req\/s \| n\/a \|/);
  assert.match(lines[3]!, /events\/s ≥ 5,000 \/s \| met \|$/);
  assert.match(lines[4]!, /\| - \/ - \/ - \|/);
});

test('the chart has one bar per target, coloured by the verdict, with escaped labels', () => {
  const svg = chart(rows, 'title & <more>');
  const bars = [...svg.matchAll(/<rect x="[^"]+" y="[^"]+" width="[^"]+" height="[^"]+" fill="(#[0-9a-f]+)"\/>/g)];
  assert.deepEqual(
    bars.map((b) => b[1]),
    ['#d0483e', '#3a9d5d', '#3a9d5d'],
  );
  assert.ok(svg.includes('title &amp; &lt;more&gt;'));
  assert.ok(svg.includes('JWKS &lt;fast&gt; &amp; cheap: vs peer'));
  assert.ok(!/<(?!\/?(svg|rect|text|line)[ >])/.test(svg), 'only the elements the chart draws');
  // An absolute target is drawn as figure / target with the mark at 1: 6000 / 5000 = 1.2.
  assert.ok(svg.includes('appends: events/s / target'));
  assert.ok(svg.includes('6,000 /s (target ≥ 5,000)'));
});
