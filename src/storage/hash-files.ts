import { LIMITS } from "../config.ts";
import { DIGEST_LENGTH, hasher } from "../hash/index.ts";
import type { ChunkLayout } from "../pkg/layout.ts";
import { forEachBounded } from "../util/bounded.ts";

/** A run of whole chunks of one file, hashed by one native job. */
export interface HashJob {
  entryIndex: number;
  path: string;
  firstChunk: number;
  chunkCount: number;
  offset: number;
  length: number;
}

export interface PlanOptions {
  /** How much of a file can be hashed (verify passes the size found on disk); chunks past it get no job. */
  readableBytes?: (entryIndex: number) => number;
  /** Only these chunks (resume re-verifies just the ones it claims). */
  include?: (chunk: number) => boolean;
}

/**
 * Splits the files of the layout into jobs of at most LIMITS.hashJobBytes of consecutive
 * wanted chunks. Lazy, so planning holds no more than one job at a time.
 */
export function* planHashJobs(layout: ChunkLayout, pathOf: (entryIndex: number) => string, options: PlanOptions = {}): Generator<HashJob> {
  const chunkSize = layout.chunkSize;
  const chunksPerJob = Math.max(1, Math.floor(LIMITS.hashJobBytes / chunkSize));
  const include = options.include ?? (() => true);
  for (const f of layout.files) {
    const size = layout.entries[f.entryIndex]!.size;
    const readable = Math.min(size, options.readableBytes?.(f.entryIndex) ?? size);
    // A chunk is hashable only when all of its recorded bytes are there.
    const hashable = readable === size ? f.chunkCount : Math.floor(readable / chunkSize);
    let c = 0;
    while (c < hashable) {
      if (!include(f.firstChunk + c)) {
        c++;
        continue;
      }
      let run = 1;
      while (run < chunksPerJob && c + run < hashable && include(f.firstChunk + c + run)) run++;
      const offset = c * chunkSize;
      yield { entryIndex: f.entryIndex, path: pathOf(f.entryIndex), firstChunk: f.firstChunk + c, chunkCount: run, offset, length: Math.min(run * chunkSize, size - offset) };
      c += run;
    }
  }
}

/**
 * Hashes the jobs on the native pool, at most LIMITS.hashJobsInFlight at once, writing each
 * chunk digest into `digests` at its chunk index. A failing job goes to onError, which
 * may rethrow to stop everything.
 */
export async function hashJobs(
  jobs: Iterable<HashJob>,
  chunkSize: number,
  digests: Uint8Array,
  events: { onJobDone?: (job: HashJob) => void; onError: (job: HashJob, error: unknown) => void },
): Promise<void> {
  await forEachBounded(jobs, LIMITS.hashJobsInFlight, async (job) => {
    let result: Uint8Array;
    try {
      result = await hasher().hashFileRange(job.path, job.offset, job.length, chunkSize);
    } catch (error) {
      events.onError(job, error);
      return;
    }
    digests.set(result, job.firstChunk * DIGEST_LENGTH);
    events.onJobDone?.(job);
  });
}
