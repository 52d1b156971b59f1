import { expect, test } from "bun:test";
import { mkdirSync, readFileSync, statSync, truncateSync, writeFileSync } from "node:fs";
import { join } from "node:path";
import type { Entry } from "../../src/pkg/model.ts";
import { PackageFiles, rangesAfter } from "../../src/storage/files.ts";
import { seededBytes, tempDir } from "../helpers/fixtures.ts";
import { packageOf } from "../pkg/fixtures.ts";

const dir = tempDir("bytetide-files");

/** A package "d" of `count` one-chunk files (modes from `modeOf`), laid out under dir/name (the package's root); the files are not there yet. */
function filesOf(name: string, count: number, modeOf = (_i: number) => 0o644): PackageFiles {
  const entries: Entry[] = [{ kind: "directory", path: "d", mode: 0o755, size: 0 }];
  for (let i = 0; i < count; i++) entries.push({ kind: "file", path: `d/f${i}`, mode: modeOf(i), size: 100 + i });
  mkdirSync(join(dir, name), { recursive: true });
  return new PackageFiles(packageOf(entries), join(dir, name), true);
}

test("a few files written are synced one by one; many, with the whole filesystem at once; the bytes are there either way", async () => {
  for (const [count, expected] of [[3, "files"], [100, "filesystem"]] as const) {
    const files = filesOf(`tree-${count}`, count);
    for (let c = 0; c < count; c++) await files.writeChunk(c, seededBytes(100 + c, c));
    expect(await files.sync()).toBe(expected);
    files.close();
    for (let c = 0; c < count; c++) expect(readFileSync(join(dir, `tree-${count}`, `f${c}`))).toEqual(Buffer.from(seededBytes(100 + c, c)));
  }
});

test("a file is created by its first write, with its recorded permission bits and the owner's write bit, never its privilege bits", async () => {
  const recorded = [0o644, 0o755, 0o444, 0o4755];
  const files = filesOf("created", recorded.length, (i) => recorded[i]!);
  for (let c = 0; c < recorded.length; c++) await files.writeChunk(c, seededBytes(100 + c, c));
  files.close();
  const umask = process.umask();
  const modes = recorded.map((_, c) => statSync(join(dir, "created", `f${c}`)).mode & 0o7777);
  expect(modes).toEqual([0o644, 0o755, 0o644, 0o755].map((m) => m & ~umask));
});

test("a read fills its ranges one after the other, stops at the end of its chunk, and comes back short where the file was cut", async () => {
  const bytes = seededBytes(3 * 65_536, 11);
  const root = join(dir, "ranges");
  mkdirSync(root, { recursive: true });
  writeFileSync(join(root, "f"), bytes);
  const files = new PackageFiles(packageOf([{ kind: "file", path: "f", mode: 0o644, size: bytes.length }]), join(root, "f"), false);
  const ranges: Uint8Array[] = [new Uint8Array(1000), new Uint8Array(30_000), new Uint8Array(50_000)];
  // Chunk 1 from offset 5,000: 60,536 bytes are left in it, so the last range is filled only in part.
  expect(await files.read(1, 5_000, ranges)).toBe(60_536);
  const start = 65_536 + 5_000;
  expect(ranges[0]).toEqual(bytes.subarray(start, start + 1000));
  expect(ranges[1]).toEqual(bytes.subarray(start + 1000, start + 31_000));
  expect(ranges[2]!.subarray(0, 29_536)).toEqual(bytes.subarray(start + 31_000, 2 * 65_536));
  expect(ranges[2]!.subarray(29_536).every((b) => b === 0)).toBe(true);
  truncateSync(join(root, "f"), 2 * 65_536 + 100);
  expect(await files.read(2, 0, [new Uint8Array(60), new Uint8Array(65_476)])).toBe(100);
  files.close();
});

test("a read that stops part-way goes on where it stopped, across the ranges", () => {
  const ranges = [new Uint8Array(10), new Uint8Array(20), new Uint8Array(5)];
  const rest = rangesAfter(ranges, 15);
  expect(rest.map((r) => [r.byteOffset, r.length])).toEqual([[5, 15], [0, 5]]);
  expect(rest[0]!.buffer).toBe(ranges[1]!.buffer);
  // Read by read: 15 bytes, then 12 more, then the last 8.
  const later = rangesAfter(rest, 12);
  expect(later.map((r) => [r.byteOffset, r.length])).toEqual([[17, 3], [0, 5]]);
  expect(later[1]!.buffer).toBe(ranges[2]!.buffer);
  expect(rangesAfter(later, 8)).toEqual([]);
});
