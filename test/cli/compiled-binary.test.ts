import { expect, test } from "bun:test";
import { copyFileSync, existsSync, writeFileSync } from "node:fs";
import { join } from "node:path";
import { COMPILED } from "../helpers/cli.ts";
import { REPO_ROOT, seededBytes, tempDir } from "../helpers/fixtures.ts";

const dir = tempDir("bytetide-compiled");
const nativeBuilt = existsSync(join(REPO_ROOT, "native", "build", "bytetide.node"));

test("the single executable, copied out of the repository, runs make, inspect and verify", async () => {
  expect(existsSync(COMPILED)).toBe(true);
  const binary = join(dir, "bytetide");
  copyFileSync(COMPILED, binary);
  const local = async (args: string[]) => {
    const proc = Bun.spawn([binary, ...args], { cwd: dir, stdout: "pipe", stderr: "pipe", timeout: 60_000 });
    const [stdout, stderr, code] = await Promise.all([new Response(proc.stdout).text(), new Response(proc.stderr).text(), proc.exited]);
    return { stdout, stderr, code };
  };
  const version = await local(["--version"]);
  expect(version.code).toBe(0);
  // The addon travels inside the executable: nothing beside the copy provides it.
  expect(version.stdout).toContain(nativeBuilt ? "hasher: native" : "hasher: js");

  writeFileSync(join(dir, "payload.bin"), seededBytes(3_000_000, 8));
  const made = await local(["make", "payload.bin", "--chunk-size", "256KiB"]);
  expect(made.code).toBe(0);
  const root = /root ([0-9a-f]{64})/.exec(made.stdout)![1];
  const inspected = JSON.parse((await local(["inspect", "payload.bin.bpkg", "--json"])).stdout);
  expect(inspected.merkle_root).toBe(root);
  expect(inspected.chunk_count).toBe(12);
  const verified = await local(["verify", "payload.bin.bpkg"]);
  expect(verified.stdout.trim()).toBe(`VERIFY OK ${root}`);
});
