/**
 * The stall rule. A peer that accepted requests and then sends nothing holds those chunks
 * hostage: outside endgame nobody else is asked for them. So a peer with requests open and
 * no data for STALL_MS loses them to others, and keeps one slot (DEPTH_AFTER_STALL) so it
 * can prove itself again rather than being dropped: a peer that paused (a disk flush, a
 * busy uplink) comes back to full depth as its rate recovers.
 *
 * The wait is measured from the last data, or from when requests were opened after none
 * were: a peer that was merely not asked is not slow.
 */

/** A peer with requests open and no data for this long loses them to others. */
export const STALL_MS = 5_000;
/** Requests a stalled peer keeps. */
export const DEPTH_AFTER_STALL = 1;

/** One peer's stall clock. Times are milliseconds from one monotonic clock, passed in. */
export class StallWatch {
  private waitingSince: number;

  constructor(now: number) {
    this.waitingSince = now;
  }

  /** Data arrived from the peer. */
  progressed(now: number): void {
    this.waitingSince = now;
  }

  /** Requests were opened to the peer, `openBefore` being already open: after none, the wait starts now. */
  opened(openBefore: number, now: number): void {
    if (openBefore === 0) this.waitingSince = now;
  }

  /**
   * Has the peer, with `open` requests, stalled? When it has, the wait restarts, so the slot
   * it keeps gets a full STALL_MS.
   */
  stalled(open: number, now: number): boolean {
    if (open === 0 || now - this.waitingSince <= STALL_MS) return false;
    this.waitingSince = now;
    return true;
  }
}
