import { type Clock, systemClock } from "./clock.ts";

/**
 * A token bucket: `rate` bytes per second on average, bursts of at most `burst` bytes.
 * Pure arithmetic over a clock passed in, so it is testable without waiting.
 */
export class TokenBucket {
  private tokens: number;
  private last: number;

  constructor(
    readonly rate: number,
    readonly burst: number,
    private readonly now: Clock = systemClock,
  ) {
    this.tokens = burst;
    this.last = now();
  }

  private refill(): void {
    const t = this.now();
    this.tokens = Math.min(this.burst, this.tokens + ((t - this.last) / 1000) * this.rate);
    this.last = t;
  }

  /** How many units of `unit` bytes can be taken right now. */
  affordable(unit: number): number {
    this.refill();
    return Math.max(0, Math.floor(this.tokens / Math.min(unit, this.burst)));
  }

  /** Takes n bytes' worth if available and returns 0; otherwise takes nothing and returns the ms to wait. */
  take(n: number): number {
    this.refill();
    if (this.tokens >= Math.min(n, this.burst)) {
      this.tokens -= n;
      return 0;
    }
    return Math.ceil(((Math.min(n, this.burst) - this.tokens) / this.rate) * 1000);
  }
}
