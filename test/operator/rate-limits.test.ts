import { expect, test } from "bun:test";
import { writeFileSync } from "node:fs";
import { join } from "node:path";
import { TokenBucket } from "../../src/util/token-bucket.ts";
import { type CliResult, makePackage, runCli } from "../helpers/cli.ts";
import { seededBytes, tempDir } from "../helpers/fixtures.ts";
import { startSeed } from "../helpers/peers.ts";

const dir = tempDir("bytetide-rates");
const RATE = 4_000_000;
// About six seconds per limited transfer: long enough that start-up, the free first burst
// (a bucket starts full) and a busy machine's scheduling delays move the average only a little.
const SIZE = 24 * 1024 * 1024;
writeFileSync(join(dir, "p.bin"), seededBytes(SIZE, 6));
await makePackage(join(dir, "p.bin"), ["--chunk-size", "256KiB"]);
const pkg = join(dir, "p.bin.bpkg");
// A limiter may only slow a transfer, so the ceiling holds on any machine and can be tight:
// the limit, plus room for the first burst. Other work on a loaded machine slows a transfer
// too (with both cores busy, --max-download-rate was measured 12-22% under its limit), so the
// floor is loose; it still catches a limiter that throttles to a fraction of the limit.
const CEILING = 1.1 * RATE;
const FLOOR = 0.6 * RATE;

/** Bytes per second of a completed get, from its own `done` line (transfer time only). */
function rateOf(r: CliResult): number {
  expect(r.stdout, `the get failed (exit ${r.code}):\n${r.stderr}`).toStartWith("VERIFY OK");
  const [, bytes, seconds] = / done bytes=(\d+) seconds=([\d.]+)/.exec(r.stderr) ?? [];
  expect(bytes, `no done line in the get's log:\n${r.stderr}`).toBeDefined();
  return Number(bytes) / Number(seconds);
}

function expectLimited(rate: number, what: string): void {
  console.log(`${what} limit ${RATE} B/s, measured ${rate.toFixed(0)} B/s (${((rate / RATE - 1) * 100).toFixed(1)}%)`);
  expect(rate).toBeLessThanOrEqual(CEILING);
  expect(rate).toBeGreaterThanOrEqual(FLOOR);
}

test("a token bucket grants `rate` bytes per second on average, in bursts of at most `burst`", () => {
  let now = 0;
  const bucket = new TokenBucket(1000, 100, () => now);
  expect(bucket.take(100)).toBe(0);
  expect(bucket.take(50)).toBe(50);
  now += 50;
  expect(bucket.take(50)).toBe(0);
  now += 10_000;
  expect(bucket.affordable(30)).toBe(3);
});

test("without a limit, the same get runs faster than the ceiling, so the limit tests below can fail", async () => {
  const seed = await startSeed([pkg]);
  const r = await runCli(["get", pkg, "--peer", seed.address, "-o", join(dir, "unlimited.bin"), "--linger", "0"]);
  await seed.stop();
  const rate = rateOf(r);
  console.log(`no limit: measured ${rate.toFixed(0)} B/s`);
  expect(rate).toBeGreaterThan(CEILING);
});

test("serve --max-upload-rate 4M: a 24 MiB get averages at most the limit (+10% for the first burst), and at least 60% of it", async () => {
  const seed = await startSeed([pkg, "--max-upload-rate", String(RATE)]);
  const r = await runCli(["get", pkg, "--peer", seed.address, "-o", join(dir, "up.bin"), "--linger", "0"]);
  await seed.stop();
  expectLimited(rateOf(r), "upload");
});

test("get --max-download-rate 4M: a 24 MiB get averages at most the limit (+10% for the first burst), and at least 60% of it", async () => {
  const seed = await startSeed([pkg]);
  const r = await runCli(["get", pkg, "--peer", seed.address, "-o", join(dir, "down.bin"), "--linger", "0", "--max-download-rate", String(RATE)]);
  await seed.stop();
  expectLimited(rateOf(r), "download");
});
