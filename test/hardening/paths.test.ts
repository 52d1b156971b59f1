import { expect, test } from "bun:test";
import { existsSync, mkdirSync, symlinkSync, writeFileSync } from "node:fs";
import { join } from "node:path";
import { encodePackage } from "../../src/pkg/format.ts";
import { runCli } from "../helpers/cli.ts";
import { tempDir } from "../helpers/fixtures.ts";
import { ESCAPES, packageOf } from "../pkg/fixtures.ts";

const dir = tempDir("bytetide-paths");
const work = join(dir, "work");
mkdirSync(work);

test.each(ESCAPES)("a package with %s is refused by inspect, verify, serve and get, which write nothing", async (label, entries, reason) => {
  const pkg = join(dir, `${label.replace(/\W+/g, "-")}.bpkg`);
  writeFileSync(pkg, encodePackage(packageOf(entries)));
  for (const args of [["inspect", pkg], ["verify", pkg], ["serve", pkg, "--listen", "127.0.0.1:0"], ["get", pkg, "--peer", "127.0.0.1:9", "-o", join(work, "out")]]) {
    const r = await runCli(args, { cwd: work });
    expect(r.code).toBe(4);
    expect(r.stderr.trim()).toMatch(new RegExp(`^bytetide: ${pkg.replace(/[.*+?^${}()|[\]\\]/g, "\\$&")}: unsafe or malformed: .*${reason.source}`));
  }
  expect(existsSync(join(work, "out.part"))).toBe(false);
  expect(existsSync(join(dir, "bytetide-owned"))).toBe(false);
  expect(existsSync("/tmp/bytetide-owned")).toBe(false);
});

test("make refuses a tree whose symlink escapes, naming the link", async () => {
  const tree = join(dir, "leaky-tree");
  mkdirSync(join(tree, "sub"), { recursive: true });
  writeFileSync(join(tree, "sub", "a.txt"), "a");
  symlinkSync("../../../etc/passwd", join(tree, "sub", "escape"));
  const r = await runCli(["make", tree]);
  expect(r.code).toBe(3);
  expect(r.stderr).toContain(`${join(tree, "sub", "escape")}: symlink points outside the package`);
});
