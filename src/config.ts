import { availableParallelism } from "node:os";

/** Named limits and defaults, in one place. Later issues add the transfer limits here. */
export const LIMITS = {
  /** Chunk sizes are powers of two in this range. */
  minChunkSize: 64 * 1024,
  maxChunkSize: 64 * 1024 * 1024,
  defaultChunkSize: 4 * 1024 * 1024,
  /** Refused on read before anything is allocated: a package past these is corrupt or hostile. */
  maxEntries: 1 << 22,
  maxChunks: 1 << 24,
  maxEntryTableBytes: 256 * 1024 * 1024,
  maxPathBytes: 4096,
  maxNameBytes: 255,
  /**
   * Hashing jobs in flight. Bun's N-API pool has one thread per core and fs.promises
   * shares it, so more jobs only queue and pin more input buffers.
   */
  hashJobsInFlight: Math.max(1, availableParallelism()),
  /** One hashing job covers at most this many bytes of one file: enough to keep a core busy, small enough for steady progress. */
  hashJobBytes: 64 * 1024 * 1024,
} as const;
