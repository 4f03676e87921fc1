// Small numeric helpers for the bench's own measurements (autocannon has its own histogram).

/** The p-th percentile (nearest rank) of an ascending list; 0 for an empty one. */
export const percentile = (sorted: number[], p: number): number =>
  sorted.length ? sorted[Math.min(sorted.length - 1, Math.floor((p / 100) * sorted.length))]! : 0;
