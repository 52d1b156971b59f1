import { expect, test } from "bun:test";
import { mkdirSync, readFileSync, statSync } from "node:fs";
import { join } from "node:path";
import type { Entry } from "../../src/pkg/model.ts";
import { PackageFiles } from "../../src/storage/files.ts";
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
