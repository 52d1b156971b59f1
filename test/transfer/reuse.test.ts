import { afterAll, describe, expect, test } from "bun:test";
import { cpSync, existsSync, mkdirSync, writeFileSync } from "node:fs";
import { dirname, join } from "node:path";
import { diffPackages } from "../../src/pkg/diff.ts";
import { readPackage } from "../../src/pkg/io.ts";
import { makePackage, runCli } from "../helpers/cli.ts";
import { treeDigest } from "../helpers/deploy.ts";
import { ndjson } from "../helpers/expect.ts";
import { seededBytes, tempDir } from "../helpers/fixtures.ts";
import { type Seed, spawnCli, startSeed } from "../helpers/peers.ts";

const dir = tempDir("bytetide-reuse");
const CHUNK = 65_536;

function writeTree(root: string, files: Record<string, Uint8Array>): void {
  for (const [path, bytes] of Object.entries(files)) {
    mkdirSync(dirname(join(root, path)), { recursive: true });
    writeFileSync(join(root, path), bytes);
  }
}

// Version 1, and version 2: one chunk rewritten, a file appended to, one truncated, one moved, one added.
const a = seededBytes(20 * CHUNK, 1);
const b = seededBytes(5 * CHUNK + 700, 2);
const c = seededBytes(6 * CHUNK, 3);
const moved = seededBytes(4 * CHUNK, 4);
const a2 = a.slice();
a2[7 * CHUNK + 3]! ^= 0xff;
const V1 = { "a.bin": a, "b.bin": b, "c.bin": c, "old/moved.bin": moved };
const TRUNCATED_TAIL = 9;
const V2 = { "a.bin": a2, "b.bin": new Uint8Array([...b, ...seededBytes(2 * CHUNK, 5)]), "c.bin": c.subarray(0, 3 * CHUNK + TRUNCATED_TAIL), "new/moved.bin": moved, "added.bin": seededBytes(40 * CHUNK, 6) };

const v1 = join(dir, "v1", "weights");
const v2 = join(dir, "v2", "weights");
writeTree(v1, V1);
writeTree(v2, V2);
const made = Promise.all([makePackage(v1, ["--chunk-size", "64KiB"]), makePackage(v2, ["--chunk-size", "64KiB"])]);
const v2Package = `${v2}.bpkg`;

const seeds: Seed[] = [];
afterAll(async () => {
  for (const seed of seeds) await seed.stop();
});
async function seedV2(...args: string[]): Promise<Seed> {
  await made;
  const seed = await startSeed([v2Package, ...args]);
  seeds.push(seed);
  return seed;
}

/** What a get of v2 with --log-requests and --json did: bytes reused and received, chunks requested. */
function summary(stdout: string) {
  const events = ndjson(stdout);
  const done = events.find((e) => e.event === "done")!;
  const received = Object.values(done.received_from as Record<string, number>).reduce((n, x) => n + x, 0);
  return { reused: done.reused_bytes as number, received, requested: events.filter((e) => e.event === "request").length, reusedEvent: events.find((e) => e.event === "reused") };
}

describe("get --reuse", () => {
  test("same path and offset, a moved file, a truncated one and one appended to are copied, never requested; only the rest crosses the network", async () => {
    const seed = await seedV2();
    const expected = diffPackages(await readPackage(`${v1}.bpkg`), await readPackage(v2Package));
    expect(expected.sharedChunks).toBe(19 + 5 + 3 + 4);

    const out = join(dir, "got-1");
    const r = await runCli(["get", v2Package, "--reuse", v1, "--peer", seed.address, "-o", out, "--linger", "0", "--json", "--log-requests"]);
    expect(r.code, r.stderr).toBe(0);
    expect(treeDigest(out)).toBe(treeDigest(v2));
    // diff counts by chunk hash; reading the old bytes also finds the truncated file's new
    // short last chunk where the old file held those bytes, which no old hash describes.
    const got = summary(r.stdout);
    expect(got.reused).toBe(expected.sharedBytes + TRUNCATED_TAIL);
    expect(got.reusedEvent).toMatchObject({ chunks: expected.sharedChunks + 1, bytes: expected.sharedBytes + TRUNCATED_TAIL });
    expect(got.received).toBe(expected.bytesToFetch - TRUNCATED_TAIL);
    expect(got.requested).toBe(expected.chunkCount - expected.sharedChunks - 1);
  });

  test("a reused chunk whose bytes are wrong is fetched from a peer instead", async () => {
    const seed = await seedV2();
    const damaged = join(dir, "v1-damaged", "weights");
    cpSync(v1, damaged, { recursive: true });
    const bytes = a.slice();
    bytes[2 * CHUNK + 1]! ^= 1;
    writeFileSync(join(damaged, "a.bin"), bytes);

    const out = join(dir, "got-2");
    const r = await runCli(["get", v2Package, "--reuse", damaged, "--peer", seed.address, "-o", out, "--linger", "0", "--json"]);
    expect(r.code, r.stderr).toBe(0);
    expect(treeDigest(out)).toBe(treeDigest(v2));
    const expected = diffPackages(await readPackage(`${v1}.bpkg`), await readPackage(v2Package));
    expect(summary(r.stdout).reused).toBe(expected.sharedBytes + TRUNCATED_TAIL - CHUNK);
    expect(summary(r.stdout).received).toBe(expected.bytesToFetch - TRUNCATED_TAIL + CHUNK);
  });

  test("an older version at -o, replaced with --force, is reused, and stays whole until the new one is renamed into place", async () => {
    // A slow seed, so the get can be stopped after reusing and before finishing.
    const seed = await seedV2("--max-upload-rate", "100K");
    const out = join(dir, "deployed", "weights");
    cpSync(v1, out, { recursive: true });

    const first = spawnCli(["get", v2Package, "--peer", seed.address, "-o", out, "--force", "--json"]);
    await first.waitFor(/"event":"reused"/);
    first.proc.kill("SIGINT");
    const stopped = await first.done;
    expect(stopped.code, `${stopped.stdout}${stopped.stderr}`).toBe(130);
    expect(treeDigest(out)).toBe(treeDigest(v1));
    expect(existsSync(`${out}.part`)).toBe(true);

    const fast = await seedV2();
    const r = await runCli(["get", v2Package, "--peer", fast.address, "-o", out, "--force", "--linger", "0", "--json"]);
    expect(r.code, r.stderr).toBe(0);
    expect(treeDigest(out)).toBe(treeDigest(v2));
    expect(existsSync(`${out}.part`)).toBe(false);
    expect(existsSync(`${out}.old-${first.proc.pid}`)).toBe(false);
    // The first run's reuse and download were kept; what is left comes from the seed.
    expect(summary(r.stdout).received).toBeLessThanOrEqual(diffPackages(await readPackage(`${v1}.bpkg`), await readPackage(v2Package)).bytesToFetch);
  });

  test("--reuse of a path that does not exist is a usage error naming it, and the output is not touched", async () => {
    const out = join(dir, "untouched");
    const r = await runCli(["get", (await made, v2Package), "--reuse", join(dir, "nowhere"), "--peer", "127.0.0.1:9", "-o", out]);
    expect(r.code).toBe(2);
    expect(r.stderr).toContain(`--reuse ${join(dir, "nowhere")}`);
    expect(existsSync(`${out}.btstate`)).toBe(false);
  });
});
