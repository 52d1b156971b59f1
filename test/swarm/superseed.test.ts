import { expect, test } from "bun:test";
import { shouldServe } from "../../src/swarm/superseed.ts";

const base = { seeding: true, uploadsStarted: 1, uploadsInProgress: 0, othersHaveIt: false, timesSentElsewhere: 0 };

test("a node still downloading shares every chunk it has", () => {
  expect(shouldServe({ ...base, seeding: false, othersHaveIt: true, uploadsInProgress: 3 })).toBe(true);
});

test("a seed hands out a chunk the first time it is asked", () => {
  expect(shouldServe({ ...base, uploadsStarted: 0, othersHaveIt: true })).toBe(true);
});

test("a seed sends later askers to the peers that have the chunk, or are getting it", () => {
  expect(shouldServe({ ...base, othersHaveIt: true })).toBe(false);
  expect(shouldServe({ ...base, uploadsInProgress: 1 })).toBe(false);
});

test("a seed serves again when its copy went nowhere (no holder, nothing in flight)", () => {
  expect(shouldServe(base)).toBe(true);
});

test("a peer sent elsewhere three times is served anyway: it cannot reach a holder", () => {
  expect(shouldServe({ ...base, othersHaveIt: true, timesSentElsewhere: 3 })).toBe(true);
});
