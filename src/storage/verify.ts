import type { Stats } from "node:fs";
import { lstat, readlink } from "node:fs/promises";
import { describeFsError } from "../errors.ts";
import { DIGEST_LENGTH, hasher } from "../hash/index.ts";
import { equalBytes } from "../pkg/format.ts";
import { ChunkLayout } from "../pkg/layout.ts";
import type { Package } from "../pkg/model.ts";
import type { Selection } from "../pkg/selection.ts";
import { hashJobs, planHashJobs } from "./hash-files.ts";
import { payloadPathOf } from "./payload.ts";

export interface VerifyReport {
  /** Chunks whose bytes are on disk but hash differently. */
  badChunks: number[];
  /** Chunks with no (or not all) bytes on disk. */
  missingChunks: number[];
  /** Entry-level problems: missing files, wrong sizes, wrong kinds, wrong link targets. */
  problems: string[];
  chunkCount: number;
  /** True only when every chunk, entry and the recomputed Merkle root match. */
  ok: boolean;
}

async function lstatOrNull(path: string): Promise<Stats | { error: unknown }> {
  try {
    return await lstat(path);
  } catch (error) {
    return { error };
  }
}

/**
 * The entries at `rootPath` that differ from the package in kind, size or link target,
 * described, and the size found of each regular file: what can be told without reading data.
 */
export async function scanEntries(pkg: Package, rootPath: string, selection: Selection | null = null): Promise<{ problems: string[]; readable: Map<number, number> }> {
  const pathOf = payloadPathOf(pkg, rootPath);
  const problems: string[] = [];
  const readable = new Map<number, number>();

  for (const [i, entry] of pkg.entries.entries()) {
    if (selection && !selection.entries[i]) continue;
    const path = pathOf(i);
    const found = await lstatOrNull(path);
    if ("error" in found) {
      problems.push(describeFsError(found.error, path));
      continue;
    }
    if (entry.kind === "directory" && !found.isDirectory()) problems.push(`${path}: expected a directory`);
    if (entry.kind === "symlink") {
      const target = found.isSymbolicLink() ? await readlink(path) : null;
      if (target !== entry.target) problems.push(`${path}: expected a symlink to ${entry.target}`);
    }
    if (entry.kind === "file") {
      if (!found.isFile()) {
        problems.push(`${path}: expected a regular file`);
      } else {
        readable.set(i, found.size);
        if (found.size !== entry.size) problems.push(`${path}: size ${found.size}, expected ${entry.size}`);
      }
    }
  }
  return { problems, readable };
}

/**
 * Re-hashes the data of `pkg` found at `rootPath` and compares it with the package.
 * Reads every byte once, on the native pool; never trusts sizes or timestamps. With a
 * selection (get --only's part), only its entries and chunks are looked at, each chunk
 * against its hash in the package (whose list was checked against the root when read).
 */
export async function verifyPayload(pkg: Package, rootPath: string, onProgress: (bytes: number) => void = () => {}, selection: Selection | null = null): Promise<VerifyReport> {
  const layout = new ChunkLayout(pkg.entries, pkg.chunkSize);
  const pathOf = payloadPathOf(pkg, rootPath);
  const { problems, readable } = await scanEntries(pkg, rootPath, selection);
  const selected = (c: number) => selection?.chunks.has(c) ?? true;

  const digests = new Uint8Array(layout.chunkCount * DIGEST_LENGTH);
  const hashedChunks = new Uint8Array(layout.chunkCount);
  let bytesDone = 0;
  await hashJobs(planHashJobs(layout, pathOf, { readableBytes: (i) => readable.get(i) ?? 0, include: selected }), pkg.chunkSize, digests, {
    onJobDone: (job) => {
      hashedChunks.fill(1, job.firstChunk, job.firstChunk + job.chunkCount);
      onProgress((bytesDone += job.length));
    },
    // A file that vanished or shrank mid-check leaves its chunks unhashed, hence missing.
    onError: (job, error) => problems.push(describeFsError(error, job.path)),
  });

  const badChunks: number[] = [];
  const missingChunks: number[] = [];
  for (let c = 0; c < layout.chunkCount; c++) {
    if (!selected(c)) continue;
    const at = c * DIGEST_LENGTH;
    if (!hashedChunks[c]) missingChunks.push(c);
    else if (!equalBytes(digests.subarray(at, at + DIGEST_LENGTH), pkg.chunkHashes.subarray(at, at + DIGEST_LENGTH))) badChunks.push(c);
  }
  const rootMatches = selection !== null || equalBytes(hasher().merkleRoot(digests), pkg.root);
  const ok = problems.length === 0 && badChunks.length === 0 && missingChunks.length === 0 && rootMatches;
  return { badChunks, missingChunks, problems, chunkCount: layout.chunkCount, ok };
}
