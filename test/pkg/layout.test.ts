import { expect, test } from "bun:test";
import { ChunkLayout } from "../../src/pkg/layout.ts";
import { TREE } from "./fixtures.ts";

const layout = new ChunkLayout(TREE, 65_536);

test("each file starts a new chunk; empty files, directories and symlinks have none", () => {
  // a.bin: 200000 bytes -> 4 chunks (the last 3392 bytes); sub/b.bin: exactly one chunk.
  expect(layout.chunkCount).toBe(5);
  expect(layout.files).toEqual([
    { entryIndex: 1, firstChunk: 0, chunkCount: 4 },
    { entryIndex: 5, firstChunk: 4, chunkCount: 1 },
  ]);
});

test("locate maps a chunk to one byte range of one file", () => {
  expect(layout.locate(0)).toEqual({ entryIndex: 1, offset: 0, length: 65_536 });
  expect(layout.locate(3)).toEqual({ entryIndex: 1, offset: 196_608, length: 3392 });
  expect(layout.locate(4)).toEqual({ entryIndex: 5, offset: 0, length: 65_536 });
});

test("locate refuses chunk indexes out of range", () => {
  expect(() => layout.locate(5)).toThrow(RangeError);
  expect(() => layout.locate(-1)).toThrow(RangeError);
  expect(() => layout.locate(1.5)).toThrow(RangeError);
});
