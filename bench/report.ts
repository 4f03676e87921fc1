// The side-by-side bench's one table: rows of Tessera's figure, its peer's and its ceiling's,
// the ratios, and each row's targets with met or missed; rendered as Markdown and as an SVG
// chart (hand-written: one horizontal bar per target, the target marked on it).

/** One side of a row: the figure, the formatted cell, and what failed. */
export interface Measure {
  name: string;
  value: number;
  unit: string;
  /** As shown in the table, e.g. `4,784 req/s (4/29 ms)`. */
  cell: string;
  /** Non-2xx answers, client errors and timeouts (or failed operations): must be 0. */
  failures: number | null;
}

export interface Check {
  /** e.g. `vs peer` or `p99`. */
  what: string;
  /** A ratio (kind ratio) or the figure itself (kind absolute, in `unit`). */
  value: number;
  target: number;
  better: 'higher' | 'lower';
  kind: 'ratio' | 'absolute';
  unit?: string;
  met: boolean;
}

export interface Row {
  workload: string;
  tessera: Measure;
  peer: Measure | null;
  /** Why there is no peer figure, or what the peer figure is. */
  peerNote?: string;
  ceiling: Measure | null;
  vsPeer: number | null;
  vsCeiling: number | null;
  checks: Check[];
}

export const num = (x: number) => Math.round(x).toLocaleString('en-US');

/** A target on a ratio (vs peer, vs ceiling) or on the figure. */
export function check(
  what: string,
  value: number | null,
  target: number,
  options: { better?: 'higher' | 'lower'; kind?: 'ratio' | 'absolute'; unit?: string } = {},
): Check[] {
  if (value === null || !Number.isFinite(value)) return [];
  const better = options.better ?? 'higher';
  const met = better === 'higher' ? value >= target : value < target;
  return [{ what, value, target, better, kind: options.kind ?? 'ratio', unit: options.unit, met }];
}

export const ratio = (a: number, b: number | undefined): number | null => (b ? a / b : null);

function targetText(c: Check): string {
  const op = c.better === 'higher' ? '≥' : '<';
  if (c.kind === 'absolute') return `${c.what} ${op} ${num(c.target)}${c.unit ? ` ${c.unit}` : ''}`;
  return `${c.what} ${op} ${c.target}`;
}

export function markdown(rows: Row[]): string {
  const lines = [
    '| workload | Tessera | peer | ceiling | non-2xx (Tessera / peer / ceiling) | vs peer | vs ceiling | target | met |',
    '|---|---|---|---|---|---|---|---|---|',
  ];
  const f = (x: number | null) => (x === null ? '' : x.toFixed(2));
  const failures = (m: Measure | null) => (m === null || m.failures === null ? '-' : String(m.failures));
  for (const r of rows) {
    const peer = r.peer ? `${r.peer.name}: ${r.peer.cell}` : (r.peerNote ?? 'n/a');
    const ceiling = r.ceiling ? `${r.ceiling.name}: ${r.ceiling.cell}` : '';
    const targets = r.checks.map(targetText).join('; ');
    const met = r.checks.map((c) => (c.met ? 'met' : '**missed**')).join('; ');
    lines.push(
      `| ${r.workload} | ${r.tessera.cell} | ${peer} | ${ceiling} | ${failures(r.tessera)} / ${failures(r.peer)} / ${failures(r.ceiling)} | ${f(r.vsPeer)} | ${f(r.vsCeiling)} | ${targets} | ${met} |`,
    );
  }
  return lines.join('\n');
}

const escape = (s: string) => s.replace(/&/g, '&amp;').replace(/</g, '&lt;').replace(/>/g, '&gt;');

/**
 * One bar per target. A ratio target draws the ratio with the target marked at its value;
 * a target on the figure itself draws figure / target, marked at 1 (for a lower-is-better
 * target, a bar short of the mark is met).
 */
export function chart(rows: Row[], title: string): string {
  const bars = rows.flatMap((r) =>
    r.checks.map((c) => ({
      label: `${r.workload}: ${c.kind === 'ratio' ? c.what : `${c.what} / target`}`,
      value: c.kind === 'ratio' ? c.value : c.value / c.target,
      mark: c.kind === 'ratio' ? c.target : 1,
      text:
        c.kind === 'ratio'
          ? `${c.value.toFixed(2)} (target ${c.better === 'higher' ? '≥' : '<'} ${c.target})`
          : `${num(c.value)}${c.unit ? ` ${c.unit}` : ''} (target ${c.better === 'higher' ? '≥' : '<'} ${num(c.target)})`,
      met: c.met,
    })),
  );
  const labelWidth = 440;
  const barWidth = 380;
  const textWidth = 230;
  const rowHeight = 24;
  const top = 48;
  const width = labelWidth + barWidth + textWidth + 20;
  const height = top + bars.length * rowHeight + 40;
  const max = Math.max(2.5, Math.min(4, Math.ceil(Math.max(...bars.map((b) => Math.max(b.value, b.mark))) * 2) / 2));
  const x = (v: number) => labelWidth + (Math.min(v, max) / max) * barWidth;
  const out = [
    `<svg xmlns="http://www.w3.org/2000/svg" width="${width}" height="${height}" viewBox="0 0 ${width} ${height}" font-family="sans-serif" font-size="12">`,
    `<rect width="${width}" height="${height}" fill="#fff"/>`,
    `<text x="10" y="20" font-size="14" font-weight="bold">${escape(title)}</text>`,
    `<text x="10" y="36" fill="#555">Bars: Tessera's ratio to its peer or ceiling, or its figure / the target; black mark: the target. Green: met, red: missed.</text>`,
  ];
  for (let t = 0; t <= max; t += 0.5) {
    out.push(
      `<line x1="${x(t)}" y1="${top - 4}" x2="${x(t)}" y2="${top + bars.length * rowHeight}" stroke="#ddd"/>`,
      `<text x="${x(t)}" y="${top + bars.length * rowHeight + 16}" text-anchor="middle" fill="#555">${t.toFixed(1)}</text>`,
    );
  }
  bars.forEach((b, i) => {
    const y = top + i * rowHeight;
    const clipped = b.value > max ? ' ›' : '';
    out.push(
      `<text x="${labelWidth - 8}" y="${y + 16}" text-anchor="end">${escape(b.label)}</text>`,
      `<rect x="${labelWidth}" y="${y + 5}" width="${Math.max(1, x(b.value) - labelWidth).toFixed(1)}" height="${rowHeight - 10}" fill="${b.met ? '#3a9d5d' : '#d0483e'}"/>`,
      `<line x1="${x(b.mark)}" y1="${y + 1}" x2="${x(b.mark)}" y2="${y + rowHeight - 1}" stroke="#000" stroke-width="2"/>`,
      `<text x="${labelWidth + barWidth + 10}" y="${y + 16}">${escape(b.text + clipped)}</text>`,
    );
  });
  out.push('</svg>', '');
  return out.join('\n');
}
