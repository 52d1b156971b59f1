import { expect, test } from "bun:test";
import { mkdirSync, readFileSync, writeFileSync } from "node:fs";
import { join } from "node:path";
import type { Entry } from "../../src/pkg/model.ts";
import { PackageFiles } from "../../src/storage/files.ts";
import { seededBytes, tempDir } from "../helpers/fixtures.ts";
import { packageOf } from "../pkg/fixtures.ts";

const dir = tempDir("bytetide-files");

/** A package "d" of `count` one-chunk files, laid out under dir/name (the package's root), each created empty. */
function filesOf(name: string, count: number): PackageFiles {
  const entries: Entry[] = [{ kind: "directory", path: "d", mode: 0o755, size: 0 }];
  for (let i = 0; i < count; i++) entries.push({ kind: "file", path: `d/f${i}`, mode: 0o644, size: 100 + i });
  mkdirSync(join(dir, name), { recursive: true });
  for (let i = 0; i < count; i++) writeFileSync(join(dir, name, `f${i}`), "");
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
