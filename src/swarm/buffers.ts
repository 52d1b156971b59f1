/**
 * Reusable chunk-sized buffers. The scheduler already bounds how many chunks are in memory
 * at once; reusing their buffers keeps the garbage collector out of the hot path and RSS flat.
 */
export class ChunkBuffers {
  private readonly free: Uint8Array[] = [];

  constructor(
    private readonly chunkSize: number,
    private readonly keep: number,
  ) {}

  /**
   * A buffer of exactly `length` bytes (length <= chunkSize); its contents are stale. A short
   * chunk (a small file) gets one of its own size: the budget counts its bytes, and thousands
   * of them may be in memory at once.
   */
  acquire(length: number): Uint8Array {
    if (length < this.chunkSize) return new Uint8Array(length);
    return this.free.pop() ?? new Uint8Array(this.chunkSize);
  }

  /** Takes a buffer back once nothing (hashing, writing) uses it any more. */
  release(buffer: Uint8Array): void {
    if (buffer.length === this.chunkSize && this.free.length < this.keep) this.free.push(buffer);
  }
}
