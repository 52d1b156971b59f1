/** Something that happens at a moment of simulated time. */
interface Scheduled {
  at: number;
  /** Order of scheduling: events due at the same moment run first come, first served. */
  seq: number;
  run: () => void;
}

/**
 * The simulator's clock: a binary heap of events by time. Time is milliseconds and only
 * moves forward, jumping from one event to the next; nothing waits in real time.
 */
export class EventQueue {
  now = 0;
  /** Events run so far. */
  processed = 0;
  private readonly heap: Scheduled[] = [];
  private seq = 0;

  get size(): number {
    return this.heap.length;
  }

  /** Runs `run` `delayMs` from now. */
  after(delayMs: number, run: () => void): void {
    this.at(this.now + delayMs, run);
  }

  at(at: number, run: () => void): void {
    const heap = this.heap;
    const item = { at: Math.max(at, this.now), seq: this.seq++, run };
    let i = heap.length;
    heap.push(item);
    while (i > 0) {
      const parent = (i - 1) >> 1;
      if (!before(item, heap[parent]!)) break;
      heap[i] = heap[parent]!;
      i = parent;
    }
    heap[i] = item;
  }

  /** Runs events in time order until none is left, `until` returns true, or the clock passes `endAt`. */
  run(endAt: number, until: () => boolean): void {
    while (this.heap.length > 0 && !until()) {
      const next = this.pop();
      if (next.at > endAt) {
        this.now = endAt;
        return;
      }
      this.now = next.at;
      this.processed++;
      next.run();
    }
  }

  private pop(): Scheduled {
    const heap = this.heap;
    const top = heap[0]!;
    const last = heap.pop()!;
    if (heap.length > 0) {
      let i = 0;
      for (;;) {
        const left = 2 * i + 1;
        if (left >= heap.length) break;
        const right = left + 1;
        const child = right < heap.length && before(heap[right]!, heap[left]!) ? right : left;
        if (!before(heap[child]!, last)) break;
        heap[i] = heap[child]!;
        i = child;
      }
      heap[i] = last;
    }
    return top;
  }
}

const before = (a: Scheduled, b: Scheduled): boolean => a.at < b.at || (a.at === b.at && a.seq < b.seq);
