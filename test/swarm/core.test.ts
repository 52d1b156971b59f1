import { expect, test } from "bun:test";
import { NET } from "../../src/config.ts";
import { PEER_ID_LENGTH } from "../../src/protocol/messages.ts";
import { type SwarmAction, SwarmCore } from "../../src/swarm/core.ts";
import { Bitset } from "../../src/util/bitset.ts";
import { sessionConfig } from "../helpers/session-swarm.ts";

/** A finished get's core on a fake clock (every chunk held), with --linger `lingerMs`, and one peer connected. */
function finishedGet(lingerMs: number) {
  let now = 0;
  const chunks = 4;
  const have = Bitset.full(chunks);
  const { scheduler, retryForMs } = sessionConfig(chunks, () => now, () => true);
  const core = new SwarmCore<string>({ scheduler, have, retryForMs, downloadLimit: null, logRequests: false, maxPeers: 8, ourId: new Uint8Array(PEER_ID_LENGTH).fill(1), zone: "", superSeeding: false, available: () => true, lingerMs });
  const started = core.handle({ type: "start", bootstrap: [] });
  expect(started.map((a) => a.type)).toContain("complete");
  const admit = core.handle({ type: "arrived", connection: "peer", arrival: { peerId: new Uint8Array(PEER_ID_LENGTH).fill(2), host: "", listenPort: 0, label: "peer", zone: null } }).find((a) => a.type === "admit");
  const peer = admit?.type === "admit" ? admit.key : "";
  /** Ticks until `at`, every 250 ms: when the core said linger-over, or null. */
  const tickUntil = (at: number): number | null => {
    for (; now < at; ) {
      now += 250;
      if (core.handle({ type: "tick" }).some((a: SwarmAction<string>) => a.type === "linger-over")) return now;
    }
    return null;
  };
  return { core, peer, tickUntil, at: (ms: number) => (now = ms) };
}

test("a finished get lingers while it is of use: it goes once nothing is being sent and NET.lingerIdleMs passed since the last REQUEST or HAVE, and at --linger at most", () => {
  const idle = finishedGet(NET.defaultLingerMs);
  expect(idle.tickUntil(NET.defaultLingerMs)).toBe(NET.lingerIdleMs);

  const asked = finishedGet(NET.defaultLingerMs);
  expect(asked.tickUntil(2_000)).toBeNull();
  // Asked at 2 s: the chunk is sent until 9 s, and the get stays while it sends.
  const served = asked.core.handle({ type: "message", connection: "peer", message: { type: "REQUEST", index: 0 } });
  expect(served.map((a) => a.type)).toEqual(["upload"]);
  expect(asked.tickUntil(9_000)).toBeNull();
  asked.core.handle({ type: "upload-ended", peer: asked.peer, chunk: 0, outcome: "sent" });
  // Asked last at 2 s: it goes at the first tick with nothing being sent.
  expect(asked.tickUntil(NET.defaultLingerMs)).toBe(9_250);

  // Neighbours that keep announcing chunks keep it, up to --linger.
  const busy = finishedGet(10_000);
  let lingerOver: number | null = null;
  for (let t = 0; t < 20_000 && lingerOver === null; t += 1_000) {
    busy.core.handle({ type: "message", connection: "peer", message: { type: "HAVE", index: 1 } });
    lingerOver = busy.tickUntil(t + 1_000);
  }
  expect(lingerOver).toBe(10_000);
});

test("a serve never lingers out: with --linger Infinity the core never says linger-over", () => {
  expect(finishedGet(Infinity).tickUntil(10 * NET.defaultLingerMs)).toBeNull();
});

test("the core's connection table: a connection that started closing is not read and is asked for nothing more; once closed, what it was asked for is asked of another peer", () => {
  const now = 0;
  const chunks = 12;
  const { scheduler, retryForMs } = sessionConfig(chunks, () => now, () => true);
  // A --max-download-rate budget of 4 requests until the test grants more: the first peer has room for more when it starts closing.
  let affordable = 4;
  const downloadLimit = { rate: 1e9, affordable: () => affordable, take: () => (affordable--, 0) };
  const core = new SwarmCore<string>({ scheduler, have: new Bitset(chunks), retryForMs, downloadLimit, logRequests: false, maxPeers: 8, ourId: new Uint8Array(PEER_ID_LENGTH).fill(1), zone: "", superSeeding: false, available: () => false, lingerMs: Infinity });
  core.handle({ type: "start", bootstrap: [] });
  const requestsTo = (actions: readonly SwarmAction<string>[], peer: string) =>
    actions.flatMap((a) => (a.type === "send" && a.message.type === "REQUEST" && core.connections.get(a.peer) === peer ? [a.message.index] : []));
  const connect = (name: string, id: number, holds: Bitset) => {
    core.handle({ type: "opened", connection: name });
    expect(core.connections.stateOf(name)).toBe("pending");
    const arrival = { peerId: new Uint8Array(PEER_ID_LENGTH).fill(id), host: "", listenPort: 0, label: name, zone: null };
    core.handle({ type: "arrived", connection: name, arrival });
    expect(core.connections.stateOf(name)).toBe("active");
    return requestsTo(core.handle({ type: "message", connection: name, message: { type: "BITFIELD", bits: holds.bytes } }), name);
  };

  const asked = connect("first", 2, Bitset.full(chunks));
  expect(asked.length).toBe(4);
  core.handle({ type: "leaving", connection: "first" });
  expect(core.connections.stateOf("first")).toBe("leaving");
  expect(core.connections.peerCount).toBe(1);
  // What it still sends is not read: not a PIECE of a chunk it was asked for, not a HAVE.
  expect(core.handle({ type: "message", connection: "first", message: { type: "PIECE", index: asked[0]!, offset: 0, data: new Uint8Array(16) } })).toEqual([]);
  expect(core.handle({ type: "message", connection: "first", message: { type: "HAVE", index: 3 } })).toEqual([]);
  // The 8 chunks still open are held by the closing peer alone: with the budget back, a refill of every peer (a wake) asks it for none.
  affordable = Infinity;
  expect(requestsTo(core.handle({ type: "wake" }), "first")).toEqual([]);

  // A second peer holds just what the first was asked for: nothing to ask it while those are open there.
  const holds = new Bitset(chunks);
  for (const chunk of asked) holds.add(chunk);
  expect(connect("second", 3, holds)).toEqual([]);
  const reasked = requestsTo(core.handle({ type: "closed", connection: "first", departure: { label: "first", code: 0, reason: "gone" } }), "second");
  expect(core.connections.stateOf("first")).toBeUndefined();
  expect(core.connections.peerCount).toBe(1);
  expect(reasked.sort((a, b) => a - b)).toEqual([...asked].sort((a, b) => a - b));
});
