/** The smallest buffer kept for reuse: below it, a fresh one costs less than the bookkeeping. */
const SMALLEST_CLASS = 4096;

/**
 * Reusable chunk buffers, in power-of-two size classes up to the chunk size: a package of
 * small files has thousands of short chunks, and allocating each afresh (zeroed pages,
 * then a collection) cost a tenth of a get's CPU. The scheduler bounds the bytes in memory
 * at once; the pool keeps at most that many bytes of free buffers, so RSS stays flat.
 */
export class ChunkBuffers {
  private readonly free = new Map<number, Uint8Array[]>();
  private freeBytes = 0;

  constructor(
    private readonly chunkSize: number,
    private readonly maxFreeBytes: number,
  ) {}

  /** A buffer of exactly `length` bytes (length <= chunkSize); its contents are stale. */
  acquire(length: number): Uint8Array {
    const size = classOf(length, this.chunkSize);
    const reused = this.free.get(size)?.pop();
    if (reused) this.freeBytes -= size;
    return (reused ?? new Uint8Array(size)).subarray(0, length);
  }

  /** Takes a buffer back once nothing (hashing, writing) uses it any more. */
  release(buffer: Uint8Array): void {
    const size = buffer.buffer.byteLength;
    if (size < SMALLEST_CLASS || this.freeBytes + size > this.maxFreeBytes) return;
    let list = this.free.get(size);
    if (!list) this.free.set(size, (list = []));
    list.push(new Uint8Array(buffer.buffer, 0, size));
    this.freeBytes += size;
  }
}

/** The size class that holds `length` bytes: the next power of two, within SMALLEST_CLASS..chunkSize. */
function classOf(length: number, chunkSize: number): number {
  if (length <= SMALLEST_CLASS) return Math.min(SMALLEST_CLASS, chunkSize);
  return Math.min(chunkSize, 2 ** Math.ceil(Math.log2(length)));
}
