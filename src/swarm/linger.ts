import { NET } from "../config.ts";

/** What the linger rule looks at. Times are milliseconds on the sessions' clock. */
export interface LingerState {
  now: number;
  /** When the download completed (or lingering began). */
  completedAt: number;
  /** --linger: Infinity serves for ever (get --seed). */
  maxMs: number;
  /** The last REQUEST from any peer. */
  lastRequestAt: number;
  /** The last HAVE from any peer: whoever announces a chunk is still downloading, and may ask us next. */
  lastHaveAt: number;
  /** A chunk is queued or being sent. */
  uploading: boolean;
}

/**
 * Has a get that completed served long enough? It serves on while it is of use: until,
 * for NET.lingerIdleMs, nobody has asked it for a chunk and no peer has announced one,
 * and nothing is being sent; at most --linger. Leaving when only requests had stopped,
 * finished nodes left a large swarm while their neighbours still downloaded, and at
 * 10 Gbit/s the stragglers found no one left to ask (docs/performance.md, "Scale").
 */
export function lingerOver(s: LingerState): boolean {
  if (s.maxMs === Infinity) return false;
  if (s.now - s.completedAt >= s.maxMs) return true;
  const lastUse = Math.max(s.completedAt, s.lastRequestAt, s.lastHaveAt);
  return s.now - lastUse >= NET.lingerIdleMs && !s.uploading;
}
