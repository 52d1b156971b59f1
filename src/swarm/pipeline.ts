/**
 * Pipeline depth: how many requests to keep open to one peer. Too few and the link idles
 * for a round trip between chunks; too many and a slow peer sits on chunks a fast one
 * could deliver, and they all wait in memory. So the depth follows each peer's measured
 * rate: enough requests to cover PIPELINE_SECONDS of its data. A peer that takes longer
 * than that for one chunk gets one request at a time: the round trip lost between its
 * chunks is small beside the chunk, while a second request queued behind the first would
 * hold a chunk of the node's memory budget (maxBytesInMemory) for a whole chunk time,
 * which in a large swarm, where every uplink is shared by many, is many seconds (the
 * simulator shows it: docs/performance.md). The scheduler keeps the result within
 * 1..--concurrency (`Scheduler.setDepth`).
 */

/** How often the node samples each peer's rate (its timer's period). */
export const TICK_MS = 250;
/** Requests worth of data kept in flight to a peer: enough for this long at its rate. */
export const PIPELINE_SECONDS = 1;
/**
 * Weight of the newest tick in the smoothed rate. A tick's weight falls to a quarter within
 * a second (0.7^4): the depth follows a peer that slows down within about a second, and one
 * quiet tick (the gap between two chunks) costs the rate 30%, not the pipeline.
 */
const NEWEST_WEIGHT = 0.3;

/** One peer's receive rate, smoothed exponentially over ticks of TICK_MS. */
export class RateMeter {
  /** Bytes per second. */
  rate = 0;
  private bytesThisTick = 0;

  /** Data arrived from the peer. */
  add(bytes: number): void {
    this.bytesThisTick += bytes;
  }

  /** Ends a tick: folds its bytes into the rate and returns the rate. */
  tick(): number {
    this.rate = (1 - NEWEST_WEIGHT) * this.rate + NEWEST_WEIGHT * (this.bytesThisTick / (TICK_MS / 1000));
    this.bytesThisTick = 0;
    return this.rate;
  }
}

/** Requests to keep open to a peer receiving `rate` bytes per second, before the --concurrency cap. */
export function pipelineDepth(rate: number, chunkSize: number): number {
  return Math.max(1, Math.ceil((rate * PIPELINE_SECONDS) / chunkSize));
}
