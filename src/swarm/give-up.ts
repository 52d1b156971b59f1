/**
 * The give-up rule: when a download stops trying. A get run by a script or an orchestrator
 * must end with an exit code rather than wait forever on a swarm that cannot help it; but
 * peers restart, and a seed may come back. So it stops at once when no peer is connected
 * and no known address may still lead to one, and otherwise only after nothing has moved
 * (no request open, no chunk being verified or written, no peer announcing a chunk) for
 * `retryForMs` (--retry-for).
 */

/** What the node sees at one moment. */
export interface Outlook {
  /** Peers connected now. */
  peers: number;
  /** Some known address may still lead to a peer: being dialled, to dial, or to redial after a back-off. */
  dialable: boolean;
  /** Requests are open, chunks are being verified or written, or peers announced chunks since the last look. */
  moving: boolean;
}

export class GiveUpRule {
  /** When nothing started moving, or null while something moves. */
  private stuckSince: number | null = null;

  constructor(private readonly retryForMs: number) {}

  /** Should the download stop now? `now` in milliseconds from one monotonic clock. */
  check(outlook: Outlook, now: number): boolean {
    if (outlook.peers === 0 && !outlook.dialable) return true;
    if (outlook.moving) {
      this.stuckSince = null;
      return false;
    }
    this.stuckSince ??= now;
    return now - this.stuckSince > this.retryForMs;
  }
}
