import { expect, test } from "bun:test";
import { STALL_MS, StallWatch } from "../../src/swarm/stall.ts";

test("a peer with requests open and no data for exactly STALL_MS has not stalled yet; just past it, it has", () => {
  expect(new StallWatch(0).stalled(1, STALL_MS)).toBe(false);
  expect(new StallWatch(0).stalled(1, STALL_MS + 1)).toBe(true);
});

test("a peer with no requests open never stalls, however long it is silent", () => {
  expect(new StallWatch(0).stalled(0, 10 * STALL_MS)).toBe(false);
});

test("each block of data restarts the wait", () => {
  const watch = new StallWatch(0);
  watch.progressed(4_000);
  expect(watch.stalled(3, 4_000 + STALL_MS)).toBe(false);
  expect(watch.stalled(3, 4_000 + STALL_MS + 1)).toBe(true);
});

test("the wait starts when requests are opened after none: a peer not asked is not slow", () => {
  const watch = new StallWatch(0);
  watch.opened(0, 60_000);
  expect(watch.stalled(1, 60_000 + STALL_MS)).toBe(false);
  expect(watch.stalled(1, 60_000 + STALL_MS + 1)).toBe(true);
});

test("more requests opened while some are open do not restart the wait", () => {
  const watch = new StallWatch(0);
  watch.opened(2, 4_000);
  expect(watch.stalled(3, STALL_MS + 1)).toBe(true);
});

test("after a stall, the slot the peer keeps gets a full STALL_MS before the next", () => {
  const watch = new StallWatch(0);
  const at = STALL_MS + 1;
  expect(watch.stalled(4, at)).toBe(true);
  expect(watch.stalled(1, at + STALL_MS)).toBe(false);
  expect(watch.stalled(1, at + STALL_MS + 1)).toBe(true);
});
