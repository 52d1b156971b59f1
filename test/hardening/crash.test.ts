import { describe, expect, test } from "bun:test";
import { readFileSync, truncateSync, writeFileSync } from "node:fs";
import { join } from "node:path";
import { LIMITS } from "../../src/config.ts";
import { makePackage, runCli } from "../helpers/cli.ts";
import { replayable, seededBytes, tempDir } from "../helpers/fixtures.ts";
import { spawnCli, startSeed, verifiedChunks, waitForVerified } from "../helpers/peers.ts";

const dir = tempDir("bytetide-crash");
const CHUNK = 256 * 1024;
const SIZE = 48 * 1024 * 1024;
const CHUNKS = SIZE / CHUNK;
const CONCURRENCY = 8;
const SEED_RATE = 24 * 1024 * 1024;
/** serve's upload bucket holds a tenth of a second at its rate (serve.ts, uploadBucket). */
const SEED_BURST_MS = 100;
/** Chunks the seed can deliver before a progress record is written: its burst, then one record interval's worth. */
const UNRECORDED_AT_MOST = Math.ceil((SEED_RATE * (SEED_BURST_MS + LIMITS.progressRecordMs)) / 1000 / CHUNK);
const payload = seededBytes(SIZE, 2024);
writeFileSync(join(dir, "data.bin"), payload);
await makePackage(join(dir, "data.bin"), ["--chunk-size", "256KiB"]);
const pkg = join(dir, "data.bin.bpkg");
const seedUploaded = (stderr: string) => Number(/ uploaded package=\S+ bytes=(\d+)/.exec(stderr)?.[1] ?? NaN);

/** A get's first line names how many verified chunks it starts from: those kept from earlier runs. */
const START = / get start .*chunks_verified=(\d+)/;
const keptBy = (stderr: string) => Number(START.exec(stderr)?.[1] ?? NaN);

/**
 * Starts a get and kill -9s it once its progress file records at least `target` chunks.
 * Returns how many chunks it started from and how many its progress file records after the kill.
 */
async function killAt(seedAddress: string, out: string, target: number): Promise<{ kept: number; recorded: number }> {
  const get = spawnCli(["get", pkg, "--peer", seedAddress, "-o", out, "--linger", "0", "--concurrency", String(CONCURRENCY)]);
  const kept = keptBy((await get.waitFor(START, 20_000, "stderr"))[0]);
  await waitForVerified(get, pkg, `${out}.btstate`, target);
  get.proc.kill("SIGKILL");
  await get.done;
  return { kept, recorded: (await verifiedChunks(pkg, `${out}.btstate`)).count };
}

describe("crashes", () => {
  test("kill -9 at up to 20 random points: each run keeps every chunk recorded before the kill, and the bytes end identical", () =>
    replayable(async (random) => {
      const seed = await startSeed([pkg, "--max-upload-rate", `${SEED_RATE}`]);
      const out = join(dir, "killed.bin");
      const points = Array.from({ length: 20 }, () => 2 + Math.floor(random() * (CHUNKS - 4))).sort((a, b) => a - b);
      const runs: { kept: number; recorded: number }[] = [];
      for (const point of points) {
        // A kill that recorded more than the next point moves that point on. Near the end the
        // get may finish before its record is written and it can be killed: the kills stop
        // a few chunks plus one record interval's worth short of it.
        const target = Math.max(point, (runs.at(-1)?.recorded ?? 0) + 1);
        if (target > CHUNKS - 3 - UNRECORDED_AT_MOST) break;
        runs.push(await killAt(seed.address, out, target));
      }
      const last = await runCli(["get", pkg, "--peer", seed.address, "-o", out, "--linger", "0"]);
      expect(last.stdout, `final get failed (exit ${last.code}):\n${last.stderr}`).toStartWith("VERIFY OK");
      expect(readFileSync(out)).toEqual(Buffer.from(payload));
      // Each run re-verified what the killed one recorded and kept all of it: a resume
      // fetches again only what was in flight at the kill. (How much that is depends on
      // how far verification and the disk lag behind the network, so it is not asserted.)
      expect(runs.length).toBeGreaterThan(0);
      const recorded = runs.map((r) => r.recorded);
      expect([...runs.slice(1).map((r) => r.kept), keptBy(last.stderr)]).toEqual(recorded);
      const uploaded = seedUploaded((await seed.stop()).stderr);
      const perKill = (uploaded - SIZE) / runs.length;
      console.log(`kills: ${runs.length}; in flight per kill: ${(perKill / 1024).toFixed(0)} KiB (requests alone: ${(CONCURRENCY * CHUNK) / 1024} KiB); recorded at each kill: ${recorded.join(",")}`);
    }));

  test.each([
    // The worst flip: the killed run's file claims to be clean. Its checksum, last written
    // before any chunk was recorded, gives it away.
    ["a corrupted", (state: string) => {
      const bytes = readFileSync(state);
      bytes[10]! ^= 0x01;
      writeFileSync(state, bytes);
    }, /problem="checksum mismatch" action="re-verifying all data"/],
    ["a truncated", (state: string) => truncateSync(state, 20), /problem="not a bytetide state file" action="re-verifying all data"/],
  ] as const)("%s state file is detected: the data is re-verified, not trusted, and the get completes", async (label, damage, logged) => {
    const seed = await startSeed([pkg, "--max-upload-rate", "24M"]);
    const out = join(dir, `${label.replace(/\W+/g, "-")}-state.bin`);
    const { recorded } = await killAt(seed.address, out, 40);
    damage(`${out}.btstate`);
    const r = await runCli(["get", pkg, "--peer", seed.address, "-o", out, "--linger", "0"]);
    await seed.stop();
    expect(r.stderr).toMatch(logged);
    expect(r.stdout).toStartWith("VERIFY OK");
    expect(readFileSync(out)).toEqual(Buffer.from(payload));
    // What the re-verification found good was kept, not fetched again: at least every chunk
    // the damaged file had recorded (chunks written but not yet recorded may be kept too).
    expect(recorded).toBeGreaterThanOrEqual(40);
    expect(keptBy(r.stderr)).toBeGreaterThanOrEqual(recorded);
  });
});

describe("a seed killed mid-transfer", () => {
  test("with no other peer, the get waits, and resumes by itself when the seed is back on its address", async () => {
    const first = await startSeed([pkg, "--max-upload-rate", "12M"]);
    const port = first.port;
    const out = join(dir, "seed-comes-back.bin");
    const get = spawnCli(["get", pkg, "--peer", first.address, "-o", out, "--linger", "0", "--retry-for", "20s"]);
    await waitForVerified(get, pkg, `${out}.btstate`, 30);
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
    await waitForVerified(get, pkg, `${out}.btstate`, 30);
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
