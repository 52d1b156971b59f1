import { describe, expect, test } from "bun:test";
import { writeFileSync } from "node:fs";
import { join } from "node:path";
import { makePackage, runCli } from "../helpers/cli.ts";
import { seededBytes, tempDir } from "../helpers/fixtures.ts";
import { spawnCli, startSeed } from "../helpers/peers.ts";

const dir = tempDir("bytetide-output");
writeFileSync(join(dir, "p.bin"), seededBytes(6 * 1024 * 1024, 17));
const made = await makePackage(join(dir, "p.bin"), ["--chunk-size", "256KiB", "--json"]);
const pkg = join(dir, "p.bin.bpkg");
const events = (stdout: string) => stdout.trim().split("\n").map((line) => JSON.parse(line) as Record<string, unknown> & { event: string });

describe("--json writes NDJSON events", () => {
  test("make: start, then done with the root", () => {
    const e = events(made.stdout);
    expect(e.map((x) => x.event)).toEqual(["start", "done"]);
    expect(e[1]!.root).toMatch(/^[0-9a-f]{64}$/);
    expect(e[1]!.chunks).toBe(24);
  });

  test("get: start, peer, progress, done (with the bytes from each peer); no text on stdout", async () => {
    const seed = await startSeed([pkg, "--max-upload-rate", "3M"]);
    const r = await runCli(["get", pkg, "--peer", seed.address, "-o", join(dir, "json.bin"), "--linger", "0", "--json"]);
    await seed.stop();
    expect(r.code).toBe(0);
    const e = events(r.stdout);
    expect(e.every((x) => typeof x.event === "string")).toBe(true);
    const kinds = new Set(e.map((x) => x.event));
    for (const kind of ["start", "peer", "progress", "done"]) expect(kinds.has(kind)).toBe(true);
    expect(e.find((x) => x.event === "peer")).toMatchObject({ state: "connected", peer: seed.address });
    const progress = e.find((x) => x.event === "progress")!;
    expect(progress).toHaveProperty("bytes_verified");
    expect(progress).toHaveProperty("rate_bytes_per_s");
    expect(progress).toHaveProperty("peers");
    const done = e.find((x) => x.event === "done")!;
    expect(done).toMatchObject({ verified: true, bytes: 6 * 1024 * 1024, received_from: { [seed.address]: 6 * 1024 * 1024 } });
  });

  test("a failure is an error event with its code and exit code", async () => {
    const r = await runCli(["get", pkg, "--peer", "127.0.0.1:9", "-o", join(dir, "nope.bin"), "--retry-for", "500ms", "--json"]);
    expect(r.code).toBe(8);
    const last = events(r.stdout).at(-1)!;
    expect(last).toMatchObject({ event: "error", code: "BT_E_NO_PEERS", exit_code: 8 });
  });

  test("serve: a listening event, then peer events", async () => {
    const seed = spawnCli(["serve", pkg, "--listen", "127.0.0.1:0", "--json"]);
    const port = Number((await seed.waitFor(/"event":"listening","time":"[^"]+","command":"serve","address":"127\.0\.0\.1:(\d+)"/))[1]);
    await runCli(["get", pkg, "--peer", `127.0.0.1:${port}`, "-o", join(dir, "for-serve-json.bin"), "--linger", "0"]);
    seed.proc.kill("SIGTERM");
    const e = events((await seed.done).stdout);
    expect(e[0]).toMatchObject({ event: "listening", packages: [{ name: "p.bin", bytes: 6 * 1024 * 1024 }] });
    expect(e.some((x) => x.event === "peer" && x.state === "connected")).toBe(true);
  });
});

describe("progress off a terminal, and --quiet", () => {
  test("off a terminal, get prints a plain progress line every few seconds", async () => {
    const seed = await startSeed([pkg, "--max-upload-rate", "2M"]);
    const r = await runCli(["get", pkg, "--peer", seed.address, "-o", join(dir, "plain.bin"), "--linger", "0"]);
    await seed.stop();
    expect(r.stderr).toMatch(/^downloading \d+% [\d.]+ [KMG]iB\/6\.00 MiB [\d.]+ [KMG]?i?B\/s ETA \d\d:\d\d peers 1 chunks \d+\/24$/m);
  });

  test("--quiet prints only the result", async () => {
    const seed = await startSeed([pkg]);
    const r = await runCli(["get", pkg, "--peer", seed.address, "-o", join(dir, "quiet.bin"), "--linger", "0", "--quiet"]);
    await seed.stop();
    expect(r.stderr).toBe("");
    expect(r.stdout).toMatch(/^VERIFY OK [0-9a-f]{64}\n$/);
  });
});
