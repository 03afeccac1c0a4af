/** Statistics of small samples: sums, medians, nearest-rank percentiles, shares. */

export function sum(numbers: readonly number[]): number {
  return numbers.reduce((a, b) => a + b, 0);
}

export function median(sample: readonly number[]): number {
  if (sample.length === 0) return NaN;
  const sorted = [...sample].sort((a, b) => a - b);
  const mid = sorted.length / 2;
  return Number.isInteger(mid) ? (sorted[mid - 1]! + sorted[mid]!) / 2 : sorted[Math.floor(mid)]!;
}

/** Nearest-rank percentile of an unsorted sample, `p` in 0..1; NaN when empty. */
export function percentile(sample: readonly number[], p: number): number {
  if (sample.length === 0) return NaN;
  const sorted = [...sample].sort((a, b) => a - b);
  return sorted[Math.min(sorted.length - 1, Math.max(0, Math.ceil(p * sorted.length) - 1))]!;
}

export interface Summary {
  n: number;
  p50: number;
  p90: number;
  p99: number;
  max: number;
  mean: number;
}

export function summarize(sample: readonly number[]): Summary {
  return {
    n: sample.length,
    p50: median(sample),
    p90: percentile(sample, 0.9),
    p99: percentile(sample, 0.99),
    max: sample.length === 0 ? NaN : Math.max(...sample),
    mean: sample.length === 0 ? NaN : sum(sample) / sample.length,
  };
}

export interface Spread {
  median: number;
  min: number;
  max: number;
}

/** The median of a sample and its range: what a few rounds of one measurement say. */
export function spread(sample: readonly number[]): Spread {
  return {
    median: median(sample),
    min: sample.length === 0 ? NaN : Math.min(...sample),
    max: sample.length === 0 ? NaN : Math.max(...sample),
  };
}

/** Each count as a multiple of the fair share, total / counts.length. */
export function shares(counts: readonly number[]): number[] {
  const total = sum(counts);
  return counts.map((c) => (total === 0 ? 0 : c / (total / counts.length)));
}
