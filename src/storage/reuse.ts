import { lstatSync, readdirSync, statSync } from "node:fs";
import { open } from "node:fs/promises";
import { join } from "node:path";
import { LIMITS } from "../config.ts";
import { DIGEST_LENGTH, hasher } from "../hash/index.ts";
import { equalBytes } from "../pkg/format.ts";
import type { Package } from "../pkg/model.ts";
import { forEachBounded, Limiter } from "../util/bounded.ts";
import type { Output } from "./output.ts";

/** A file on this node that may hold some of a package file's chunks, at the same offsets. */
export interface ReuseCandidate {
  path: string;
  size: number;
}

/** Chunks this short are hashed on the JS thread: the trip to the pool would cost more. */
const SMALL_CHUNK_BYTES = 64 * 1024;

/** Entries looked at while walking a --reuse directory for files of the right sizes: the walk stays bounded however large the tree. */
const MAX_WALKED_ENTRIES = 1_000_000;

/**
 * Where each of the package's files may already lie on this node, best first, by the rules
 * that `bytetide diff` counts with (pkg/diff.ts): in each source, the file at the same path
 * below the package name (a source that is a file stands for a one-file package's file);
 * then up to LIMITS.reuseSameSizeFiles other files of the same size, in path order, from
 * every source (a file that moved). Symlinks are not followed while walking.
 */
export function reuseCandidates(pkg: Package, sources: string[]): Map<number, ReuseCandidate[]> {
  const wantedSizes = new Set(pkg.entries.filter((e) => e.kind === "file" && e.size > 0).map((e) => e.size));
  const bySize = new Map<number, ReuseCandidate[]>();
  let walked = 0;
  const walk = (path: string): void => {
    if (walked++ >= MAX_WALKED_ENTRIES) return;
    const info = lstatOrNull(path);
    if (info?.isFile() && wantedSizes.has(info.size)) bySize.getOrInsert(info.size, []).push({ path, size: info.size });
    if (!info?.isDirectory()) return;
    let names: string[];
    try {
      names = readdirSync(path).sort();
    } catch {
      return;
    }
    for (const name of names) walk(join(path, name));
  };
  for (const source of sources) walk(source);

  const candidates = new Map<number, ReuseCandidate[]>();
  pkg.entries.forEach((entry, index) => {
    if (entry.kind !== "file" || entry.size === 0) return;
    const below = entry.path.split("/").slice(1).join("/");
    const samePath = sources.flatMap((source) => {
      const info = statOrNull(below === "" ? source : join(source, below));
      return info?.isFile() ? [{ path: below === "" ? source : join(source, below), size: info.size }] : [];
    });
    const sameSize = (bySize.get(entry.size) ?? []).filter((c) => !samePath.some((s) => s.path === c.path)).slice(0, LIMITS.reuseSameSizeFiles);
    const all = [...samePath, ...sameSize];
    if (all.length > 0) candidates.set(index, all);
  });
  return candidates;
}

/**
 * Copies into the output every chunk it still lacks that a candidate holds at the same
 * offset, each read, hashed and compared with the package's hash before it is committed
 * like a downloaded one; a candidate that is shorter, unreadable or different is passed
 * over. Files are worked on a few at a time, one chunk buffer each. Calls onReused per
 * chunk taken, and stops early once `stopped` says so (a signal); resolves with the chunks
 * and bytes taken.
 */
export async function reuseChunks(
  output: Output,
  candidates: Map<number, ReuseCandidate[]>,
  events: { onReused: (bytes: number) => void; stopped: () => boolean },
): Promise<{ chunks: number; bytes: number }> {
  const { pkg, files, verified } = output;
  const runs = new Map(files.layout.files.map((f) => [f.entryIndex, f]));
  const hashing = new Limiter(LIMITS.hashJobsInFlight);
  let chunks = 0;
  let bytes = 0;
  await forEachBounded(candidates, LIMITS.hashJobsInFlight, async ([entryIndex, found]) => {
    const run = runs.get(entryIndex)!;
    const buffer = new Uint8Array(Math.min(pkg.chunkSize, pkg.entries[entryIndex]!.size));
    for (const candidate of found) {
      const missing = Array.from({ length: run.chunkCount }, (_, k) => run.firstChunk + k).filter((c) => !verified.has(c) && (output.selection?.chunks.has(c) ?? true));
      if (missing.length === 0) return;
      const handle = await open(candidate.path, "r").catch(() => null);
      if (!handle) continue;
      try {
        for (const chunk of missing) {
          if (events.stopped()) return;
          const at = files.layout.locate(chunk);
          if (at.offset + at.length > candidate.size) break;
          const data = buffer.subarray(0, at.length);
          // An unreadable candidate (EIO, shrunk or gone midway) is passed over: the swarm supplies the rest.
          const read = await handle.read(data, 0, at.length, at.offset).then((r) => r.bytesRead, () => -1);
          if (read !== at.length) break;
          // On the pool, so the files worked on at once hash on as many cores: nothing else
          // runs yet for the JS thread to keep free, but one thread hashes at one core's speed.
          const digest = at.length <= SMALL_CHUNK_BYTES ? hasher().hashChunks(data, at.length) : await hashing.run(() => hasher().hashChunksAsync(data, at.length));
          if (!equalBytes(digest, pkg.chunkHashes.subarray(chunk * DIGEST_LENGTH, (chunk + 1) * DIGEST_LENGTH))) continue;
          await output.commit(chunk, data, digest);
          chunks++;
          bytes += at.length;
          events.onReused(at.length);
        }
      } finally {
        await handle.close().catch(() => {});
      }
    }
  });
  return { chunks, bytes };
}

function lstatOrNull(path: string) {
  try {
    return lstatSync(path);
  } catch {
    return null;
  }
}

function statOrNull(path: string) {
  try {
    return statSync(path);
  } catch {
    return null;
  }
}
