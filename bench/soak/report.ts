// The soak's report: Markdown tables (traffic, failures inside and outside the event
// windows, memory per instance process, the must-hold checks) and a hand-written SVG chart
// of p99 latency per traffic kind and RSS per instance over time, with the events marked.
import type { EventWindow, KindFigures } from './recorder.js';
import type { RssFigures, RssSample } from './memory.js';

export interface CheckResult {
  name: string;
  ok: boolean;
  detail: string;
}

export interface SoakReport {
  startedAt: string;
  node: string;
  cpu: string;
  seconds: number;
  settings: Record<string, string | number | boolean>;
  balancing: string;
  kinds: KindFigures[];
  windows: Array<EventWindow & { failures: Record<string, number> }>;
  rss: RssFigures[];
  rssSamples: RssSample[];
  p99Series: Record<string, Array<{ at: number; p99: number }>>;
  proxy: {
    connections: Record<string, number>;
    connectRetries: number;
    refused: number;
    unanswered: Record<string, number>;
  };
  logs: { dir: string; lines: Record<string, { warn: number; error: number; fatal: number }> };
  chains: { total: number; ended: number; refreshes: number; tokensIssued: number; retried: number };
  alerts: { stored: number; byDelivery: Record<string, number>; received: number; headerIds: boolean };
  checks: CheckResult[];
}

const s = (ms: number) => (ms / 1000).toFixed(1);
const failures = (r: Record<string, number>) =>
  Object.entries(r)
    .map(([k, v]) => `${k}: ${v}`)
    .join(', ') || '0';

export function markdown(r: SoakReport): string {
  const lines: string[] = [
    `# Soak: ${r.seconds} s, three instances behind a round-robin proxy`,
    '',
    `${r.startedAt}; node ${r.node}; ${r.cpu}. ${r.balancing}`,
    '',
    '## Traffic',
    '',
    '| kind | requests | req/s | p50 ms | p90 ms | p99 ms | max ms | failures inside windows | failures outside |',
    '|---|---|---|---|---|---|---|---|---|',
  ];
  for (const k of r.kinds)
    lines.push(
      `| ${k.kind} | ${k.requests} | ${k.reqPerSec} | ${k.p50} | ${k.p90} | ${k.p99} | ${k.max} | ${failures(k.inside)} | ${failures(k.outside)} |`,
    );
  lines.push(
    '',
    '## Event windows',
    '',
    '| event | from s | to s | failures in the window (all kinds; windows may overlap) |',
    '|---|---|---|---|',
  );
  for (const w of r.windows) lines.push(`| ${w.name} | ${s(w.start)} | ${s(w.end)} | ${failures(w.failures)} |`);
  const outside = r.kinds.flatMap((k) => k.outsideAt.map((o) => `${k.kind} at ${s(o.at)} s: ${o.outcome}`));
  if (outside.length)
    lines.push('', 'Failures outside the windows (first 20 per kind):', '', ...outside.map((o) => `- ${o}`));
  lines.push(
    '',
    '## Memory (RSS, MB; per process: a restarted instance is a new one)',
    '',
    '| instance | pid | samples | first after warm-up (at s) | last (at s) | peak | slope MB/min |',
    '|---|---|---|---|---|---|---|',
  );
  for (const m of r.rss)
    lines.push(
      `| ${m.instance} | ${m.pid} | ${m.samples} | ${m.firstMb ?? '-'} (${m.firstAt === null ? '-' : s(m.firstAt)}) | ${m.lastMb ?? '-'} (${m.lastAt === null ? '-' : s(m.lastAt)}) | ${m.peakMb} | ${m.slopeMbPerMin ?? '-'} |`,
    );
  lines.push(
    '',
    '## State',
    '',
    `- proxy: connections per upstream ${JSON.stringify(r.proxy.connections)}, connect retries ${r.proxy.connectRetries}, refused ${r.proxy.refused}, closed by an instance with a request unanswered ${JSON.stringify(r.proxy.unanswered)}`,
    `- instance logs (${r.logs.dir}): ${Object.entries(r.logs.lines)
      .map(([name, l]) => `${name} ${l.warn} warn / ${l.error} error / ${l.fatal} fatal lines`)
      .join('; ')}`,
    `- refresh chains: ${r.chains.total} (${r.chains.ended} ended on purpose), ${r.chains.refreshes} refreshes, ${r.chains.tokensIssued} refresh tokens issued, ${r.chains.retried} refreshes presented again after a lost answer`,
    `- alerts: ${r.alerts.stored} stored (${failures(r.alerts.byDelivery)}), ${r.alerts.received} deliveries received${r.alerts.headerIds ? '' : ' (no webhook-id header: counted by the payload id)'}`,
    '',
    '## Checks',
    '',
    '| check | result | detail |',
    '|---|---|---|',
    ...r.checks.map((c) => `| ${c.name} | ${c.ok ? 'ok' : '**FAILED**'} | ${c.detail.replace(/\|/g, '\\|')} |`),
    '',
  );
  return lines.join('\n');
}

const escape = (text: string) => text.replace(/&/g, '&amp;').replace(/</g, '&lt;').replace(/>/g, '&gt;');
const COLOURS = [
  '#1f77b4',
  '#ff7f0e',
  '#2ca02c',
  '#d62728',
  '#9467bd',
  '#8c564b',
  '#e377c2',
  '#7f7f7f',
  '#bcbd22',
  '#17becf',
  '#393b79',
  '#637939',
  '#8c6d31',
  '#843c39',
];

/** Two panels over the same time axis: p99 per kind (log scale), RSS per instance; events shaded. */
export function chart(r: SoakReport): string {
  const width = 1100;
  const left = 60;
  const plot = 700;
  const legendX = left + plot + 20;
  const panel = 260;
  const top1 = 50;
  const top2 = top1 + panel + 60;
  const height = top2 + panel + 50;
  const endMs = r.seconds * 1000 + 5000;
  const x = (ms: number) => left + (Math.min(ms, endMs) / endMs) * plot;
  const maxP99 = Math.max(10, ...Object.values(r.p99Series).flatMap((l) => l.map((p) => p.p99)));
  const logMax = Math.log10(maxP99 * 1.2);
  const y1 = (v: number) => top1 + panel - (Math.log10(Math.max(v, 1)) / logMax) * panel;
  const maxRss = Math.max(100, ...r.rssSamples.map((m) => m.mb)) * 1.1;
  const y2 = (mb: number) => top2 + panel - (mb / maxRss) * panel;
  const out = [
    `<svg xmlns="http://www.w3.org/2000/svg" width="${width}" height="${height}" viewBox="0 0 ${width} ${height}" font-family="sans-serif" font-size="11">`,
    `<rect width="${width}" height="${height}" fill="#fff"/>`,
    `<text x="10" y="20" font-size="14" font-weight="bold">${escape(`Soak, ${r.seconds} s: p99 latency per traffic kind (5 s buckets, log scale) and RSS per instance`)}</text>`,
    `<text x="10" y="36" fill="#555">Shaded: event windows (key rotations, graceful restart, SIGKILL and restart).</text>`,
  ];
  for (const top of [top1, top2]) {
    for (const w of r.windows)
      out.push(
        `<rect x="${x(w.start).toFixed(1)}" y="${top}" width="${Math.max(2, x(w.end) - x(w.start)).toFixed(1)}" height="${panel}" fill="${w.name.startsWith('key') ? '#eef' : '#fdd'}"/>`,
      );
    out.push(`<rect x="${left}" y="${top}" width="${plot}" height="${panel}" fill="none" stroke="#999"/>`);
    for (let t = 0; t <= endMs; t += 30_000)
      out.push(
        `<text x="${x(t).toFixed(1)}" y="${top + panel + 14}" text-anchor="middle" fill="#555">${t / 1000} s</text>`,
      );
  }
  for (const w of r.windows)
    if (!w.name.startsWith('key') && !w.name.includes('stop only'))
      out.push(`<text x="${(x(w.start) + 2).toFixed(1)}" y="${top1 + 12}" fill="#a33">${escape(w.name)}</text>`);
  for (let v = 1; v <= maxP99 * 1.2; v *= 10)
    out.push(
      `<line x1="${left}" y1="${y1(v).toFixed(1)}" x2="${left + plot}" y2="${y1(v).toFixed(1)}" stroke="#eee"/>`,
      `<text x="${left - 4}" y="${(y1(v) + 4).toFixed(1)}" text-anchor="end" fill="#555">${v} ms</text>`,
    );
  Object.entries(r.p99Series).forEach(([kind, points], i) => {
    const colour = COLOURS[i % COLOURS.length]!;
    const d = points.map((p, n) => `${n ? 'L' : 'M'}${x(p.at + 2500).toFixed(1)},${y1(p.p99).toFixed(1)}`).join(' ');
    out.push(
      `<path d="${d}" fill="none" stroke="${colour}" stroke-width="1.5"/>`,
      `<rect x="${legendX}" y="${top1 + i * 16}" width="10" height="10" fill="${colour}"/>`,
      `<text x="${legendX + 14}" y="${top1 + i * 16 + 9}">${escape(kind)}</text>`,
    );
  });
  for (let mb = 0; mb <= maxRss; mb += 100)
    out.push(
      `<line x1="${left}" y1="${y2(mb).toFixed(1)}" x2="${left + plot}" y2="${y2(mb).toFixed(1)}" stroke="#eee"/>`,
      `<text x="${left - 4}" y="${(y2(mb) + 4).toFixed(1)}" text-anchor="end" fill="#555">${mb} MB</text>`,
    );
  const names = [...new Set(r.rssSamples.map((m) => m.instance))];
  names.forEach((name, i) => {
    const colour = COLOURS[i]!;
    // One line per process: a restart starts a new line.
    for (const pid of new Set(r.rssSamples.filter((m) => m.instance === name).map((m) => m.pid))) {
      const points = r.rssSamples.filter((m) => m.pid === pid);
      const d = points.map((p, n) => `${n ? 'L' : 'M'}${x(p.at).toFixed(1)},${y2(p.mb).toFixed(1)}`).join(' ');
      out.push(`<path d="${d}" fill="none" stroke="${colour}" stroke-width="2"/>`);
    }
    out.push(
      `<rect x="${legendX}" y="${top2 + i * 16}" width="10" height="10" fill="${colour}"/>`,
      `<text x="${legendX + 14}" y="${top2 + i * 16 + 9}">RSS ${escape(name)}</text>`,
    );
  });
  out.push('</svg>', '');
  return out.join('\n');
}
