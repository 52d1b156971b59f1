import { statSync } from "node:fs";
import { BtError } from "../errors.ts";
import { DIGEST_LENGTH, hasher } from "../hash/index.ts";
import { equalBytes } from "../pkg/format.ts";
import type { ChunkSource } from "../peer/uploader.ts";
import { Bitset } from "../util/bitset.ts";
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

const stampOf = (path: string): string => {
  try {
    const s = statSync(path);
    return `${s.size}:${s.mtimeMs}:${s.ino}`;
  } catch {
    return "gone";
  }
};

/**
 * Complete data on disk (a seed's payload, or a finished download). It is trusted as it
 * was when the store opened; a file whose size, mtime or inode changes since has its chunks
 * re-hashed before they are sent again, and a chunk that no longer matches the package is
 * no longer offered (onBadChunk hears of it). Getters verify everything regardless.
 */
export function completeStore(files: PackageFiles, onBadChunk: (chunk: number, path: string) => void = () => {}): ChunkStore {
  const { layout, pkg } = files;
  const chunkCount = layout.chunkCount;
  const state = new Uint8Array(chunkCount).fill(GOOD);
  const stamps = new Map(layout.files.map((f) => [f.entryIndex, stampOf(files.pathOf(f.entryIndex))]));
  const checks = new Map<number, Promise<boolean>>();

  const recheckIfChanged = (entryIndex: number) => {
    const stamp = stampOf(files.pathOf(entryIndex));
    if (stamp === stamps.get(entryIndex)) return;
    stamps.set(entryIndex, stamp);
    const run = layout.files.find((f) => f.entryIndex === entryIndex)!;
    state.fill(UNKNOWN, run.firstChunk, run.firstChunk + run.chunkCount);
  };

  const check = (chunk: number, path: string, offset: number, length: number): Promise<boolean> => {
    const expected = pkg.chunkHashes.subarray(chunk * DIGEST_LENGTH, (chunk + 1) * DIGEST_LENGTH);
    const pending = hasher()
      .hashFileRange(path, offset, length, pkg.chunkSize)
      .then((digest) => equalBytes(digest, expected), () => false)
      .then((good) => {
        state[chunk] = good ? GOOD : BAD;
        if (!good) onBadChunk(chunk, path);
        return good;
      })
      .finally(() => checks.delete(chunk));
    checks.set(chunk, pending);
    return pending;
  };

  return {
    chunkCount,
    have: Bitset.full(chunkCount),
    has: (c) => c < chunkCount && state[c] !== BAD,
    chunkLength: (c) => files.chunkLength(c),
    read: (c, offset, into) => files.read(c, offset, into),
    prepare(c) {
      const at = layout.locate(c);
      recheckIfChanged(at.entryIndex);
      if (state[c] === GOOD) return true;
      if (state[c] === BAD) return Promise.resolve(false);
      return checks.get(c) ?? check(c, files.pathOf(at.entryIndex), at.offset, at.length);
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
