// RSS of each instance every few seconds from /proc/<pid>/status, and per process (an
// instance restarted is a new process): the first sample after the warm-up, the last, and
// the least-squares slope in MB per minute over the samples after the warm-up.
import { round1 } from './recorder.js';
import { rssMb, type Instance } from './cluster.js';

export interface RssSample {
  instance: string;
  pid: number;
  /** ms on the soak's clock. */
  at: number;
  mb: number;
}

export interface RssFigures {
  instance: string;
  pid: number;
  samples: number;
  /** ms on the soak's clock of the first sample after the warm-up, and of the last. */
  firstAt: number | null;
  lastAt: number | null;
  firstMb: number | null;
  lastMb: number | null;
  peakMb: number;
  /** null with fewer than three samples after the warm-up. */
  slopeMbPerMin: number | null;
}

export function sampleEvery(
  instances: Instance[],
  intervalMs: number,
  clock: () => number,
): { samples: RssSample[]; stop(): void } {
  const samples: RssSample[] = [];
  const take = () => {
    for (const instance of instances) {
      const pid = instance.pid;
      const mb = pid === undefined ? undefined : rssMb(pid);
      if (pid !== undefined && mb !== undefined) samples.push({ instance: instance.name, pid, at: clock(), mb });
    }
  };
  take();
  const timer = setInterval(take, intervalMs);
  return { samples, stop: () => clearInterval(timer) };
}

function slope(points: Array<{ at: number; mb: number }>): number | null {
  if (points.length < 3) return null;
  const n = points.length;
  const mx = points.reduce((a, p) => a + p.at, 0) / n;
  const my = points.reduce((a, p) => a + p.mb, 0) / n;
  const sxx = points.reduce((a, p) => a + (p.at - mx) ** 2, 0);
  const sxy = points.reduce((a, p) => a + (p.at - mx) * (p.mb - my), 0);
  return sxx === 0 ? null : (sxy / sxx) * 60_000;
}

/** Figures per process; `warmupMs` counted from each process's own start. */
export function rssFigures(samples: RssSample[], instances: Instance[], warmupMs: number): RssFigures[] {
  const out: RssFigures[] = [];
  for (const instance of instances) {
    for (const { pid, since } of instance.pids) {
      const mine = samples.filter((s) => s.pid === pid);
      const warm = mine.filter((s) => s.at >= since + warmupMs);
      const first = warm[0];
      const last = warm.at(-1);
      const s = slope(warm);
      out.push({
        instance: instance.name,
        pid,
        samples: mine.length,
        firstAt: first?.at ?? null,
        lastAt: last?.at ?? null,
        firstMb: first ? round1(first.mb) : null,
        lastMb: last ? round1(last.mb) : null,
        peakMb: round1(Math.max(0, ...mine.map((m) => m.mb))),
        slopeMbPerMin: s === null ? null : round1(s),
      });
    }
  }
  return out;
}
