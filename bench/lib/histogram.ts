/**
 * Latency histograms in 10 µs buckets: small enough for each benchmark
 * process to send as JSON, fine enough for a p99 over all processes.
 * A bucket holds latencies up to its upper bound, so percentiles round up.
 */
export type Histogram = Record<number, number>;

const BUCKETS_PER_MS = 100;

export function record(histogram: Histogram, ms: number): void {
  const bucket = Math.ceil(ms * BUCKETS_PER_MS);
  histogram[bucket] = (histogram[bucket] ?? 0) + 1;
}

export function merge(histograms: Histogram[]): Histogram {
  const merged: Histogram = {};
  for (const histogram of histograms) {
    for (const [bucket, count] of Object.entries(histogram)) merged[Number(bucket)] = (merged[Number(bucket)] ?? 0) + count;
  }
  return merged;
}

/** The latency in ms below which a fraction `p` (0..1) of the samples fall; 0 when empty. */
export function percentile(histogram: Histogram, p: number): number {
  const buckets = Object.entries(histogram)
    .map(([bucket, count]) => [Number(bucket), count] as const)
    .sort((a, b) => a[0] - b[0]);
  const total = buckets.reduce((sum, [, count]) => sum + count, 0);
  let seen = 0;
  for (const [bucket, count] of buckets) {
    seen += count;
    if (seen >= p * total) return bucket / BUCKETS_PER_MS;
  }
  return 0;
}
