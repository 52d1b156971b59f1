import { expect, test } from "bun:test";
import type { Entry } from "../../src/pkg/model.ts";
import { selectEntries } from "../../src/pkg/selection.ts";
import { packageOf } from "./fixtures.ts";

const TREE: Entry[] = [
  { kind: "directory", path: "w", mode: 0o755, size: 0 },
  { kind: "file", path: "w/config.json", mode: 0o644, size: 100 },
  { kind: "directory", path: "w/shards", mode: 0o755, size: 0 },
  { kind: "file", path: "w/shards/00.bin", mode: 0o644, size: 200_000 },
  { kind: "file", path: "w/shards/01.bin", mode: 0o644, size: 200_000 },
  { kind: "directory", path: "w/shards/extra", mode: 0o755, size: 0 },
  { kind: "file", path: "w/shards/extra/notes.json", mode: 0o644, size: 10 },
  { kind: "symlink", path: "w/latest", mode: 0o777, size: 0, target: "shards/01.bin" },
];
const pkg = packageOf(TREE);
const selected = (patterns: string[]) => {
  const s = selectEntries(pkg, patterns);
  return TREE.filter((_, i) => s.entries[i]).map((e) => e.path);
};

test("nested globs select files at any depth, with the directories that lead to them", () => {
  expect(selected(["**/*.json"])).toEqual(["w", "w/config.json", "w/shards", "w/shards/extra", "w/shards/extra/notes.json"]);
  expect(selected(["shards/0?.bin"])).toEqual(["w", "w/shards", "w/shards/00.bin", "w/shards/01.bin"]);
  expect(selected(["shards/{00,01}.bin", "latest"])).toEqual(["w", "w/shards", "w/shards/00.bin", "w/shards/01.bin", "w/latest"]);
});

test("a directory's name selects everything in it; * stays within one level", () => {
  expect(selected(["shards/extra"])).toEqual(["w", "w/shards", "w/shards/extra", "w/shards/extra/notes.json"]);
  expect(selected(["*.json"])).toEqual(["w", "w/config.json"]);
});

test("the selection's chunks are exactly its files' chunks; patterns that match nothing are named", () => {
  const s = selectEntries(pkg, ["shards/01.bin", "nothing/*"]);
  // 64 KiB chunks: config.json is chunk 0, 00.bin chunks 1-4, 01.bin chunks 5-8, notes.json 9.
  expect([...s.chunks.members()]).toEqual([5, 6, 7, 8]);
  expect(s.bytes).toBe(200_000);
  expect(s.unmatched).toEqual(["nothing/*"]);
});

test("in a one-file package the pattern names the file", () => {
  const one = packageOf([{ kind: "file", path: "model.bin", mode: 0o644, size: 300_000 }]);
  expect(selectEntries(one, ["*.bin"]).chunks.count).toBe(5);
  expect(selectEntries(one, ["*.txt"]).unmatched).toEqual(["*.txt"]);
});
