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

  /** A buffer of exactly `length` bytes (length <= chunkSize); its contents are stale. */
  acquire(length: number): Uint8Array {
    return (this.free.pop() ?? new Uint8Array(this.chunkSize)).subarray(0, length);
  }

  /** Takes a buffer back once nothing (hashing, writing) uses it any more. */
  release(buffer: Uint8Array): void {
    if (this.free.length < this.keep) this.free.push(new Uint8Array(buffer.buffer, 0, this.chunkSize));
  }
}
