import { describe, expect, test } from "bun:test";
import { SENT_RECENTLY_MS, shouldServe, UploadLedger } from "../../src/swarm/superseed.ts";
import { SeedSession } from "../helpers/session-swarm.ts";

const base = { seeding: true, uploadsStarted: 1, uploadsInProgress: 0, sentRecently: false, downloaderHasIt: false, timesSentElsewhere: 0, otherPeers: 3, uplinkIdle: false };

test("a node still downloading shares every chunk it has", () => {
  expect(shouldServe({ ...base, seeding: false, downloaderHasIt: true, uploadsInProgress: 3 })).toBe(true);
});

test("a seed hands out a chunk the first time it is asked", () => {
  expect(shouldServe({ ...base, uploadsStarted: 0, downloaderHasIt: true })).toBe(true);
});

test("a seed sends later askers to the peers that have the chunk, or are getting it", () => {
  expect(shouldServe({ ...base, downloaderHasIt: true })).toBe(false);
  expect(shouldServe({ ...base, uploadsInProgress: 1 })).toBe(false);
  // Its recipient has not announced it yet: wait for that HAVE rather than send a second copy.
  expect(shouldServe({ ...base, sentRecently: true })).toBe(false);
});

test("a seed serves again when its copy went nowhere (no holder, nothing in flight)", () => {
  expect(shouldServe(base)).toBe(true);
});

test("a peer sent elsewhere eight times is served anyway: it cannot reach a holder", () => {
  expect(shouldServe({ ...base, downloaderHasIt: true, timesSentElsewhere: 7 })).toBe(false);
  expect(shouldServe({ ...base, downloaderHasIt: true, timesSentElsewhere: 8 })).toBe(true);
});

test("a seed whose uplink is idle serves a chunk others have: sending the asker elsewhere would waste it", () => {
  expect(shouldServe({ ...base, downloaderHasIt: true, sentRecently: true, uplinkIdle: true })).toBe(true);
});

test("a seed with a single peer serves it whatever it asks: there is nowhere else", () => {
  expect(shouldServe({ ...base, sentRecently: true, uploadsInProgress: 1, otherPeers: 0 })).toBe(true);
});

describe("the upload ledger", () => {
  test("counts grants per chunk, and uploads in progress until they end", () => {
    const ledger = new UploadLedger(2);
    ledger.granted(1);
    ledger.granted(1);
    expect(ledger.of(1, 0)).toMatchObject({ uploadsStarted: 2, uploadsInProgress: 2 });
    ledger.ended(1, 0);
    expect(ledger.of(1, 0)).toMatchObject({ uploadsStarted: 2, uploadsInProgress: 1 });
    expect(ledger.of(0, 0)).toEqual({ uploadsStarted: 0, uploadsInProgress: 0, sentRecently: false });
  });

  test("a copy counts as sent recently for SENT_RECENTLY_MS after its upload ended, and not at exactly that", () => {
    const ledger = new UploadLedger(1);
    ledger.granted(0);
    ledger.ended(0, 10_000);
    expect(ledger.of(0, 10_000 + SENT_RECENTLY_MS - 1).sentRecently).toBe(true);
    expect(ledger.of(0, 10_000 + SENT_RECENTLY_MS).sentRecently).toBe(false);
  });

  test("a chunk never uploaded was not sent recently, even at time zero", () => {
    expect(new UploadLedger(1).of(0, 0).sentRecently).toBe(false);
  });
});

test("to a near asker, a seed counts only copies within its zone as elsewhere: one sent to another zone is no help", () => {
  const seed = new SeedSession(4);
  seed.connect("far", true);
  seed.connect("near-1");
  seed.connect("near-2");
  expect(seed.ask("far", 0)).toBe("serve");
  // The far copy is in flight, yet a near asker is served: it could not fetch it from there.
  expect(seed.ask("near-1", 0)).toBe("serve");
  // The near copy in flight is elsewhere for the next near asker.
  expect(seed.ask("near-2", 0)).toBe("elsewhere");
});
