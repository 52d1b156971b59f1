import { expect, test } from "bun:test";
import { GiveUpRule, type Outlook } from "../../src/swarm/give-up.ts";

const RETRY_FOR_MS = 15_000;
const stuck: Outlook = { peers: 1, dialable: true, moving: false };
const moving: Outlook = { ...stuck, moving: true };

test("gives up at once with no peer connected and no address that may lead to one", () => {
  expect(new GiveUpRule(RETRY_FOR_MS).check({ peers: 0, dialable: false, moving: false }, 0)).toBe(true);
});

test("keeps going while a known address may still answer, or a peer is connected", () => {
  const rule = new GiveUpRule(RETRY_FOR_MS);
  expect(rule.check({ peers: 0, dialable: true, moving: false }, 0)).toBe(false);
  expect(rule.check({ peers: 1, dialable: false, moving: true }, 1)).toBe(false);
});

test("with nothing moving, gives up only past retryForMs: not at exactly retryForMs", () => {
  const rule = new GiveUpRule(RETRY_FOR_MS);
  expect(rule.check(stuck, 1_000)).toBe(false);
  expect(rule.check(stuck, 1_000 + RETRY_FOR_MS)).toBe(false);
  expect(rule.check(stuck, 1_000 + RETRY_FOR_MS + 1)).toBe(true);
});

test("anything moving restarts the wait", () => {
  const rule = new GiveUpRule(RETRY_FOR_MS);
  expect(rule.check(stuck, 0)).toBe(false);
  expect(rule.check(moving, RETRY_FOR_MS)).toBe(false);
  expect(rule.check(stuck, RETRY_FOR_MS + 1)).toBe(false);
  expect(rule.check(stuck, 2 * RETRY_FOR_MS + 1)).toBe(false);
  expect(rule.check(stuck, 2 * RETRY_FOR_MS + 2)).toBe(true);
});

test("with every address gone, a stuck download stops without waiting out retryForMs", () => {
  const rule = new GiveUpRule(RETRY_FOR_MS);
  expect(rule.check(stuck, 0)).toBe(false);
  expect(rule.check({ peers: 0, dialable: false, moving: false }, 1)).toBe(true);
});
