/**
 * What a swarm's completion times are measured against. The fluid-model lower bound of
 * Kumar & Ross ("Peer-assisted file distribution: the minimum distribution time", 2006):
 * no schedule can beat the seeds' uplink pushing one copy (F/u_s), the slowest downlink
 * taking one (F/d_min), or all uplinks together carrying N copies (N·F/(u_s + Σu_i)).
 *
 * With racks, every rack without a seed must take at least one copy in through its uplink
 * to the spine (F/L), and its n_r downloaders' copies can come only from their own uplinks
 * and that one (n_r·F/(U_r + L)).
 */
export interface SwarmCapacity {
  /** Package bytes. */
  size: number;
  /** The seeds' uplinks together, bytes per second. */
  seedUpload: number;
  /** Each downloader's uplink and downlink, bytes per second. */
  uploads: number[];
  downloads: number[];
  /** The racks other than the seeds' (empty without racks), and each rack's uplink to the spine, bytes per second. */
  racks?: { uplink: number; others: { downloaders: number; upload: number }[] };
}

/** T_min in seconds. */
export function fluidBound(c: SwarmCapacity): number {
  const n = c.uploads.length;
  const totalUpload = c.seedUpload + c.uploads.reduce((a, b) => a + b, 0);
  let bound = Math.max(c.size / c.seedUpload, c.size / Math.min(...c.downloads), (n * c.size) / totalUpload);
  const racks = c.racks;
  if (racks && racks.others.length > 0) {
    bound = Math.max(bound, c.size / racks.uplink);
    for (const r of racks.others) if (r.downloaders > 0) bound = Math.max(bound, (r.downloaders * c.size) / (r.upload + racks.uplink));
  }
  return bound;
}

/** The nearest-rank percentile (0 < p <= 100) of values sorted ascending; NaN for none. */
export function percentile(sorted: number[], p: number): number {
  if (sorted.length === 0) return Number.NaN;
  return sorted[Math.min(sorted.length, Math.max(1, Math.ceil((p / 100) * sorted.length))) - 1]!;
}
