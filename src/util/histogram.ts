/**
 * A fixed-size log-scale histogram of durations: constant memory however many samples,
 * percentiles within one bucket width (about 5%) of the exact value.
 */
export class Histogram {
  private static readonly MIN_MS = 0.01;
  private static readonly RATIO = 1.05;
  private readonly counts = new Uint32Array(400);
  private total = 0;

  add(ms: number): void {
    const i = ms <= Histogram.MIN_MS ? 0 : Math.ceil(Math.log(ms / Histogram.MIN_MS) / Math.log(Histogram.RATIO));
    this.counts[Math.min(i, this.counts.length - 1)]!++;
    this.total++;
  }

  get count(): number {
    return this.total;
  }

  /** The upper edge of the bucket holding the p-th percentile (0 < p <= 100); 0 when empty. */
  percentile(p: number): number {
    if (this.total === 0) return 0;
    const rank = Math.ceil((p / 100) * this.total);
    let seen = 0;
    for (let i = 0; i < this.counts.length; i++) {
      seen += this.counts[i]!;
      if (seen >= rank) return Histogram.MIN_MS * Histogram.RATIO ** i;
    }
    return Infinity;
  }
}
