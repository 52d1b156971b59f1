import { afterAll, beforeAll, describe, expect, test } from "bun:test";
import { chmodSync, mkdirSync, statSync, writeFileSync } from "node:fs";
import { join } from "node:path";
import { runCli } from "../helpers/cli.ts";
import { ndjson } from "../helpers/expect.ts";
import { seededBytes, tempDir } from "../helpers/fixtures.ts";
import { type Seed, startSeed } from "../helpers/peers.ts";

/**
 * A package records the modes its maker saw; a get must not turn them into a setuid or
 * setgid program on the node that fetches it unless that node says --allow-setuid.
 */
const dir = tempDir("bytetide-setuid");
const tree = join(dir, "tools");
const single = join(dir, "su-tool");
let seed: Seed;

const modeOf = (path: string): number => statSync(path).mode & 0o7777;

beforeAll(async () => {
  mkdirSync(join(tree, "shared"), { recursive: true });
  writeFileSync(join(tree, "setuid-tool"), seededBytes(150_000, 1));
  writeFileSync(join(tree, "setgid-tool"), seededBytes(10_000, 2));
  writeFileSync(join(tree, "plain.txt"), "plain\n");
  chmodSync(join(tree, "setuid-tool"), 0o4755);
  chmodSync(join(tree, "setgid-tool"), 0o2755);
  chmodSync(join(tree, "shared"), 0o2775);
  chmodSync(join(tree, "plain.txt"), 0o644);
  chmodSync(tree, 0o1777);
  writeFileSync(single, seededBytes(100_000, 3));
  chmodSync(single, 0o4755);
  for (const input of [tree, single]) {
    const made = await runCli(["make", input, "--chunk-size", "64KiB"]);
    expect(made.code).toBe(0);
  }
  seed = await startSeed([`${tree}.bpkg`, `${single}.bpkg`]);
});
afterAll(async () => {
  await seed?.stop();
});

const get = (pkg: string, out: string, ...extra: string[]) => runCli(["get", pkg, "--peer", seed.address, "-o", out, "--linger", "0", ...extra], { timeoutMs: 90_000 });

describe("make records modes as they are", () => {
  test("inspect shows the setuid, setgid and sticky bits the maker saw", async () => {
    const info = JSON.parse((await runCli(["inspect", `${tree}.bpkg`, "--json"])).stdout);
    const modes = Object.fromEntries([...info.files, ...info.directories].map((e: { path: string; mode: string }) => [e.path, e.mode]));
    expect(modes).toMatchObject({ "tools/setuid-tool": "4755", "tools/setgid-tool": "2755", "tools/shared": "2775", "tools/plain.txt": "0644", tools: "1777" });
  });
});

describe("get clears setuid and setgid by default", () => {
  test("a single setuid file arrives 0755, and the log says so once", async () => {
    const out = join(dir, "single-default");
    const r = await get(`${single}.bpkg`, out);
    expect(r.code).toBe(0);
    expect(modeOf(out)).toBe(0o755);
    const lines = r.stderr.split("\n").filter((l) => l.includes("mode-stripped"));
    expect(lines).toHaveLength(1);
    expect(lines[0]).toContain(`file=${out} recorded=4755 applied=0755`);
  });

  test("in a tree: files and directories lose setuid/setgid, keep the rest; one log line per entry", async () => {
    const out = join(dir, "tree-default");
    const r = await get(`${tree}.bpkg`, out);
    expect(r.code).toBe(0);
    expect(modeOf(join(out, "setuid-tool"))).toBe(0o755);
    expect(modeOf(join(out, "setgid-tool"))).toBe(0o755);
    expect(modeOf(join(out, "shared"))).toBe(0o775);
    expect(modeOf(join(out, "plain.txt"))).toBe(0o644);
    expect(modeOf(out)).toBe(0o1777);
    const stripped = r.stderr.split("\n").filter((l) => l.includes("mode-stripped"));
    expect(stripped.map((l) => /file=(\S+)/.exec(l)![1]).sort()).toEqual([join(out, "setgid-tool"), join(out, "setuid-tool"), join(out, "shared")]);
  });

  test("with --json each stripped entry is a mode_stripped event", async () => {
    const out = join(dir, "single-json");
    const r = await get(`${single}.bpkg`, out, "--json");
    expect(r.code).toBe(0);
    expect(ndjson(r.stdout).filter((e) => e.event === "mode_stripped")).toEqual([expect.objectContaining({ file: out, recorded: "4755", applied: "0755" })]);
  });
});

describe("--allow-setuid keeps them", () => {
  test("the setuid file arrives 4755, with no log line about modes", async () => {
    const out = join(dir, "single-allowed");
    const r = await get(`${single}.bpkg`, out, "--allow-setuid");
    expect(r.code).toBe(0);
    expect(modeOf(out)).toBe(0o4755);
    expect(r.stderr).not.toContain("mode-stripped");
  });

  test("every recorded bit of the tree is applied", async () => {
    const out = join(dir, "tree-allowed");
    const r = await get(`${tree}.bpkg`, out, "--allow-setuid");
    expect(r.code).toBe(0);
    expect(modeOf(join(out, "setuid-tool"))).toBe(0o4755);
    expect(modeOf(join(out, "setgid-tool"))).toBe(0o2755);
    expect(modeOf(join(out, "shared"))).toBe(0o2775);
    expect(modeOf(out)).toBe(0o1777);
  });

  test("BYTETIDE_ALLOW_SETUID=1 does the same from the environment", async () => {
    const out = join(dir, "single-env");
    const r = await runCli(["get", `${single}.bpkg`, "--peer", seed.address, "-o", out, "--linger", "0"], { env: { BYTETIDE_ALLOW_SETUID: "1" }, timeoutMs: 90_000 });
    expect(r.code).toBe(0);
    expect(modeOf(out)).toBe(0o4755);
  });
});
