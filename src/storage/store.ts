import { stat } from "node:fs/promises";
import { LIMITS } from "../config.ts";
import { BtError } from "../errors.ts";
import { DIGEST_LENGTH, hasher } from "../hash/index.ts";
import { equalBytes } from "../pkg/format.ts";
import type { ChunkSource } from "../peer/uploader.ts";
import { Bitset } from "../util/bitset.ts";
import { Limiter } from "../util/bounded.ts";
import type { PackageFiles } from "./files.ts";
import type { Output } from "./output.ts";

/** Where a node's chunks live: the verified set, reads for serving, writes for downloading. */
export interface ChunkStore extends ChunkSource {
  readonly have: Bitset;
  /** Writes and records a verified chunk. Only called while the node is downloading. */
  commit(chunk: number, data: Uint8Array, digest: Uint8Array): Promise<void>;
}

const UNKNOWN = 0;
const GOOD = 1;
const BAD = 2;

/** How long a file's size, mtime and inode are taken as still true before they are looked at again. */
const STAMP_TTL_MS = 1_000;

const stampOf = async (path: string): Promise<string> => {
  try {
    const s = await stat(path);
    return `${s.size}:${s.mtimeMs}:${s.ino}`;
  } catch {
    return "gone";
  }
};

/**
 * Complete data on disk: a seed's payload, or a finished download. A seed's data is
 * proved chunk by chunk the first time each is asked for (as libtorrent's seed mode does),
 * so a wrong --data or a file replaced before the start is found before a bad byte is
 * sent; a finished download was proved as it arrived (`trusted`). A file whose size,
 * mtime or inode changes later has its chunks proved again. A chunk that does not match
 * is no longer offered, and onBadChunk names it and its file. Files are looked at off the
 * JS thread, at most once a second each, not per request.
 */
export function completeStore(files: PackageFiles, options: { trusted: boolean; onBadChunk: (chunk: number, path: string) => void }): ChunkStore {
  const { layout, pkg } = files;
  const chunkCount = layout.chunkCount;
  const state = new Uint8Array(chunkCount).fill(options.trusted ? GOOD : UNKNOWN);
  const stamps = new Map<number, { stamp: Promise<string>; checkedAt: number }>();
  const checks = new Map<number, Promise<boolean>>();
  // Uploaders start checks ahead of need: the pool has a thread per core and serves fs.promises too.
  const proofs = new Limiter(LIMITS.hashJobsInFlight);
  const runOf = (entryIndex: number) => layout.files.find((f) => f.entryIndex === entryIndex)!;

  for (const f of layout.files) stamps.set(f.entryIndex, { stamp: stampOf(files.pathOf(f.entryIndex)), checkedAt: performance.now() });

  /** Resolves once the file's stamp is current; a changed file's chunks must be proved again. */
  const refreshStamp = async (entryIndex: number): Promise<void> => {
    const known = stamps.get(entryIndex)!;
    const fresh = { stamp: stampOf(files.pathOf(entryIndex)), checkedAt: performance.now() };
    stamps.set(entryIndex, fresh);
    const [before, now] = await Promise.all([known.stamp, fresh.stamp]);
    if (before === now) return;
    const run = runOf(entryIndex);
    state.fill(UNKNOWN, run.firstChunk, run.firstChunk + run.chunkCount);
  };

  const prove = (chunk: number, path: string, offset: number, length: number): Promise<boolean> => {
    const expected = pkg.chunkHashes.subarray(chunk * DIGEST_LENGTH, (chunk + 1) * DIGEST_LENGTH);
    const pending = proofs
      .run(() => hasher().hashFileRange(path, offset, length, pkg.chunkSize))
      .then((digest) => equalBytes(digest, expected), () => false)
      .then((good) => {
        state[chunk] = good ? GOOD : BAD;
        if (!good) options.onBadChunk(chunk, path);
        return good;
      })
      .finally(() => checks.delete(chunk));
    checks.set(chunk, pending);
    return pending;
  };

  const settle = (chunk: number, at: ReturnType<typeof layout.locate>): Promise<boolean> => {
    if (state[chunk] === GOOD) return Promise.resolve(true);
    if (state[chunk] === BAD) return Promise.resolve(false);
    return checks.get(chunk) ?? prove(chunk, files.pathOf(at.entryIndex), at.offset, at.length);
  };

  return {
    chunkCount,
    have: Bitset.full(chunkCount),
    has: (c) => c < chunkCount && state[c] !== BAD,
    chunkLength: (c) => files.chunkLength(c),
    read: (c, offset, into) => files.read(c, offset, into),
    prepare(c) {
      const at = layout.locate(c);
      const stale = performance.now() - stamps.get(at.entryIndex)!.checkedAt > STAMP_TTL_MS;
      if (!stale && state[c] === GOOD) return true;
      if (!stale) return settle(c, at);
      return refreshStamp(at.entryIndex).then(() => settle(c, at));
    },
    commit: () => Promise.reject(new BtError("BT_E_INTERNAL", "commit to a complete store")),
  };
}

/** A download in progress: serves what it has verified, stores what arrives. */
export function downloadStore(output: Output): ChunkStore {
  const { files, verified } = output;
  return {
    chunkCount: files.layout.chunkCount,
    have: verified,
    has: (c) => verified.has(c),
    chunkLength: (c) => files.chunkLength(c),
    read: (c, offset, into) => files.read(c, offset, into),
    commit: (c, data, digest) => output.commit(c, data, digest),
  };
}
