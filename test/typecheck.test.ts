import { expect, test } from "bun:test";
import { join } from "node:path";
import { REPO_ROOT } from "./helpers/fixtures.ts";

test("the TypeScript sources type-check under strict mode", async () => {
  const proc = Bun.spawn([join(REPO_ROOT, "node_modules", ".bin", "tsc"), "--noEmit", "-p", REPO_ROOT], {
    stdout: "pipe",
    stderr: "pipe",
    timeout: 120_000,
  });
  const [out, code] = await Promise.all([new Response(proc.stdout).text(), proc.exited]);
  expect(out).toBe("");
  expect(code).toBe(0);
});
