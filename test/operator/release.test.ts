import { expect, test } from "bun:test";
import { readFileSync } from "node:fs";
import { join } from "node:path";
import { REPO_ROOT, sha256Hex } from "../helpers/fixtures.ts";

test("scripts/release.sh builds the linux artifact and a SHA256SUMS that checks out", () => {
  const r = Bun.spawnSync([join(REPO_ROOT, "scripts", "release.sh")], { env: { ...process.env, BYTETIDE_ALLOW_JS_HASHER: "1" }, timeout: 300_000 });
  expect(r.exitCode).toBe(0);
  const sums = readFileSync(join(REPO_ROOT, "dist", "SHA256SUMS"), "utf8").trim();
  const [digest, name] = sums.split(/\s+/);
  expect(name).toMatch(/^bytetide-linux-(x64|arm64)$/);
  expect(sha256Hex(readFileSync(join(REPO_ROOT, "dist", name!)))).toBe(digest!);
  const version = Bun.spawnSync([join(REPO_ROOT, "dist", name!), "--version"]).stdout.toString();
  expect(version).toStartWith("bytetide ");
});
