// Renders the README's tables of audit event types and alert rules from the code that
// defines them (EVENT_TYPES, RULES); `npm run docs:tables` writes them between the markers.
import { readFileSync, realpathSync, writeFileSync } from 'node:fs';
import { fileURLToPath } from 'node:url';
import { RULES } from '../src/audit/alert-rules.js';
import { EVENT_TYPES } from '../src/audit/event-types.js';

export const README = new URL('../README.md', import.meta.url);

/** Each generated block of the README, by the name its markers carry. */
export const TABLES: Record<string, () => string> = {
  events: () =>
    table(
      ['type', 'outcome', 'recorded when'],
      Object.entries(EVENT_TYPES).map(([type, { outcome, what }]) => [code(type), outcome, prose(what)]),
    ),
  alerts: () =>
    table(
      ['rule', 'severity', 'raised when', 'threshold setting'],
      Object.entries(RULES).map(([rule, { severity, when, setting }]) => [
        code(rule),
        severity,
        prose(when),
        setting ? code(setting) : '—',
      ]),
    ),
};

export const beginMarker = (name: string) => `<!-- BEGIN GENERATED: ${name} -->`;
export const endMarker = (name: string) => `<!-- END GENERATED: ${name} -->`;

function table(header: string[], rows: string[][]): string {
  const line = (cells: string[]) => `| ${cells.map((c) => c.replaceAll('|', '\\|')).join(' | ')} |`;
  return [line(header), `|${header.map(() => '---').join('|')}|`, ...rows.map(line)].join('\n');
}

const code = (text: string) => `\`${text}\``;

/**
 * The descriptions in the code are plain text; identifiers in them (setting names, error
 * codes, `detail.` fields: any word with an underscore or a dot path) read as code in the README.
 */
function prose(text: string): string {
  return text
    .split(/(`[^`]*`)/)
    .map((part) =>
      part.startsWith('`') ? part : part.replace(/\b(?:detail\.[a-z_]+|[A-Za-z0-9]+(?:_[A-Za-z0-9]+)+)\b/g, code),
    )
    .join('');
}

/** What belongs between a block's markers. */
export function renderBlock(name: string): string {
  const generate = TABLES[name];
  if (!generate) throw new Error(`no generated block named ${name}`);
  return `\n${generate()}\n`;
}

/** The text between a block's markers in the README. */
export function generatedBlock(readme: string, name: string): string {
  const begin = beginMarker(name);
  const end = endMarker(name);
  const start = readme.indexOf(begin);
  const stop = readme.indexOf(end);
  if (start === -1 || stop === -1 || stop < start) throw new Error(`README.md has no ${begin} … ${end} block`);
  if (readme.indexOf(begin, start + 1) !== -1 || readme.indexOf(end, stop + 1) !== -1)
    throw new Error(`README.md has more than one ${name} block`);
  return readme.slice(start + begin.length, stop);
}

/** The README with every generated block rendered afresh; everything else as it was. */
export function render(readme: string): string {
  let out = readme;
  for (const name of Object.keys(TABLES)) {
    const current = generatedBlock(out, name);
    const start = out.indexOf(beginMarker(name)) + beginMarker(name).length;
    out = `${out.slice(0, start)}${renderBlock(name)}${out.slice(start + current.length)}`;
  }
  return out;
}

/** Run as `npm run docs:tables` rather than imported by the drift test. */
function isEntryPoint(): boolean {
  try {
    return realpathSync(process.argv[1] ?? '') === realpathSync(fileURLToPath(import.meta.url));
  } catch {
    return false;
  }
}

if (isEntryPoint()) {
  const before = readFileSync(README, 'utf8');
  const after = render(before);
  if (after !== before) writeFileSync(README, after);
  process.stdout.write(
    after === before ? 'README.md: generated tables are up to date\n' : 'README.md: generated tables rewritten\n',
  );
}
