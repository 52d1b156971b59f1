import { afterAll, describe, expect, test } from "bun:test";
import { existsSync, mkdirSync, readdirSync, readFileSync, writeFileSync } from "node:fs";
import { join } from "node:path";
import { makePackage, runCli } from "../helpers/cli.ts";
import { expectCleanError } from "../helpers/expect.ts";
import { seededBytes, tempDir } from "../helpers/fixtures.ts";
import { spawnCli, startSeed, verifiedChunks, waitForVerified } from "../helpers/peers.ts";

/** What `get` does before, around and instead of downloading: start-up order, one get per output, signals, -o. */
const dir = tempDir("bytetide-get-start");
const payload = seededBytes(6 * 1024 * 1024, 4242);
writeFileSync(join(dir, "data.bin"), payload);
await makePackage(join(dir, "data.bin"), ["--chunk-size", "256KiB"]);
const pkg = join(dir, "data.bin.bpkg");
const tree = join(dir, "tree");
mkdirSync(join(tree, "sub"), { recursive: true });
writeFileSync(join(tree, "a.bin"), seededBytes(300_000, 1));
writeFileSync(join(tree, "sub", "b.bin"), seededBytes(200_000, 2));
await makePackage(tree, ["--chunk-size", "64KiB"]);
const treePkg = `${tree}.bpkg`;
const seed = await startSeed([pkg]);
const treeSeed = await startSeed([treePkg]);
// Slow enough that a signal lands mid-download on any machine.
const slowSeed = await startSeed([pkg, "--max-upload-rate", "1M"]);
afterAll(() => Promise.all([seed.stop(), treeSeed.stop(), slowSeed.stop()]));

/** A fresh output directory holding one file of its own, to see that nothing else appears. */
function outputDir(name: string): string {
  const out = join(dir, name);
  mkdirSync(out);
  writeFileSync(join(out, "keep.txt"), "mine");
  return out;
}

describe("a start that fails leaves the output directory exactly as it was", () => {
  test.each([
    ["a bad --max-download-rate", (_out: string) => ["--max-download-rate", "100mb"], 2, "--max-download-rate 100mb"],
    ["an unknown flag", () => ["--frobnicate"], 2, "unknown flag --frobnicate"],
    ["a bad --concurrency", () => ["--concurrency", "0"], 2, "--concurrency 0"],
    ["a --listen address in use", () => ["--listen", seed.address], 2, `--listen ${seed.address}: address already in use`],
    ["a --metrics address in use", () => ["--metrics", seed.address], 2, `--metrics ${seed.address}: address already in use`],
    ["a --listen name that does not resolve", () => ["--listen", "no-such-host.invalid:0"], 2, "--listen no-such-host.invalid:0: cannot resolve no-such-host.invalid"],
    ["a missing --secret-file", () => ["--secret-file", join(dir, "no-such-secret")], 2, "--secret-file"],
  ] as const)("%s", async (name, extra, code, mention) => {
    const out = outputDir(`failed-start-${name.replace(/\W+/g, "-")}`);
    const r = await runCli(["get", pkg, "--peer", seed.address, "-o", join(out, "data.bin"), ...extra(out)]);
    expectCleanError(r, code, mention);
    expect(readdirSync(out)).toEqual(["keep.txt"]);
  });

  test("a package that cannot be read", async () => {
    const out = outputDir("failed-start-package");
    const r = await runCli(["get", join(dir, "missing.bpkg"), "--peer", seed.address, "-o", join(out, "data.bin")]);
    expectCleanError(r, 3, "missing.bpkg");
    expect(readdirSync(out)).toEqual(["keep.txt"]);
  });
});

describe("one download per output", () => {
  test("a second get on the same output is refused while the first runs, and the first still completes", async () => {
    const out = join(dir, "locked", "data.bin");
    const first = spawnCli(["get", pkg, "--peer", slowSeed.address, "-o", out, "--linger", "0"]);
    await waitForVerified(first, pkg, `${out}.btstate`, 1);
    const second = await runCli(["get", pkg, "--peer", seed.address, "-o", out, "--linger", "0"]);
    expectCleanError(second, 9, `${out}: another bytetide get is downloading to this output`);
    const done = await first.done;
    expect(done.stdout).toStartWith("VERIFY OK");
    expect(readFileSync(out)).toEqual(Buffer.from(payload));
  });

  test("a get killed with kill -9 leaves no lock behind: the next run resumes and completes", async () => {
    const out = join(dir, "killed", "data.bin");
    const first = spawnCli(["get", pkg, "--peer", slowSeed.address, "-o", out, "--linger", "0"]);
    await waitForVerified(first, pkg, `${out}.btstate`, 2);
    first.proc.kill("SIGKILL");
    await first.done;
    const again = await runCli(["get", pkg, "--peer", seed.address, "-o", out, "--linger", "0"]);
    expect(again.stdout).toStartWith("VERIFY OK");
    expect(readFileSync(out)).toEqual(Buffer.from(payload));
  });
});

describe("signals", () => {
  test.each([
    ["SIGTERM", 143, "terminated (SIGTERM)"],
    ["SIGINT", 130, "interrupted"],
  ] as const)("%s mid-download exits %d with its progress saved clean", async (signal, code, words) => {
    const out = join(dir, `signal-${signal}`, "data.bin");
    const get = spawnCli(["get", pkg, "--peer", slowSeed.address, "-o", out, "--linger", "0"]);
    await waitForVerified(get, pkg, `${out}.btstate`, 2);
    get.proc.kill(signal);
    const r = await get.done;
    expect(r.code).toBe(code);
    expect(r.stderr.trimEnd().split("\n").at(-1)).toContain(`get: ${words}; progress saved`);
    const saved = await verifiedChunks(pkg, `${out}.btstate`);
    expect(saved.clean).toBe(true);
    expect(saved.count).toBeGreaterThanOrEqual(2);
  });
});

describe("-o read as cp and rsync read it", () => {
  test("DIR/ that does not exist yet: the file goes inside it under its own name", async () => {
    const out = join(dir, "fresh-dir");
    const r = await runCli(["get", pkg, "--peer", seed.address, "-o", `${out}/`, "--linger", "0"]);
    expect(r.stdout).toStartWith("VERIFY OK");
    expect(readdirSync(out)).toEqual(["data.bin"]);
    expect(readFileSync(join(out, "data.bin"))).toEqual(Buffer.from(payload));
  });

  test("a directory package into an empty directory fills it; the same command again verifies and downloads nothing", async () => {
    const out = join(dir, "empty-target");
    mkdirSync(out);
    const first = await runCli(["get", treePkg, "--peer", treeSeed.address, "-o", out, "--linger", "0"]);
    expect(first.stdout).toStartWith("VERIFY OK");
    expect(readFileSync(join(out, "sub", "b.bin"))).toEqual(Buffer.from(seededBytes(200_000, 2)));
    const again = await runCli(["get", treePkg, "--peer", treeSeed.address, "-o", out, "--linger", "0"]);
    expect(again.stdout).toStartWith("VERIFY OK");
    expect(again.stderr).not.toContain("peer-connected");
    expect(existsSync(join(out, "tree"))).toBe(false);
  });

  test("a directory package onto a directory holding other data is refused, naming it, and nothing is touched", async () => {
    const out = outputDir("occupied");
    const r = await runCli(["get", treePkg, "--peer", treeSeed.address, "-o", out, "--linger", "0"]);
    expectCleanError(r, 6, `${out} exists and does not match the package`);
    expect(readdirSync(out)).toEqual(["keep.txt"]);
    expect(existsSync(`${out}.part`)).toBe(false);
  });
});
