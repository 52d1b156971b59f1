import { expect, test } from "bun:test";
import { NET } from "../../src/config.ts";
import { FAR_UPLOAD_SLOTS } from "../../src/swarm/upload-session.ts";
import { SeedSession } from "../helpers/session-swarm.ts";

/** A seed's upload session with `peers` connected, p0, p1, ... */
function seedWith(peers: number) {
  const seed = new SeedSession(4);
  const names = Array.from({ length: peers }, (_, i) => `p${i}`);
  for (const name of names) seed.connect(name);
  return { upload: seed.upload, names };
}

test("at most NET.uploadSlots chunks are sent at once; the next connection waits until one is released", () => {
  const { upload, names } = seedWith(NET.uploadSlots + 2);
  const sending = names.slice(0, NET.uploadSlots);
  for (const name of sending) expect(upload.takeSlot(name)).toBe(true);
  expect(upload.sending).toBe(NET.uploadSlots);
  const [next, after] = names.slice(NET.uploadSlots);
  expect(upload.takeSlot(next!)).toBe(false);
  upload.releaseSlot("p0");
  expect(upload.takeSlot(next!)).toBe(true);
  expect(upload.takeSlot(after!)).toBe(false);
});

test("a connection that just finished a chunk goes behind those waiting, so a long queue cannot keep a slot", () => {
  const { upload, names } = seedWith(NET.uploadSlots + 1);
  for (const name of names.slice(0, NET.uploadSlots)) upload.takeSlot(name);
  const waiting = names.at(-1)!;
  expect(upload.takeSlot(waiting)).toBe(false);
  // p0 finishes and at once wants to send its next chunk: the slot is the waiter's.
  upload.releaseSlot("p0");
  expect(upload.takeSlot("p0")).toBe(false);
  expect(upload.takeSlot(waiting)).toBe(true);
  upload.releaseSlot("p0");
  expect(upload.takeSlot("p0")).toBe(true);
});

test("a waiting peer that disconnects no longer holds the others back", () => {
  const { upload, names } = seedWith(NET.uploadSlots + 2);
  for (const name of names.slice(0, NET.uploadSlots)) upload.takeSlot(name);
  const [gone, other] = names.slice(NET.uploadSlots);
  expect(upload.takeSlot(gone!)).toBe(false);
  upload.peerClosed(gone!);
  upload.releaseSlot("p0");
  expect(upload.takeSlot(other!)).toBe(true);
});

test("a waiting connection whose requests were all cancelled no longer holds the others back", () => {
  const { upload, names } = seedWith(NET.uploadSlots + 2);
  for (const name of names.slice(0, NET.uploadSlots)) upload.takeSlot(name);
  const [cancelled, other] = names.slice(NET.uploadSlots);
  upload.granted(cancelled!, 0);
  expect(upload.takeSlot(cancelled!)).toBe(false);
  upload.ended(cancelled!, 0);
  upload.releaseSlot("p0");
  expect(upload.takeSlot(other!)).toBe(true);
});

test("a freed slot is offered to the connections in turn, each round starting one further along", () => {
  const { upload } = seedWith(1);
  expect(upload.inTurn(["a", "b", "c"])).toEqual(["a", "b", "c"]);
  expect(upload.inTurn(["a", "b", "c"])).toEqual(["b", "c", "a"]);
  expect(upload.inTurn(["a", "b", "c"])).toEqual(["c", "a", "b"]);
  expect(upload.inTurn([])).toEqual([]);
});

test("peers in other zones hold at most FAR_UPLOAD_SLOTS slots, and waiting for one does not hold back a near peer", () => {
  const seed = new SeedSession(4);
  const far = Array.from({ length: FAR_UPLOAD_SLOTS + 1 }, (_, i) => `far${i}`);
  for (const name of far) seed.connect(name, true);
  seed.connect("near");
  const { upload } = seed;
  for (const name of far.slice(0, FAR_UPLOAD_SLOTS)) expect(upload.takeSlot(name)).toBe(true);
  expect(upload.takeSlot(far.at(-1)!)).toBe(false);
  expect(upload.takeSlot("near")).toBe(true);
  // A far slot given back is one a far peer may take again.
  upload.releaseSlot(far[0]!);
  expect(upload.takeSlot(far.at(-1)!)).toBe(true);
});
