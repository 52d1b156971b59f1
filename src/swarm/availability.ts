/**
 * How many connected peers have each chunk, and the chunks still missing here kept in
 * order of that count, rarest first. The order is what makes a pick cheap: rarest first
 * looks at the rarest chunks and stops, instead of scoring every missing chunk (a 1 GiB
 * package in 64 KiB chunks has 16,384 of them, and picks happen on every freed slot).
 *
 * The missing chunks sit in one array sorted by count, in runs ("buckets") of equal count;
 * `bucketStart[k]` is where the run of count k begins. A count moves by one at a time, so a
 * chunk changes bucket by swapping with the first or last member of its run and moving the
 * boundary: O(1) per HAVE. libtorrent's piece picker keeps its pieces the same way.
 */
export class Availability {
  private readonly counts: Uint16Array;
  /** The missing chunks, rarest first; the first `missing` entries are in use. */
  private readonly order: Uint32Array;
  /** Where each missing chunk sits in `order`. */
  private readonly position: Uint32Array;
  /** bucketStart[k]: the first index in `order` whose count is k or more (for k up to `top`). */
  private bucketStart = new Uint32Array(8);
  /** The highest count with a boundary kept. */
  private top = 0;
  private missing = 0;

  constructor(
    readonly chunkCount: number,
    isMissing: (chunk: number) => boolean,
  ) {
    this.counts = new Uint16Array(chunkCount);
    this.order = new Uint32Array(chunkCount);
    this.position = new Uint32Array(chunkCount);
    // Every count starts at 0: one bucket, in index order.
    for (let c = 0; c < chunkCount; c++) {
      if (!isMissing(c)) continue;
      this.position[c] = this.missing;
      this.order[this.missing++] = c;
    }
  }

  of(chunk: number): number {
    return this.counts[chunk]!;
  }

  /** The counts of all chunks, missing or not, indexed by chunk. */
  get all(): ArrayLike<number> {
    return this.counts;
  }

  /** The missing chunks, rarest first (ties in no particular order). A view: valid until the next change. */
  rarestFirst(): Uint32Array {
    return this.order.subarray(0, this.missing);
  }

  get missingCount(): number {
    return this.missing;
  }

  /** One more peer has the chunk. */
  increment(chunk: number): void {
    const count = this.counts[chunk]!;
    this.counts[chunk] = count + 1;
    if (!this.isMissing(chunk)) return;
    this.grow(count + 1);
    // Becomes the first of the next bucket up: swapped with the last of its own.
    const last = this.startOf(count + 1) - 1;
    this.swap(this.position[chunk]!, last);
    this.bucketStart[count + 1] = last;
  }

  /** One peer fewer has the chunk. */
  decrement(chunk: number): void {
    const count = this.counts[chunk]!;
    this.counts[chunk] = count - 1;
    if (!this.isMissing(chunk)) return;
    // Becomes the last of the bucket below: swapped with the first of its own.
    const first = this.bucketStart[count]!;
    this.swap(this.position[chunk]!, first);
    this.bucketStart[count] = first + 1;
  }

  /** The chunk is ours now: out of the order (its count is still kept). */
  remove(chunk: number): void {
    if (!this.isMissing(chunk)) return;
    // Walk it up bucket by bucket to the very end, then shorten the array.
    for (let k = this.counts[chunk]! + 1; k <= this.top; k++) {
      const last = this.startOf(k) - 1;
      this.swap(this.position[chunk]!, last);
      this.bucketStart[k] = last;
    }
    this.swap(this.position[chunk]!, this.missing - 1);
    // Every boundary above its old bucket moved down one on the way: none points past the end.
    this.missing--;
  }

  private isMissing(chunk: number): boolean {
    const at = this.position[chunk]!;
    return at < this.missing && this.order[at] === chunk;
  }

  /** Where bucket k begins; past the highest boundary, every bucket is empty at the end. */
  private startOf(k: number): number {
    return k <= this.top ? this.bucketStart[k]! : this.missing;
  }

  /** Keeps boundaries up to count k: new buckets start empty at the end of the array. */
  private grow(k: number): void {
    if (k <= this.top) return;
    if (k >= this.bucketStart.length) {
      const wider = new Uint32Array(Math.max(2 * this.bucketStart.length, k + 1));
      wider.set(this.bucketStart);
      this.bucketStart = wider;
    }
    for (let j = this.top + 1; j <= k; j++) this.bucketStart[j] = this.missing;
    this.top = k;
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
