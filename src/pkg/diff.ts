import { LIMITS } from "../config.ts";
import { DIGEST_LENGTH } from "../hash/index.ts";
import { ChunkLayout } from "./layout.ts";
import type { Entry, Package } from "./model.ts";

/** What changes from one version of a package to the next, and what a node holding the old one must still fetch. */
export interface PackageDiff {
  /** Paths as the new version records them (the old one's for `removed`); entries are matched by their path below the package name, so a renamed package still compares file by file. */
  added: string[];
  removed: string[];
  /** In both, but with other bytes, size, mode, kind or link target. */
  changed: string[];
  chunkCount: number;
  /** Chunks of the new version that `get --reuse` finds in the old one (same path and offset, or a file of the same size). */
  sharedChunks: number;
  sharedBytes: number;
  /** What must cross the network: the new version's bytes minus those shared. */
  bytesToFetch: number;
  /** The chunk sizes differ, so no chunk can be shared (a reuse then finds nothing either). */
  chunkSizeDiffers: boolean;
}

/** An entry's path below the package's name ("" for a one-file package's file): what two versions' entries are matched by. */
const pathInPackage = (entry: Entry): string => entry.path.split("/").slice(1).join("/");

/** Every entry but a directory package's root, by its path in the package. */
function entriesByPath(pkg: Package): Map<string, { e: Entry; i: number }> {
  const first = pkg.entries[0]!.kind === "directory" ? 1 : 0;
  return new Map(pkg.entries.slice(first).map((e, k) => [pathInPackage(e), { e, i: k + first }]));
}

/**
 * Compares two packages by path, then counts the new version's chunks that a node holding
 * the old one already has, by the rules `get --reuse` follows (storage/reuse.ts): the file
 * at the same path, at the same offset; else one of the first LIMITS.reuseSameSizeFiles
 * files of the same size.
 */
export function diffPackages(before: Package, after: Package): PackageDiff {
  const old = entriesByPath(before);
  const now = entriesByPath(after);
  const oldLayout = new ChunkLayout(before.entries, before.chunkSize);
  const newLayout = new ChunkLayout(after.entries, after.chunkSize);
  const oldRuns = new Map(oldLayout.files.map((f) => [f.entryIndex, f]));
  const newRuns = new Map(newLayout.files.map((f) => [f.entryIndex, f]));
  const hashAt = (pkg: Package, chunk: number) => pkg.chunkHashes.subarray(chunk * DIGEST_LENGTH, (chunk + 1) * DIGEST_LENGTH);
  const sameHash = (a: Uint8Array, b: Uint8Array) => Buffer.compare(a, b) === 0;
  const chunksOf = (pkg: Package, runs: typeof oldRuns, index: number) => {
    const run = runs.get(index);
    return run ? Array.from({ length: run.chunkCount }, (_, k) => hashAt(pkg, run.firstChunk + k)) : [];
  };

  const added = [...now.keys()].filter((p) => !old.has(p)).map((p) => now.get(p)!.e.path);
  const removed = [...old.keys()].filter((p) => !now.has(p)).map((p) => old.get(p)!.e.path);
  const changed = [...now.keys()].filter((p) => {
    const was = old.get(p);
    if (!was) return false;
    const { e } = now.get(p)!;
    if (e.kind !== was.e.kind || e.size !== was.e.size || e.mode !== was.e.mode || e.target !== was.e.target) return true;
    if (before.chunkSize !== after.chunkSize) return e.kind === "file" && e.size > 0;
    const a = chunksOf(before, oldRuns, was.i);
    const b = chunksOf(after, newRuns, now.get(p)!.i);
    return a.some((h, k) => !sameHash(h, b[k]!));
  }).map((p) => now.get(p)!.e.path);

  const chunkSizeDiffers = before.chunkSize !== after.chunkSize;
  const oldBySize = new Map<number, number[]>();
  for (const { e, i } of old.values()) if (e.kind === "file" && e.size > 0) oldBySize.getOrInsert(e.size, []).push(i);
  let sharedChunks = 0;
  let sharedBytes = 0;
  if (!chunkSizeDiffers) {
    for (const [path, { e, i }] of now) {
      if (e.kind !== "file") continue;
      const run = newRuns.get(i);
      if (!run) continue;
      const samePath = old.get(path);
      const sameSize = (oldBySize.get(e.size) ?? []).filter((o) => o !== samePath?.i).slice(0, LIMITS.reuseSameSizeFiles);
      const candidates = [...(samePath?.e.kind === "file" ? [samePath.i] : []), ...sameSize].map((o) => chunksOf(before, oldRuns, o));
      for (let k = 0; k < run.chunkCount; k++) {
        const want = hashAt(after, run.firstChunk + k);
        if (!candidates.some((hashes) => hashes[k] !== undefined && sameHash(hashes[k]!, want))) continue;
        sharedChunks++;
        sharedBytes += newLayout.locate(run.firstChunk + k).length;
      }
    }
  }
  return { added, removed, changed, chunkCount: newLayout.chunkCount, sharedChunks, sharedBytes, bytesToFetch: after.totalSize - sharedBytes, chunkSizeDiffers };
}
