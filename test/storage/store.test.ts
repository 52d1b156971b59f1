import { expect, test } from "bun:test";
import { writeFileSync } from "node:fs";
import { join } from "node:path";
import { hasher } from "../../src/hash/index.ts";
import type { Package } from "../../src/pkg/model.ts";
import { PackageFiles } from "../../src/storage/files.ts";
import { completeStore } from "../../src/storage/store.ts";
import { SLOW_INLINE_MS, SLOW_TO_GO_COLD, WarmDisk } from "../../src/storage/warm-disk.ts";
import { seededBytes, tempDir } from "../helpers/fixtures.ts";

const dir = tempDir("bytetide-store");
const CHUNK_SIZE = 2 * 1024 * 1024;
// Chunk 0 is too long to prove on the JS thread (LIMITS.inlineIoBytes); chunk 1, the tail, is short enough.
const payload = seededBytes(CHUNK_SIZE + 100_000, 3);
const pkg: Package = {
  formatVersion: 1,
  chunkSize: CHUNK_SIZE,
  totalSize: payload.length,
  entries: [{ kind: "file", path: "f", mode: 0o644, size: payload.length }],
  chunkHashes: hasher().hashChunks(payload, CHUNK_SIZE),
  root: hasher().merkleRoot(hasher().hashChunks(payload, CHUNK_SIZE)),
};

/** A seed's store over a copy of the payload with `corrupt` chunks flipped, on a disk that is warm or has just turned cold. */
function seedOf(name: string, corrupt: number[], disk: "warm" | "cold") {
  const bytes = payload.slice();
  for (const chunk of corrupt) bytes[chunk * CHUNK_SIZE + 10]! ^= 0xff;
  const path = join(dir, name);
  writeFileSync(path, bytes);
  let now = 0;
  const warmDisk = new WarmDisk(() => now);
  if (disk === "cold") for (let i = 0; i < SLOW_TO_GO_COLD; i++) warmDisk.timed(() => (now += SLOW_INLINE_MS + 1));
  const bad: [number, string][] = [];
  const store = completeStore(new PackageFiles(pkg, path, false, warmDisk), { trusted: false, onBadChunk: (chunk, file) => bad.push([chunk, file]) });
  return { store, bad, path };
}

test("on a warm disk a short chunk is proved at once on the JS thread, a long one on the pool; each is proved once", async () => {
  const { store, bad } = seedOf("warm-good", [], "warm");
  expect(store.prepare!(1)).toBe(true);
  const long = store.prepare!(0);
  expect(long).toBeInstanceOf(Promise);
  expect(await long).toBe(true);
  expect(store.prepare!(0)).toBe(true);
  expect(bad).toEqual([]);
});

test("a wrong chunk is refused and named with its file, whether proved on the JS thread or on the pool; recheck proves it again", async () => {
  for (const disk of ["warm", "cold"] as const) {
    const { store, bad, path } = seedOf(`bad-${disk}`, [0, 1], disk);
    expect(await store.prepare!(1)).toBe(false);
    expect(await store.prepare!(0)).toBe(false);
    expect(bad).toEqual([[1, path], [0, path]]);
    // Still had, so that a request reaches prepare, which refuses it without reading it again.
    expect([store.has(0), store.has(1)]).toEqual([true, true]);
    expect(await store.prepare!(1)).toBe(false);
    expect(bad).toHaveLength(2);
    // recheck (serve's SIGHUP) forgets the verdicts: the next request proves them anew.
    expect(store.recheck!()).toEqual([0, 1]);
    expect(store.recheck!()).toEqual([]);
    expect(await store.prepare!(1)).toBe(false);
    expect(bad).toEqual([[1, path], [0, path], [1, path]]);
  }
});

test("on a cold disk even a short chunk is proved on the pool", async () => {
  const { store } = seedOf("cold-good", [], "cold");
  const short = store.prepare!(1);
  expect(short).toBeInstanceOf(Promise);
  expect(await short).toBe(true);
});
