import { expect, test } from "bun:test";
import { writeFileSync } from "node:fs";
import { join } from "node:path";
import { TokenBucket } from "../../src/util/token-bucket.ts";
import { runCli } from "../helpers/cli.ts";
import { seededBytes, tempDir } from "../helpers/fixtures.ts";
import { startSeed } from "../helpers/peers.ts";

const dir = tempDir("bytetide-rates");
const SIZE = 24 * 1024 * 1024;
writeFileSync(join(dir, "p.bin"), seededBytes(SIZE, 6));
await runCli(["make", join(dir, "p.bin"), "--chunk-size", "256KiB"]);
const pkg = join(dir, "p.bin.bpkg");
const RATE = 8_000_000;

/** Bytes per second of a completed get, from its own `done` line (transfer time only). */
function rateOf(stderr: string): number {
  const [, bytes, seconds] = / done bytes=(\d+) seconds=([\d.]+)/.exec(stderr)!;
  return Number(bytes) / Number(seconds);
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

test("serve --max-upload-rate 8M: the measured rate stays within 10% over a few seconds", async () => {
  const seed = await startSeed([pkg, "--max-upload-rate", String(RATE)]);
  const r = await runCli(["get", pkg, "--peer", seed.address, "-o", join(dir, "up.bin"), "--linger", "0"]);
  await seed.stop();
  expect(r.stdout).toStartWith("VERIFY OK");
  const rate = rateOf(r.stderr);
  console.log(`upload limit ${RATE} B/s, measured ${rate.toFixed(0)} B/s (${((rate / RATE - 1) * 100).toFixed(1)}%)`);
  expect(Math.abs(rate / RATE - 1)).toBeLessThanOrEqual(0.1);
});

test("get --max-download-rate 8M: the measured rate stays within 10% over a few seconds", async () => {
  const seed = await startSeed([pkg]);
  const r = await runCli(["get", pkg, "--peer", seed.address, "-o", join(dir, "down.bin"), "--linger", "0", "--max-download-rate", "8M"]);
  await seed.stop();
  expect(r.stdout).toStartWith("VERIFY OK");
  const rate = rateOf(r.stderr);
  console.log(`download limit ${RATE} B/s, measured ${rate.toFixed(0)} B/s (${((rate / RATE - 1) * 100).toFixed(1)}%)`);
  expect(Math.abs(rate / RATE - 1)).toBeLessThanOrEqual(0.1);
});
