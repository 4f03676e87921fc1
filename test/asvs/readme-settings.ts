// The README's Settings table as variable -> documented default, for the tests that hold
// the documentation to the defaults the code starts with.
import { readFileSync } from 'node:fs';
import { fileURLToPath } from 'node:url';

const README = readFileSync(fileURLToPath(new URL('../../README.md', import.meta.url)), 'utf8');

/** `| \`A\` / \`B\` | \`3\` / \`20\` | … |` rows: each variable with its own default. */
export function documentedDefaults(): Map<string, string> {
  const defaults = new Map<string, string>();
  for (const line of README.split('\n')) {
    const cells = line.split('|').map((c) => c.trim());
    if (cells.length < 4 || !cells[1]!.startsWith('`')) continue;
    const names = [...cells[1]!.matchAll(/`([A-Z][A-Z0-9_]+)`/g)].map((m) => m[1]!);
    const values = cells[2]!.split(' / ').map((v) => /^`([^`]*)`/.exec(v.trim())?.[1]);
    if (names.length !== values.length) continue;
    names.forEach((name, i) => {
      const value = values[i];
      if (value !== undefined && !defaults.has(name)) defaults.set(name, value);
    });
  }
  return defaults;
}

/** The body of the README section under `## title` or `### title`, up to the next heading of that level. */
export function section(title: string): string {
  const lines = README.split('\n');
  const start = lines.findIndex((l) => /^#{2,4} /.test(l) && l.replace(/^#+ /, '') === title);
  if (start < 0) return '';
  const level = /^#+/.exec(lines[start]!)![0].length;
  const end = lines.findIndex((l, i) => i > start && new RegExp(`^#{1,${level}} `).test(l));
  return lines.slice(start + 1, end < 0 ? undefined : end).join('\n');
}
