/**
 * What a swarm's completion times are measured against. The fluid-model lower bound of
 * Kumar & Ross ("Peer-assisted file distribution: the minimum distribution time", 2006):
 * no schedule can beat the seeds' uplink pushing one copy (F/u_s), the slowest downlink
 * taking one (F/d_min), or all uplinks together carrying N copies (N·F/(u_s + Σu_i)).
 */
export interface SwarmCapacity {
  /** Package bytes. */
  size: number;
  /** The seeds' uplinks together, bytes per second. */
  seedUpload: number;
  /** Each downloader's uplink and downlink, bytes per second. */
  uploads: number[];
  downloads: number[];
}

/** T_min in seconds. */
export function fluidBound(c: SwarmCapacity): number {
  const n = c.uploads.length;
  const totalUpload = c.seedUpload + c.uploads.reduce((a, b) => a + b, 0);
  return Math.max(c.size / c.seedUpload, c.size / Math.min(...c.downloads), (n * c.size) / totalUpload);
}

/** The nearest-rank percentile (0 < p <= 100) of values sorted ascending; NaN for none. */
export function percentile(sorted: number[], p: number): number {
  if (sorted.length === 0) return Number.NaN;
  return sorted[Math.min(sorted.length, Math.max(1, Math.ceil((p / 100) * sorted.length))) - 1]!;
}
