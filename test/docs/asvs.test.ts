// docs/asvs.md is the ASVS 5.0 matrix: one row per Level 1–2 requirement of the chosen set
// (test/docs/asvs-5.0-l1-l2.txt, taken from the standard's text), each with a status and its
// proof. A `tested` row names test files and test titles that must exist as written; every
// other row gives its reason. The README states the totals this file counts.
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { existsSync, readFileSync } from 'node:fs';
import { fileURLToPath } from 'node:url';

const ROOT = fileURLToPath(new URL('../../', import.meta.url));
const read = (path: string): string => readFileSync(`${ROOT}${path}`, 'utf8');

const STATUSES = ['tested', 'not applicable', 'not yet applicable', 'untested'] as const;
type Status = (typeof STATUSES)[number];

interface Row {
  line: number;
  id: string;
  level: string;
  requirement: string;
  status: Status;
  proof: string;
}

/** The chosen set: id -> lowest level requiring it. */
function chosenSet(): Map<string, string> {
  const set = new Map<string, string>();
  for (const [i, line] of read('test/docs/asvs-5.0-l1-l2.txt').split('\n').entries()) {
    if (line.trim() === '') continue;
    const m = /^(\d+\.\d+\.\d+) ([12])$/.exec(line);
    assert.ok(m, `asvs-5.0-l1-l2.txt line ${i + 1} is "id level": ${JSON.stringify(line)}`);
    assert.ok(!set.has(m[1]!), `asvs-5.0-l1-l2.txt lists ${m[1]} once`);
    set.set(m[1]!, m[2]!);
  }
  return set;
}

/** Every requirement row of the matrix's tables (header and separator rows skipped). */
function matrixRows(): Row[] {
  const rows: Row[] = [];
  for (const [i, text] of read('docs/asvs.md').split('\n').entries()) {
    if (!/^\|\s*\d/.test(text)) continue;
    const cells = text.split('|').map((c) => c.trim());
    assert.equal(cells.length, 7, `docs/asvs.md line ${i + 1} has five cells: ${text}`);
    const [, id, level, requirement, status, proof] = cells as [string, string, string, string, string, string];
    assert.ok(
      (STATUSES as readonly string[]).includes(status),
      `docs/asvs.md line ${i + 1}: status "${status}" is one of ${STATUSES.join(', ')}`,
    );
    rows.push({ line: i + 1, id, level, requirement, status: status as Status, proof });
  }
  return rows;
}

/** Reads the string literal at `at` ('…', "…" or `…` without ${}), or undefined. */
function stringLiteral(source: string, at: number): string | undefined {
  const quote = source[at];
  if (quote !== "'" && quote !== '"' && quote !== '`') return undefined;
  let out = '';
  for (let i = at + 1; i < source.length; i++) {
    const c = source[i]!;
    if (c === quote) return out;
    if (c === '\\') {
      const next = source[++i]!;
      out += next === 'n' ? '\n' : next === 't' ? '\t' : next;
      continue;
    }
    if (quote === '`' && c === '$' && source[i + 1] === '{') return undefined;
    if (c === '\n' && quote !== '`') return undefined;
    out += c;
  }
  return undefined;
}

const titleCache = new Map<string, Set<string>>();

/** The literal titles of the test(), it(), describe() and t.test() calls of a file. */
function titlesOf(path: string): Set<string> {
  let titles = titleCache.get(path);
  if (titles) return titles;
  titles = new Set<string>();
  const source = read(path);
  for (const m of source.matchAll(/(?<![\w.$])(?:t\.test|test|it|describe)(?:\.(?:only|skip|todo))?\(\s*/g)) {
    const title = stringLiteral(source, m.index + m[0].length);
    if (title !== undefined) titles.add(title);
  }
  titleCache.set(path, titles);
  return titles;
}

/** `path` › title pairs of a proof cell, separated by "; ". */
function proofsOf(cell: string): { path: string; title: string }[] {
  return [...cell.matchAll(/`([^`]+)` › (.+?)(?=; `|$)/g)].map((m) => ({ path: m[1]!, title: m[2]!.trim() }));
}

function counts(rows: Row[]): Record<Status, number> {
  const c = { tested: 0, 'not applicable': 0, 'not yet applicable': 0, untested: 0 };
  for (const r of rows) c[r.status] += 1;
  return c;
}

test('every requirement of the chosen set has one line and every cited test exists', () => {
  const set = chosenSet();
  const rows = matrixRows();
  const problems: string[] = [];
  const seen = new Map<string, number>();
  for (const r of rows) {
    const at = `docs/asvs.md line ${r.line} (${r.id})`;
    if (seen.has(r.id)) problems.push(`${at}: ${r.id} already has line ${seen.get(r.id)}`);
    seen.set(r.id, r.line);
    const level = set.get(r.id);
    if (level === undefined) problems.push(`${at}: not a Level 1–2 requirement of ASVS 5.0`);
    else if (r.level !== level) problems.push(`${at}: level ${r.level}, the standard says ${level}`);
    if (r.requirement.length < 10) problems.push(`${at}: the requirement needs its line`);
    if (r.status !== 'tested') {
      if (r.proof.length < 20) problems.push(`${at}: a ${r.status} line gives its reason`);
      continue;
    }
    const proofs = proofsOf(r.proof);
    if (proofs.length === 0) problems.push(`${at}: a tested line names \`file\` › test title`);
    for (const { path, title } of proofs) {
      if (!/^test\/.+\.test\.ts$/.test(path) || !existsSync(`${ROOT}${path}`)) {
        problems.push(`${at}: ${path} is not a test file`);
      } else if (!titlesOf(path).has(title)) {
        problems.push(`${at}: ${path} has no test titled ${JSON.stringify(title)}`);
      }
    }
  }
  for (const id of set.keys()) if (!seen.has(id)) problems.push(`${id} has no line in docs/asvs.md`);
  assert.deepEqual(problems, []);
});

test('the README states the matrix totals', () => {
  const c = counts(matrixRows());
  const all = chosenSet().size;
  const applicable = all - c['not applicable'];
  const line =
    `ASVS 5.0 Level 1–2: **${all}** requirements, **${applicable}** applicable, **${c.tested}** tested, ` +
    `**${c['not yet applicable']}** not yet applicable, **${c.untested}** untested.`;
  assert.ok(read('README.md').split('\n').includes(line), `README.md has the line\n${line}`);
});
