import { expect, test } from "bun:test";
import { SLOW_INLINE_MS, SLOW_TO_GO_COLD, WarmDisk } from "../../src/storage/warm-disk.ts";

/** A WarmDisk on a clock the test moves; `operation(ms)` is an inline operation that takes ms. */
function diskOnFakeClock() {
  let now = 0;
  const disk = new WarmDisk(() => now);
  return {
    disk,
    operation: (ms: number) => disk.timed(() => (now += ms)),
    wait: (ms: number) => (now += ms),
  };
}

const SLOW = SLOW_INLINE_MS + 1;

test("fast operations keep the disk warm; a few slow ones among many fast ones (a descheduled thread) do not make it cold", () => {
  const { disk, operation } = diskOnFakeClock();
  for (let i = 0; i < 100; i++) operation(i % 10 === 0 ? SLOW : 0.01);
  expect(disk.warm).toBe(true);
});

test("several slow operations close together send everything to the pool for a second, then warm again", () => {
  const { disk, operation, wait } = diskOnFakeClock();
  for (let i = 0; i < SLOW_TO_GO_COLD - 1; i++) operation(SLOW);
  expect(disk.warm).toBe(true);
  operation(SLOW);
  expect(disk.warm).toBe(false);
  wait(999);
  expect(disk.warm).toBe(false);
  wait(1);
  expect(disk.warm).toBe(true);
});

test("a disk that stays cold is probed half as often each time, up to once a minute; a fast run starts over", () => {
  const { disk, operation, wait } = diskOnFakeClock();
  const coldFor = (): number => {
    for (let i = 0; i < SLOW_TO_GO_COLD; i++) operation(SLOW);
    let waited = 0;
    for (; !disk.warm; waited += 100) wait(100);
    return waited;
  };
  const backOffs = Array.from({ length: 9 }, coldFor);
  expect(backOffs.map((ms) => Math.round(ms / 100) * 100)).toEqual([1000, 2000, 4000, 8000, 16000, 32000, 60000, 60000, 60000]);
  for (let i = 0; i < 16; i++) operation(0.01);
  expect(Math.round(coldFor() / 100) * 100).toBe(1000);
});

test("a slow operation that fails counts as slow, and its error reaches the caller", () => {
  const { disk, wait } = diskOnFakeClock();
  const slowFailure = () => {
    wait(SLOW);
    throw new Error("EIO");
  };
  for (let i = 0; i < SLOW_TO_GO_COLD; i++) expect(() => disk.timed(slowFailure)).toThrow("EIO");
  expect(disk.warm).toBe(false);
});
