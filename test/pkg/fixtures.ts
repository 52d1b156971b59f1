import { hasher } from "../../src/hash/index.ts";
import { ChunkLayout } from "../../src/pkg/layout.ts";
import type { Entry, Package } from "../../src/pkg/model.ts";
import { seededBytes } from "../helpers/fixtures.ts";

/** A package over the given entries with made-up (but consistent) chunk hashes. */
export function packageOf(entries: Entry[], chunkSize = 65_536): Package {
  const chunkHashes = seededBytes(new ChunkLayout(entries, chunkSize).chunkCount * 32, 7);
  return {
    formatVersion: 1,
    chunkSize,
    totalSize: entries.reduce((n, e) => n + e.size, 0),
    entries,
    chunkHashes,
    root: hasher().merkleRoot(chunkHashes),
  };
}

export const TREE: Entry[] = [
  { kind: "directory", path: "weights", mode: 0o755, size: 0 },
  { kind: "file", path: "weights/a.bin", mode: 0o644, size: 200_000 },
  { kind: "file", path: "weights/empty", mode: 0o600, size: 0 },
  { kind: "symlink", path: "weights/latest", mode: 0o777, size: 0, target: "sub/b.bin" },
  { kind: "directory", path: "weights/sub", mode: 0o700, size: 0 },
  { kind: "file", path: "weights/sub/b.bin", mode: 0o755, size: 65_536 },
  { kind: "symlink", path: "weights/sub/up", mode: 0o777, size: 0, target: "../a.bin" },
];

/** File tables that would make a reader write or read outside the package tree. */
export const ESCAPES: [label: string, entries: Entry[], reason: RegExp][] = [
  ["an absolute path", [{ kind: "file", path: "/tmp/bytetide-owned", mode: 0o644, size: 10 }], /is absolute/],
  [
    "a '..' component",
    [
      { kind: "directory", path: "w", mode: 0o755, size: 0 },
      { kind: "file", path: "w/../../bytetide-owned", mode: 0o644, size: 10 },
    ],
    /'\.\.' component/,
  ],
  [
    "a symlink that leaves the tree",
    [
      { kind: "directory", path: "w", mode: 0o755, size: 0 },
      { kind: "symlink", path: "w/escape", mode: 0o777, size: 0, target: "../../etc" },
    ],
    /points outside the package/,
  ],
];
