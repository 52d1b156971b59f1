import type { Entry } from "./model.ts";

/** Where a chunk's bytes live: a byte range of one file (chunks never span files). */
export interface ChunkLocation {
  entryIndex: number;
  offset: number;
  length: number;
}

/** The run of chunks holding one file's data. */
export interface FileChunks {
  entryIndex: number;
  firstChunk: number;
  chunkCount: number;
}

export const chunksForSize = (size: number, chunkSize: number): number => Math.ceil(size / chunkSize);

/**
 * Chunks are aligned per file, in entry order: file k's data begins a new chunk, so
 * every chunk is one contiguous range of one file (docs/format.md, "Chunk layout").
 */
export class ChunkLayout {
  readonly files: FileChunks[] = [];
  readonly chunkCount: number;

  constructor(
    readonly entries: readonly Entry[],
    readonly chunkSize: number,
  ) {
    let next = 0;
    entries.forEach((e, entryIndex) => {
      if (e.kind !== "file" || e.size === 0) return;
      const chunkCount = chunksForSize(e.size, chunkSize);
      this.files.push({ entryIndex, firstChunk: next, chunkCount });
      next += chunkCount;
    });
    this.chunkCount = next;
  }

  locate(chunk: number): ChunkLocation {
    if (!Number.isInteger(chunk) || chunk < 0 || chunk >= this.chunkCount) {
      throw new RangeError(`chunk ${chunk} out of range 0..${this.chunkCount - 1}`);
    }
    let lo = 0;
    let hi = this.files.length - 1;
    while (lo < hi) {
      const mid = (lo + hi + 1) >> 1;
      if (this.files[mid]!.firstChunk <= chunk) lo = mid;
      else hi = mid - 1;
    }
    const f = this.files[lo]!;
    const offset = (chunk - f.firstChunk) * this.chunkSize;
    const size = this.entries[f.entryIndex]!.size;
    return { entryIndex: f.entryIndex, offset, length: Math.min(this.chunkSize, size - offset) };
  }
}
