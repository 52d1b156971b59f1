import { expect, test } from "bun:test";
import { hasher } from "../../src/hash/index.ts";
import { diffPackages } from "../../src/pkg/diff.ts";
import type { Entry, Package } from "../../src/pkg/model.ts";
import { seededBytes } from "../helpers/fixtures.ts";

const CHUNK = 65_536;

/** A directory package "name" over these files (bytes, and a mode if not 0644), with their real chunk hashes. */
function tree(name: string, files: Record<string, Uint8Array | [Uint8Array, number]>, chunkSize = CHUNK): Package {
  const entries: Entry[] = [{ kind: "directory", path: name, mode: 0o755, size: 0 }];
  const hashes: Uint8Array[] = [];
  for (const [path, file] of Object.entries(files).sort(([a], [b]) => (a < b ? -1 : 1))) {
    const [bytes, mode] = Array.isArray(file) ? file : [file, 0o644];
    entries.push({ kind: "file", path: `${name}/${path}`, mode, size: bytes.length });
    hashes.push(hasher().hashChunks(bytes, chunkSize));
  }
  const chunkHashes = new Uint8Array(Buffer.concat(hashes));
  return { formatVersion: 1, chunkSize, totalSize: entries.reduce((n, e) => n + e.size, 0), entries, chunkHashes, root: hasher().merkleRoot(chunkHashes) };
}

const a = seededBytes(10 * CHUNK, 1);
const b = seededBytes(4 * CHUNK + 100, 2);
const c = seededBytes(3 * CHUNK, 3);

test("an unchanged tree, renamed: nothing added, removed or changed, every chunk shared", () => {
  const d = diffPackages(tree("v1", { "a.bin": a, "b.bin": b }), tree("v2", { "a.bin": a, "b.bin": b }));
  expect(d).toMatchObject({ added: [], removed: [], changed: [], sharedChunks: 15, bytesToFetch: 0 });
});

test("one chunk rewritten, a file appended to, one truncated, one moved, one added and one removed: each counted as reuse would find it", () => {
  const rewritten = a.slice();
  rewritten[3 * CHUNK + 5]! ^= 1;
  const appended = new Uint8Array([...b, ...seededBytes(CHUNK, 9)]);
  const truncated = c.subarray(0, 2 * CHUNK + 10);
  const before = tree("v1", { "a.bin": a, "b.bin": b, "c.bin": c, "old/moved.bin": seededBytes(2 * CHUNK, 4), "gone.bin": seededBytes(10, 5) });
  const after = tree("v2", { "a.bin": rewritten, "b.bin": appended, "c.bin": truncated, "new/moved.bin": seededBytes(2 * CHUNK, 4), "extra.bin": seededBytes(CHUNK, 6) });
  const d = diffPackages(before, after);
  expect(d.added.sort()).toEqual(["v2/extra.bin", "v2/new/moved.bin"]);
  expect(d.removed.sort()).toEqual(["v1/gone.bin", "v1/old/moved.bin"]);
  expect(d.changed.sort()).toEqual(["v2/a.bin", "v2/b.bin", "v2/c.bin"]);
  // a: 9 of 10; b: its 4 full chunks (the old tail chunk was short); c: 2 of 3; moved: 2; extra: 0.
  expect(d.sharedChunks).toBe(9 + 4 + 2 + 2);
  expect(d.bytesToFetch).toBe(CHUNK + (appended.length - 4 * CHUNK) + (2 * CHUNK + 10 - 2 * CHUNK) + CHUNK);
});

test("a mode change is a change that shares every chunk; another chunk size shares none", () => {
  const modeOnly = diffPackages(tree("v1", { "a.bin": a }), tree("v1", { "a.bin": [a, 0o755] }));
  expect(modeOnly).toMatchObject({ changed: ["v1/a.bin"], sharedChunks: 10, bytesToFetch: 0 });
  const rechunked = diffPackages(tree("v1", { "a.bin": a }), tree("v1", { "a.bin": a }, 2 * CHUNK));
  expect(rechunked).toMatchObject({ chunkSizeDiffers: true, sharedChunks: 0, bytesToFetch: a.length });
});
