import { expect, test } from "bun:test";
import { NET } from "../../src/config.ts";
import { type LingerState, lingerOver } from "../../src/swarm/linger.ts";

const done: LingerState = { now: 0, completedAt: 0, maxMs: NET.defaultLingerMs, lastRequestAt: -Infinity, lastHaveAt: -Infinity, uploading: false };
const at = (now: number, s: Partial<LingerState> = {}) => lingerOver({ ...done, ...s, now });

test("a get nobody needs leaves NET.lingerIdleMs after completing", () => {
  expect(at(NET.lingerIdleMs - 1)).toBe(false);
  expect(at(NET.lingerIdleMs)).toBe(true);
});

test("a request keeps it serving, and so does a peer announcing a chunk: it is still downloading and may ask next", () => {
  expect(at(NET.lingerIdleMs + 500, { lastRequestAt: 1_000 })).toBe(false);
  expect(at(NET.lingerIdleMs + 500, { lastHaveAt: 1_000 })).toBe(false);
  expect(at(NET.lingerIdleMs + 1_000, { lastHaveAt: 1_000 })).toBe(true);
});

test("nothing ends it while a chunk is being sent, except --linger", () => {
  expect(at(NET.lingerIdleMs * 10, { uploading: true })).toBe(false);
  expect(at(NET.defaultLingerMs, { uploading: true, lastHaveAt: NET.defaultLingerMs })).toBe(true);
});

test("--linger 0 ends it at once; --seed (no bound) never", () => {
  expect(at(0, { maxMs: 0 })).toBe(true);
  expect(at(10 * NET.defaultLingerMs, { maxMs: Infinity })).toBe(false);
});
