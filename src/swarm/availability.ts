/**
 * How many connected peers have each chunk, and the chunks open to pick (missing here and
 * asked of nobody) kept in order of that count, rarest first. The order is what makes a
 * pick cheap: rarest first looks at the rarest chunks and stops, instead of scoring every
 * missing chunk (a 1 GiB package in 64 KiB chunks has 16,384 of them, and picks happen on
 * every freed slot); and a chunk leaves the order while it is requested, so a pick does not
 * walk past the thousands already asked for.
 *
 * Within a run the order is random, and stays so: every chunk that joins a run takes a random
 * place in it (an inside-out shuffle). So the first open chunks are the rarest, ties broken at
 * random, and nodes that start together pick different chunks and soon have some to trade.
 *
 * The open chunks sit in one array sorted by count, in runs ("buckets") of equal count;
 * `bucketStart[k]` is where the run of count k begins. A count moves by one at a time, so a
 * chunk changes bucket by swapping with the first or last member of its run and moving the
 * boundary: O(1) per HAVE. libtorrent's piece picker keeps its pieces the same way.
 */
export class Availability {
  private readonly counts: Uint16Array;
  /** The open chunks, rarest first; the first `open` entries are in use. */
  private readonly order: Uint32Array;
  /** Where each open chunk sits in `order`. */
  private readonly position: Uint32Array;
  /** bucketStart[k]: the first index in `order` whose count is k or more (for k up to `top`). */
  private bucketStart = new Uint32Array(8);
  /** The highest count with a boundary kept. */
  private top = 0;
  private open = 0;

  constructor(
    readonly chunkCount: number,
    isOpen: (chunk: number) => boolean,
    /** In [0, 1): places in a run. Injected so tests and the simulator are repeatable. */
    private readonly random: () => number,
  ) {
    this.counts = new Uint16Array(chunkCount);
    this.order = new Uint32Array(chunkCount);
    this.position = new Uint32Array(chunkCount);
    // Every count starts at 0: one bucket, shuffled.
    for (let c = 0; c < chunkCount; c++) {
      if (!isOpen(c)) continue;
      this.position[c] = this.open;
      this.order[this.open++] = c;
      this.swap(this.open - 1, this.randomIn(0, this.open - 1));
    }
  }

  of(chunk: number): number {
    return this.counts[chunk]!;
  }

  /** The open chunks, rarest first, ties in random order. A view: valid until the next change. */
  rarestFirst(): Uint32Array {
    return this.order.subarray(0, this.open);
  }

  get openCount(): number {
    return this.open;
  }

  /** One more peer has the chunk. */
  increment(chunk: number): void {
    const count = this.counts[chunk]!;
    this.counts[chunk] = count + 1;
    if (!this.isOpen(chunk)) return;
    this.grow(count + 1);
    // Becomes the first of the next bucket up: swapped with the last of its own.
    const last = this.startOf(count + 1) - 1;
    this.swap(this.position[chunk]!, last);
    this.bucketStart[count + 1] = last;
    this.swap(last, this.randomIn(last, this.startOf(count + 2) - 1));
  }

  /** One peer fewer has the chunk. */
  decrement(chunk: number): void {
    const count = this.counts[chunk]!;
    this.counts[chunk] = count - 1;
    if (!this.isOpen(chunk)) return;
    // Becomes the last of the bucket below: swapped with the first of its own.
    const first = this.bucketStart[count]!;
    this.swap(this.position[chunk]!, first);
    this.bucketStart[count] = first + 1;
    this.swap(first, this.randomIn(this.bucketStart[count - 1]!, first));
  }

  /** The chunk is no longer open (ours, landing or requested): out of the order; its count is still kept. */
  remove(chunk: number): void {
    if (!this.isOpen(chunk)) return;
    // Walk it up bucket by bucket to the very end, then shorten the array.
    for (let k = this.counts[chunk]! + 1; k <= this.top; k++) {
      const last = this.startOf(k) - 1;
      this.swap(this.position[chunk]!, last);
      this.bucketStart[k] = last;
    }
    this.swap(this.position[chunk]!, this.open - 1);
    // Every boundary above its old bucket moved down one on the way: none points past the end.
    this.open--;
  }

  /** The chunk is open again (a request was dropped, a copy failed): back into its bucket. */
  add(chunk: number): void {
    if (this.isOpen(chunk)) return;
    const count = this.counts[chunk]!;
    this.grow(count);
    // In at the end, the last bucket's; then down bucket by bucket, each time swapped with
    // the first of the bucket it leaves, which moves that boundary up one.
    this.position[chunk] = this.open;
    this.order[this.open++] = chunk;
    for (let k = this.top; k > count; k--) {
      const first = this.bucketStart[k]!;
      this.swap(this.position[chunk]!, first);
      this.bucketStart[k] = first + 1;
    }
    const at = this.position[chunk]!;
    this.swap(at, this.randomIn(this.bucketStart[count]!, at));
  }

  /** Is the chunk open to pick (missing here, asked of nobody)? */
  isOpen(chunk: number): boolean {
    const at = this.position[chunk]!;
    return at < this.open && this.order[at] === chunk;
  }

  /** Where bucket k begins; past the highest boundary, every bucket is empty at the end. */
  private startOf(k: number): number {
    return k <= this.top ? this.bucketStart[k]! : this.open;
  }

  /** Keeps boundaries up to count k: new buckets start empty at the end of the array. */
  private grow(k: number): void {
    if (k <= this.top) return;
    if (k >= this.bucketStart.length) {
      const wider = new Uint32Array(Math.max(2 * this.bucketStart.length, k + 1));
      wider.set(this.bucketStart);
      this.bucketStart = wider;
    }
    for (let j = this.top + 1; j <= k; j++) this.bucketStart[j] = this.open;
    this.top = k;
  }

  /** A random index from `from` to `to`, both included. */
  private randomIn(from: number, to: number): number {
    return from + Math.floor(this.random() * (to - from + 1));
  }

  private swap(i: number, j: number): void {
    if (i === j) return;
    const a = this.order[i]!;
    const b = this.order[j]!;
    this.order[i] = b;
    this.order[j] = a;
    this.position[b] = i;
    this.position[a] = j;
  }
}
