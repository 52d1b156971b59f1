import { LIMITS } from "../config.ts";
import { BtError } from "../errors.ts";
import { DIGEST_LENGTH, hasher } from "../hash/index.ts";
import { equalBytes } from "../pkg/format.ts";
import type { ChunkLocation } from "../pkg/layout.ts";
import type { ChunkSource } from "../peer/uploader.ts";
import { Bitset } from "../util/bitset.ts";
import { Limiter } from "../util/bounded.ts";
import type { FileStamp, PackageFiles } from "./files.ts";
import type { Output } from "./output.ts";
import { systemClock } from "../util/clock.ts";

/** Where a node's chunks live: the verified set, reads for serving, writes for downloading. */
export interface ChunkStore extends ChunkSource {
  readonly have: Bitset;
  /** Whether the chunk can be served: held, and not known to be damaged. */
  has(chunk: number): boolean;
  /** Writes and records a verified chunk. Only called while the node is downloading. */
  commit(chunk: number, data: Uint8Array, digest: Uint8Array): Promise<void>;
  /**
   * Hashes a received chunk and writes it at its place when its digest is `expected`, in
   * one trip off the JS thread; resolves the digest. A placed chunk is then `record`ed.
   */
  place(chunk: number, data: Uint8Array, expected: Uint8Array): Promise<Uint8Array>;
  /** Records a chunk that `place` wrote. */
  record(chunk: number, digest: Uint8Array): void;
  /**
   * Forgets every verdict on chunks found damaged, so the next request proves them again
   * (serve's SIGHUP, after an operator restored a file); returns those chunks.
   */
  recheck?(): number[];
}

const UNKNOWN = 0;
const GOOD = 1;
const BAD = 2;

/** How long a file's size, mtime and inode are taken as still true before they are looked at again. */
const STAMP_TTL_MS = 1_000;

/**
 * Complete data on disk: a seed's payload, or a finished download. A seed's data is
 * proved chunk by chunk the first time each is asked for (as libtorrent's seed mode does),
 * so a wrong --data or a file replaced before the start is found before a bad byte is
 * sent; a finished download was proved as it arrived (`trusted`). A file whose size,
 * mtime or inode changes later has its chunks proved again. A chunk that does not match
 * is refused (prepare answers false) until its file changes or recheck() is called, and
 * onBadChunk names it and its file. Files are looked at again
 * at most once a second each, not per request. While the disk is warm, a chunk of at most
 * LIMITS.inlineIoBytes is read and proved on the JS thread, as a download hashes one; the
 * rest, and everything while the disk is cold, go to the thread pool.
 */
export function completeStore(
  files: PackageFiles,
  options: {
    trusted: boolean;
    onBadChunk: (chunk: number, path: string) => void;
    /** The chunks whose files are there (get --only); default all. */
    holds?: Bitset;
  },
): ChunkStore {
  const { layout, pkg } = files;
  const chunkCount = layout.chunkCount;
  const state = new Uint8Array(chunkCount).fill(options.trusted ? GOOD : UNKNOWN);
  const stamps = new Map<number, { stamp: FileStamp | Promise<FileStamp>; checkedAt: number }>();
  const checks = new Map<number, Promise<boolean>>();
  // Uploaders start checks ahead of need: the pool has a thread per core and serves fs.promises too.
  const proofs = new Limiter(LIMITS.hashJobsInFlight);
  const runOf = (entryIndex: number) => layout.files.find((f) => f.entryIndex === entryIndex)!;
  let inlineProofBuffer: Uint8Array | null = null;

  const holds = options.holds ?? Bitset.full(chunkCount);
  for (const f of layout.files) if (holds.has(f.firstChunk)) stamps.set(f.entryIndex, { stamp: files.stamp(f.entryIndex), checkedAt: systemClock() });

  /** Takes the file's stamp again; a changed file's chunks must be proved again. Synchronous while the disk is warm. */
  const refreshStamp = (entryIndex: number): void | Promise<void> => {
    const before = stamps.get(entryIndex)!.stamp;
    const now = files.stamp(entryIndex);
    stamps.set(entryIndex, { stamp: now, checkedAt: systemClock() });
    const compare = (a: FileStamp, b: FileStamp): void => {
      if (a === b) return;
      const run = runOf(entryIndex);
      state.fill(UNKNOWN, run.firstChunk, run.firstChunk + run.chunkCount);
    };
    if (typeof before === "string" && typeof now === "string") return compare(before, now);
    return Promise.all([before, now]).then(([a, b]) => compare(a, b));
  };

  const judge = (chunk: number, path: string, digest: Uint8Array | null): boolean => {
    const good = digest !== null && equalBytes(digest, pkg.chunkHashes.subarray(chunk * DIGEST_LENGTH, (chunk + 1) * DIGEST_LENGTH));
    state[chunk] = good ? GOOD : BAD;
    if (!good) options.onBadChunk(chunk, path);
    return good;
  };

  /** Proves a short chunk on the JS thread; null while the disk is cold. */
  const proveNow = (chunk: number, path: string, length: number): boolean | null => {
    inlineProofBuffer ??= new Uint8Array(Math.min(pkg.chunkSize, LIMITS.inlineIoBytes));
    const bytes = inlineProofBuffer.subarray(0, length);
    const got = files.readNow(chunk, 0, [bytes]);
    if (got === null) return null;
    return judge(chunk, path, got === length ? hasher().hashChunks(bytes, length) : null);
  };

  const prove = (chunk: number, at: ChunkLocation): boolean | Promise<boolean> => {
    const path = files.pathOf(at.entryIndex);
    const now = at.length <= LIMITS.inlineIoBytes ? proveNow(chunk, path, at.length) : null;
    if (now !== null) return now;
    const pending = proofs
      .run(() => hasher().hashFileRange(path, at.offset, at.length, pkg.chunkSize))
      .then((digest) => judge(chunk, path, digest), () => judge(chunk, path, null))
      .finally(() => checks.delete(chunk));
    checks.set(chunk, pending);
    return pending;
  };

  const settle = (chunk: number, at: ChunkLocation): boolean | Promise<boolean> => {
    if (state[chunk] === GOOD) return true;
    if (state[chunk] === BAD) return false;
    return checks.get(chunk) ?? prove(chunk, at);
  };

  return {
    have: holds,
    // A damaged chunk is still "had": asking for it reaches prepare, which looks at its
    // file again (a restored file is proved anew) or refuses it as damaged.
    has: (c) => c < chunkCount && holds.has(c),
    chunkLength: (c) => files.chunkLength(c),
    read: (c, offset, into) => files.read(c, offset, into),
    prepare(c) {
      const at = layout.locate(c);
      const stale = systemClock() - stamps.get(at.entryIndex)!.checkedAt > STAMP_TTL_MS;
      const refreshed = stale ? refreshStamp(at.entryIndex) : undefined;
      const settled = refreshed ? refreshed.then(() => settle(c, at)) : settle(c, at);
      return settled === true ? true : Promise.resolve(settled);
    },
    commit: () => Promise.reject(notDownloading()),
    place: () => Promise.reject(notDownloading()),
    record() {
      throw notDownloading();
    },
    recheck() {
      const damaged: number[] = [];
      for (let c = 0; c < chunkCount; c++) {
        if (state[c] !== BAD) continue;
        state[c] = UNKNOWN;
        damaged.push(c);
      }
      return damaged;
    },
  };
}

const notDownloading = () => new BtError("BT_E_INTERNAL", "a write to a complete store");

/** A download in progress: serves what it has verified, stores what arrives. */
export function downloadStore(output: Output): ChunkStore {
  const { files, verified } = output;
  return {
    have: verified,
    has: (c) => verified.has(c),
    chunkLength: (c) => files.chunkLength(c),
    read: (c, offset, into) => files.read(c, offset, into),
    commit: (c, data, digest) => output.commit(c, data, digest),
    place: (c, data, expected) => output.place(c, data, expected),
    record: (c, digest) => output.record(c, digest),
  };
}
