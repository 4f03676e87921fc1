// What the soak saw: every request's end time, latency and outcome per traffic kind, the
// event windows (rotation, restarts), and the figures made from them: throughput, latency
// percentiles, failures by outcome inside and outside the windows, p99 per time bucket.
import { percentile } from '../stats.js';

/** A status code (`200`, `503`) or a socket error code (`ECONNRESET`, `timeout`). */
export type Outcome = string;

export interface EventWindow {
  name: string;
  /** ms on the soak's clock. */
  start: number;
  end: number;
}

interface KindLog {
  at: number[];
  ms: number[];
  /** Index into outcomes; negative (-1 - index) when it is a failure. */
  outcome: number[];
}

export interface KindFigures {
  kind: string;
  requests: number;
  reqPerSec: number;
  p50: number;
  p90: number;
  p99: number;
  max: number;
  /** Failures by outcome: inside an event window, outside all of them. */
  inside: Record<Outcome, number>;
  outside: Record<Outcome, number>;
  /** Failures outside every window with when they happened (first 20), for the report. */
  outsideAt: Array<{ at: number; outcome: Outcome }>;
}

export const round1 = (x: number) => Math.round(x * 10) / 10;

export class Recorder {
  private readonly kinds = new Map<string, KindLog>();
  private readonly outcomes: Outcome[] = [];
  readonly windows: EventWindow[] = [];

  constructor(readonly clock: () => number) {}

  private outcomeIndex(outcome: Outcome): number {
    let i = this.outcomes.indexOf(outcome);
    if (i === -1) i = this.outcomes.push(outcome) - 1;
    return i;
  }

  /**
   * One finished request; `failed` for a 5xx, a socket error or an answer the flow did not
   * expect; `ms` -1 when there was no answer.
   */
  record(kind: string, ms: number, outcome: Outcome, failed: boolean): void {
    let log = this.kinds.get(kind);
    if (!log) this.kinds.set(kind, (log = { at: [], ms: [], outcome: [] }));
    const i = this.outcomeIndex(outcome);
    log.at.push(this.clock());
    log.ms.push(ms);
    log.outcome.push(failed ? -1 - i : i);
  }

  /** Opens an event window now; the returned function closes it `graceMs` later than when called. */
  begin(name: string, graceMs: number): (extra?: string) => EventWindow {
    const window: EventWindow = { name, start: this.clock(), end: Number.POSITIVE_INFINITY };
    this.windows.push(window);
    return (extra) => {
      window.end = this.clock() + graceMs;
      if (extra) window.name = `${name} ${extra}`;
      return window;
    };
  }

  private inWindow(at: number): boolean {
    return this.windows.some((w) => at >= w.start && at <= w.end);
  }

  /** Failures of every kind that ended within [from, to], by outcome. */
  failuresBetween(from: number, to: number): Record<Outcome, number> {
    const counts: Record<Outcome, number> = {};
    for (const log of this.kinds.values())
      log.outcome.forEach((o, i) => {
        if (o >= 0 || log.at[i]! < from || log.at[i]! > to) return;
        const outcome = this.outcomes[-1 - o]!;
        counts[outcome] = (counts[outcome] ?? 0) + 1;
      });
    return counts;
  }

  figures(from: number, to: number): KindFigures[] {
    const seconds = (to - from) / 1000;
    return [...this.kinds].map(([kind, log]) => {
      // Failures without an answer carry no latency (-1).
      const sorted = log.ms.filter((ms) => ms >= 0).sort((a, b) => a - b);
      const inside: Record<Outcome, number> = {};
      const outside: Record<Outcome, number> = {};
      const outsideAt: KindFigures['outsideAt'] = [];
      log.outcome.forEach((o, n) => {
        if (o >= 0) return;
        const outcome = this.outcomes[-1 - o]!;
        const at = log.at[n]!;
        const bucket = this.inWindow(at) ? inside : outside;
        bucket[outcome] = (bucket[outcome] ?? 0) + 1;
        if (bucket === outside && outsideAt.length < 20) outsideAt.push({ at, outcome });
      });
      return {
        kind,
        requests: log.ms.length,
        reqPerSec: round1(log.ms.length / seconds),
        p50: round1(percentile(sorted, 50)),
        p90: round1(percentile(sorted, 90)),
        p99: round1(percentile(sorted, 99)),
        max: round1(sorted.at(-1) ?? 0),
        inside,
        outside,
        outsideAt,
      };
    });
  }

  /** p99 latency per kind in buckets of `bucketMs` (bucket start, ms), for the chart. */
  p99Series(bucketMs: number): Record<string, Array<{ at: number; p99: number }>> {
    const series: Record<string, Array<{ at: number; p99: number }>> = {};
    for (const [kind, log] of this.kinds) {
      const buckets = new Map<number, number[]>();
      log.at.forEach((at, n) => {
        const b = Math.floor(at / bucketMs) * bucketMs;
        let list = buckets.get(b);
        if (!list) buckets.set(b, (list = []));
        if (log.ms[n]! >= 0) list.push(log.ms[n]!);
      });
      series[kind] = [...buckets]
        .sort(([a], [b]) => a - b)
        .map(([at, list]) => ({
          at,
          p99: round1(
            percentile(
              list.sort((x, y) => x - y),
              99,
            ),
          ),
        }));
    }
    return series;
  }
}

/** What a thrown fetch error was, as an outcome: the socket error code, or timeout. */
export function errorOutcome(error: unknown): Outcome {
  const e = error as { name?: string; code?: string; cause?: { code?: string; name?: string } };
  if (e?.name === 'TimeoutError' || e?.cause?.name === 'TimeoutError') return 'timeout';
  return e?.cause?.code ?? e?.code ?? e?.name ?? 'error';
}
