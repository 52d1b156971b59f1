import { expect, test } from "bun:test";
import { NET } from "../../src/config.ts";
import { WIRE_ERRORS } from "../../src/protocol/codes.ts";
import { CHECK_AHEAD, FAR_UPLOAD_SLOTS, UploadSession } from "../../src/swarm/upload-session.ts";
import { SeedSession, SessionSwarm } from "../helpers/session-swarm.ts";

/** A seed with `peers` connected, p0, p1, ..., each of which asks for a chunk of its own (p0 for 0, ...). */
function seedAskedBy(peers: number) {
  const seed = new SeedSession(64);
  const names = Array.from({ length: peers }, (_, i) => `p${i}`);
  for (const name of names) seed.connect(name);
  names.forEach((name, i) => expect(seed.ask(name, i)).toBe("serve"));
  return { seed, names };
}

test("at most NET.uploadSlots chunks are sent at once; the next peer starts when one ends", () => {
  const { seed, names } = seedAskedBy(NET.uploadSlots + 2);
  expect(seed.started()).toEqual(names.slice(0, NET.uploadSlots));
  expect(seed.upload.sending).toBe(NET.uploadSlots);
  seed.deliver("p0", 0);
  expect(seed.started().slice(NET.uploadSlots)).toEqual([names[NET.uploadSlots]!]);
});

test("a connection that just finished a chunk goes behind those waiting, so a long queue cannot keep a slot", () => {
  const { seed, names } = seedAskedBy(NET.uploadSlots + 1);
  const waiting = names.at(-1)!;
  expect(seed.ask("p0", 40)).toBe("serve");
  // p0 finishes and has its next chunk queued: the slot is the waiter's.
  seed.deliver("p0", 0);
  expect(seed.started().at(-1)).toBe(waiting);
  seed.deliver("p1", 1);
  expect(seed.uploads.at(-1)).toEqual({ type: "upload", peer: "p0", chunk: 40 });
});

test("a waiting peer that disconnects, or cancels all it asked for, no longer holds the others back", () => {
  const { seed, names } = seedAskedBy(NET.uploadSlots + 3);
  const [gone, cancelled, other] = names.slice(NET.uploadSlots);
  seed.disconnect(gone!);
  seed.cancel(cancelled!, NET.uploadSlots + 1);
  seed.deliver("p0", 0);
  expect(seed.started().slice(NET.uploadSlots)).toEqual([other!]);
});

test("CANCEL of the chunk being sent stops it, and its slot goes to the next waiting peer", () => {
  const { seed, names } = seedAskedBy(NET.uploadSlots + 1);
  seed.cancel("p3", 3);
  expect(seed.uploads.slice(-2)).toEqual([
    { type: "stop-upload", peer: "p3", chunk: 3 },
    { type: "upload", peer: names.at(-1)!, chunk: NET.uploadSlots },
  ]);
  // What the peer no longer wants ends nothing twice: a late report of it changes no slot.
  seed.deliver("p3", 3);
  expect(seed.upload.sending).toBe(NET.uploadSlots);
});

test("peers in other zones hold at most FAR_UPLOAD_SLOTS slots, and waiting for one does not hold back a near peer", () => {
  const seed = new SeedSession(8);
  const far = Array.from({ length: FAR_UPLOAD_SLOTS + 1 }, (_, i) => `far${i}`);
  for (const name of far) seed.connect(name, true);
  seed.connect("near");
  far.forEach((name, i) => seed.ask(name, i));
  expect(seed.started()).toEqual(far.slice(0, FAR_UPLOAD_SLOTS));
  seed.ask("near", 7);
  expect(seed.started().at(-1)).toBe("near");
  // A far slot given back is one a far peer may take again.
  seed.deliver(far[0]!, 0);
  expect(seed.started().at(-1)).toBe(far.at(-1)!);
});

test(`the next ${CHECK_AHEAD} chunks queued behind the one being sent are checked ahead, and each that moves up into them`, () => {
  const seed = new SeedSession(16);
  seed.connect("a");
  for (let chunk = 0; chunk < 8; chunk++) seed.ask("a", chunk);
  expect(seed.uploads).toEqual([{ type: "upload", peer: "a", chunk: 0 }, ...[1, 2, 3, 4].map((chunk) => ({ type: "check" as const, peer: "a", chunk }))]);
  seed.deliver("a", 0);
  expect(seed.uploads.slice(-2)).toEqual([
    { type: "upload", peer: "a", chunk: 1 },
    { type: "check", peer: "a", chunk: 5 },
  ]);
});

test("a chunk found damaged when its turn came is refused with REJECT(DAMAGED), and the peer's next chunk goes", () => {
  const seed = new SeedSession(4);
  seed.connect("a");
  seed.ask("a", 0);
  seed.ask("a", 1);
  const actions = seed.damaged("a", 0);
  expect(actions.filter((a) => a.type === "send").map((a) => a.type === "send" && a.message)).toEqual([{ type: "REJECT", index: 0, code: WIRE_ERRORS.DAMAGED }]);
  expect(seed.uploads.at(-1)).toEqual({ type: "upload", peer: "a", chunk: 1 });
});

test("a REQUEST beyond the package closes the connection with OUT_OF_RANGE", () => {
  const seed = new SeedSession(4);
  seed.connect("a");
  seed.ask("a", 4);
  expect(seed.uploads).toEqual([{ type: "close", peer: "a", code: WIRE_ERRORS.OUT_OF_RANGE }]);
});

test("a flood of REQUESTs queued at once ends in TOO_MANY_REQUESTS; a pipeline as deep as a get's never does", () => {
  const seed = new SeedSession(NET.maxQueuedRequestsPerPeer + 10);
  seed.connect("deep");
  seed.connect("flood");
  for (let c = 0; c < NET.maxRequestsPerPeer; c++) seed.ask("deep", c);
  for (let c = 0; c < NET.maxQueuedRequestsPerPeer + 10; c++) seed.ask("flood", c);
  const closes = seed.uploads.filter((u) => u.type === "close");
  expect(closes.length).toBeGreaterThan(0);
  for (const close of closes) expect(close).toEqual({ type: "close", peer: "flood", code: WIRE_ERRORS.TOO_MANY_REQUESTS });
  // The first came with the request that made the queue NET.maxQueuedRequestsPerPeer long.
  expect(seed.answers.filter((a) => a.peer === "flood").length - closes.length).toBe(NET.maxQueuedRequestsPerPeer);
});

test("on the session's clock: declines spread over more than a second are no flood; the same number within one second is", () => {
  const declines = (msBetweenRounds: number, rounds: number) => {
    const leech = new SessionSwarm({ chunks: 4 });
    const upload = new UploadSession(leech.session, false, () => false);
    upload.peerConnected("a", "a");
    const half = NET.maxQueuedRequestsPerPeer / 2 + 1;
    const codes: number[] = [];
    for (let round = 0; round < rounds; round++) {
      for (let i = 0; i < half; i++) {
        const actions = upload.requested("a", i % 4);
        if (actions.some((a) => a.type === "upload")) throw new Error("a chunk it lacks was served");
        for (const a of actions) if (a.type === "close") codes.push(a.code);
      }
      leech.now += msBetweenRounds;
    }
    return codes;
  };
  expect(declines(1001, 4)).toEqual([]);
  const flood = declines(400, 2);
  expect(flood.length).toBeGreaterThan(0);
  expect(new Set(flood)).toEqual(new Set([WIRE_ERRORS.TOO_MANY_REQUESTS]));
});
