import { describe, expect, test } from "bun:test";
import { readFileSync, truncateSync, writeFileSync } from "node:fs";
import { join } from "node:path";
import { runCli } from "../helpers/cli.ts";
import { seededBytes, tempDir } from "../helpers/fixtures.ts";
import { spawnCli, startSeed, verifiedChunks } from "../helpers/peers.ts";

const dir = tempDir("bytetide-crash");
const CHUNK = 256 * 1024;
const SIZE = 48 * 1024 * 1024;
const CHUNKS = SIZE / CHUNK;
const CONCURRENCY = 8;
const payload = seededBytes(SIZE, 2024);
writeFileSync(join(dir, "data.bin"), payload);
await runCli(["make", join(dir, "data.bin"), "--chunk-size", "256KiB"]);
const pkg = join(dir, "data.bin.bpkg");
const seedUploaded = (stderr: string) => Number(/ uploaded package=\S+ bytes=(\d+)/.exec(stderr)?.[1] ?? NaN);

/** Starts a get and kill -9s it once its progress file records at least `target` chunks. */
async function killAt(seedAddress: string, out: string, target: number): Promise<number> {
  const get = spawnCli(["get", pkg, "--peer", seedAddress, "-o", out, "--linger", "0", "--concurrency", String(CONCURRENCY)]);
  while ((await verifiedChunks(pkg, `${out}.btstate`)).count < target && get.proc.exitCode === null) await Bun.sleep(3);
  get.proc.kill("SIGKILL");
  await get.done;
  return (await verifiedChunks(pkg, `${out}.btstate`)).count;
}

describe("crashes", () => {
  test("kill -9 at 20 random points: the bytes end identical, and each kill costs at most the in-flight window", async () => {
    const seed = await startSeed([pkg, "--max-upload-rate", "24M"]);
    const out = join(dir, "killed.bin");
    const points = Array.from({ length: 20 }, () => 2 + Math.floor(Math.random() * (CHUNKS - 4))).sort((a, b) => a - b);
    const reached: number[] = [];
    for (const point of points) reached.push(await killAt(seed.address, out, Math.max(point, (reached.at(-1) ?? 0) + 1)));
    const last = await runCli(["get", pkg, "--peer", seed.address, "-o", out, "--linger", "0"]);
    if (!last.stdout.startsWith("VERIFY OK")) console.error(`final get failed (exit ${last.code}):\n${last.stderr}`);
    expect(last.stdout).toStartWith("VERIFY OK");
    expect(readFileSync(out)).toEqual(Buffer.from(payload));
    const uploaded = seedUploaded((await seed.stop()).stderr);
    const perKill = (uploaded - SIZE) / points.length;
    // The window: the requests in flight to the one peer, whole chunks each.
    const window = CONCURRENCY * CHUNK;
    console.log(`kills: ${points.length}; re-downloaded per kill: ${(perKill / 1024).toFixed(0)} KiB (window ${window / 1024} KiB); progress at each kill: ${reached.join(",")}`);
    expect(perKill).toBeLessThanOrEqual(window);
    // Nothing recorded was ever lost: progress never went backwards across kills.
    expect(reached.every((n, i) => i === 0 || n >= reached[i - 1]!)).toBe(true);
  });

  test.each([
    ["a corrupted", (state: string) => {
      const bytes = readFileSync(state);
      bytes[bytes.length - 40]! ^= 0xff;
      writeFileSync(state, bytes);
    }, /problem="checksum mismatch" action="re-verifying all data"/],
    ["a truncated", (state: string) => truncateSync(state, 20), /problem="not a bytetide state file" action="re-verifying all data"/],
  ] as const)("%s state file is detected: the data is re-verified, not trusted, and the get completes", async (_, damage, logged) => {
    const seed = await startSeed([pkg, "--max-upload-rate", "24M"]);
    const out = join(dir, `damaged-${Math.random().toString(36).slice(2)}.bin`);
    const reached = await killAt(seed.address, out, 40);
    damage(`${out}.btstate`);
    const r = await runCli(["get", pkg, "--peer", seed.address, "-o", out, "--linger", "0"]);
    expect(r.stderr).toMatch(logged);
    expect(r.stdout).toStartWith("VERIFY OK");
    expect(readFileSync(out)).toEqual(Buffer.from(payload));
    // What the re-verification found good was kept: across both runs the seed sent the
    // package once plus at most the window lost at the kill, not the 40 chunks again.
    const uploaded = seedUploaded((await seed.stop()).stderr);
    expect(reached).toBeGreaterThanOrEqual(40);
    expect(uploaded).toBeLessThanOrEqual(SIZE + CONCURRENCY * CHUNK);
  });
});

describe("a seed killed mid-transfer", () => {
  test("with no other peer, the get waits, and resumes by itself when the seed is back on its address", async () => {
    const first = await startSeed([pkg, "--max-upload-rate", "12M"]);
    const port = first.port;
    const out = join(dir, "seed-comes-back.bin");
    const get = spawnCli(["get", pkg, "--peer", first.address, "-o", out, "--linger", "0", "--retry-for", "20s"]);
    while ((await verifiedChunks(pkg, `${out}.btstate`)).count < 30) await Bun.sleep(5);
    first.proc.kill("SIGKILL");
    await Bun.sleep(1500);
    expect(get.proc.exitCode).toBeNull();
    const second = await startSeed([pkg, "--listen", `127.0.0.1:${port}`]);
    const r = await get.done;
    await second.stop();
    expect(r.stderr).toContain(`peer-disconnected peer=127.0.0.1:${port}`);
    expect(r.stdout).toStartWith("VERIFY OK");
    expect(readFileSync(out)).toEqual(Buffer.from(payload));
  });

  test("if it stays away, the get reports the loss clearly (exit 8), and a rerun resumes once it is back", async () => {
    const first = await startSeed([pkg, "--max-upload-rate", "12M"]);
    const port = first.port;
    const out = join(dir, "seed-stays-away.bin");
    const get = spawnCli(["get", pkg, "--peer", first.address, "-o", out, "--linger", "0", "--retry-for", "1s"]);
    while ((await verifiedChunks(pkg, `${out}.btstate`)).count < 30) await Bun.sleep(5);
    first.proc.kill("SIGKILL");
    const lost = await get.done;
    expect(lost.code).toBe(8);
    expect(lost.stderr.trim().split("\n").at(-1)).toMatch(new RegExp(`no peer could supply the \\d+ missing chunks \\(127\\.0\\.0\\.1:${port}: .*\\); progress saved: \\d+ of ${CHUNKS} chunks verified`));
    const saved = await verifiedChunks(pkg, `${out}.btstate`);
    expect(saved.clean).toBe(true);
    const second = await startSeed([pkg, "--listen", `127.0.0.1:${port}`]);
    const rerun = await runCli(["get", pkg, "--peer", `127.0.0.1:${port}`, "-o", out, "--linger", "0"]);
    await second.stop();
    expect(rerun.stdout).toStartWith("VERIFY OK");
    expect(rerun.stderr).not.toContain("resume-check");
    expect(readFileSync(out)).toEqual(Buffer.from(payload));
  });
});
