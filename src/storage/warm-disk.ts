import { type Clock, systemClock } from "../util/clock.ts";

/** A read or stat on the JS thread that takes longer than this may have found its data outside memory. */
export const SLOW_INLINE_MS = 2;
/** The disk is taken as cold when this many of the last RECENT_OPERATIONS inline operations were slow. */
export const SLOW_TO_GO_COLD = 3;
const RECENT_OPERATIONS = 16;
const FIRST_BACK_OFF_MS = 1_000;
const LONGEST_BACK_OFF_MS = 60_000;

/**
 * Whether a payload's reads and stats may run on the JS thread. Data that was just made,
 * just downloaded or served a moment ago is in the page cache, where a read costs
 * microseconds and a trip to the thread pool (two thread wake-ups, each a costly context
 * switch on a virtual machine) costs more than the read: serving 20,000 small files spent
 * a third of its CPU there. On a cold disk or a network filesystem one read can take
 * milliseconds, during which no peer's messages are handled.
 *
 * So operations run inline while they are fast. One slow operation proves little: on a
 * busy machine the thread is also descheduled mid-read (3-12 ms, a few times a second,
 * with both cores busy). SLOW_TO_GO_COLD slow ones among the last RECENT_OPERATIONS send
 * everything to the pool for a second, then two, and so on up to a minute while the disk
 * stays cold; RECENT_OPERATIONS fast ones in a row start the back-off over. The event loop is thus
 * held up by at most SLOW_TO_GO_COLD slow operations per back-off.
 */
export class WarmDisk {
  private poolUntil = 0;
  private backOffMs = FIRST_BACK_OFF_MS;
  /** One bit per recent inline operation, newest lowest: set when it was slow. */
  private recentSlow = 0;
  private fastInARow = 0;

  constructor(private readonly now: Clock = systemClock) {}

  /** May the next operation run on the JS thread? */
  get warm(): boolean {
    return this.now() >= this.poolUntil;
  }

  /** Runs a synchronous operation and learns from how long it took. */
  timed<T>(operation: () => T): T {
    const startedAt = this.now();
    try {
      return operation();
    } finally {
      this.learn(this.now() - startedAt > SLOW_INLINE_MS);
    }
  }

  private learn(slow: boolean): void {
    this.recentSlow = ((this.recentSlow << 1) | (slow ? 1 : 0)) & ((1 << RECENT_OPERATIONS) - 1);
    this.fastInARow = slow ? 0 : this.fastInARow + 1;
    if (this.fastInARow >= RECENT_OPERATIONS) this.backOffMs = FIRST_BACK_OFF_MS;
    if (slowCount(this.recentSlow) < SLOW_TO_GO_COLD) return;
    this.recentSlow = 0;
    this.poolUntil = this.now() + this.backOffMs;
    this.backOffMs = Math.min(this.backOffMs * 2, LONGEST_BACK_OFF_MS);
  }
}

function slowCount(bits: number): number {
  let count = 0;
  for (; bits !== 0; bits &= bits - 1) count++;
  return count;
}
