/**
 * The harness itself: a test that drops to 'nobody' must pass from a clone that 'nobody'
 * cannot reach, as when the clone sits under a directory that mktemp -d made (mode 0700).
 */
import { expect, test } from "bun:test";
import { copyFileSync, existsSync, mkdirSync, mkdtempSync, rmSync, statSync, symlinkSync } from "node:fs";
import { tmpdir } from "node:os";
import { dirname, join } from "node:path";
import { REPO_ROOT } from "../helpers/fixtures.ts";

const isRoot = process.getuid?.() === 0;
/** Built or installed, and big: the copy links to the repository's own. */
const LINKED = ["node_modules", "dist", join("native", "build")];
const TIMEOUT_MS = 120_000;
const NOBODY = ["setpriv", "--reuid=65534", "--regid=65534", "--clear-groups"];

/** The working tree as git sees it (tracked and untracked, not ignored), copied to dest. */
function copyWorkingTree(dest: string): void {
  const listed = Bun.spawnSync(["git", "ls-files", "-z", "--cached", "--others", "--exclude-standard"], { cwd: REPO_ROOT });
  expect(listed.exitCode, listed.stderr.toString()).toBe(0);
  const files = listed.stdout.toString().split("\0").filter((f) => f !== "");
  expect(files).toContain("test/helpers/cli.ts");
  for (const file of files) {
    // A tracked file deleted in the working tree is listed too; the copy goes without it, as the tree does.
    if (!existsSync(join(REPO_ROOT, file))) continue;
    mkdirSync(dirname(join(dest, file)), { recursive: true });
    copyFileSync(join(REPO_ROOT, file), join(dest, file));
  }
  for (const link of LINKED) {
    if (!existsSync(join(REPO_ROOT, link))) continue;
    mkdirSync(dirname(join(dest, link)), { recursive: true });
    symlinkSync(join(REPO_ROOT, link), join(dest, link));
  }
}

test.skipIf(!isRoot)(
  "a test that runs bytetide as 'nobody' passes from a copy of the repository under a 0700 directory (needs root)",
  async () => {
    const outer = mkdtempSync(join(tmpdir(), "bytetide-harness-"));
    try {
      expect(statSync(outer).mode & 0o777).toBe(0o700);
      const copy = join(outer, "repo");
      copyWorkingTree(copy);
      // Else this test would prove nothing: 'nobody' must be shut out of the copy.
      expect(Bun.spawnSync(["test", "-e", join(copy, "package.json")]).exitCode).toBe(0);
      expect(Bun.spawnSync([...NOBODY, "test", "-e", join(copy, "package.json")]).exitCode).toBe(1);
      const proc = Bun.spawn([join(copy, "node_modules", ".bin", "bun"), "test", "test/cli/errors.test.ts", "-t", "nobody may write"], {
        cwd: copy,
        stdout: "pipe",
        stderr: "pipe",
        timeout: TIMEOUT_MS,
      });
      const [stdout, stderr, code] = await Promise.all([new Response(proc.stdout).text(), new Response(proc.stderr).text(), proc.exited]);
      const output = `exit ${code}\n--- stdout\n${stdout}\n--- stderr\n${stderr}`;
      expect(code, output).toBe(0);
      // bun prints its summary on stderr; the named test must have run, and passed.
      expect(stderr, output).toMatch(/^\(pass\) .*an output directory nobody may write to exits 7/m);
      expect(stderr, output).toMatch(/^ *1 pass$/m);
      expect(stderr, output).toMatch(/^ *0 fail$/m);
      expect(stderr, output).toMatch(/^Ran 1 test across 1 file/m);
    } finally {
      rmSync(outer, { recursive: true, force: true });
    }
  },
  TIMEOUT_MS + 30_000,
);
