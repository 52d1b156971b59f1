import { describe, expect, test } from "bun:test";
import fc from "fast-check";
import { BtError } from "../../src/errors.ts";
import { WIRE_ERRORS } from "../../src/protocol/codes.ts";
import { TICK_MS } from "../../src/swarm/pipeline.ts";
import { defaultSchedulerConfig } from "../../src/swarm/scheduler.ts";
import { DownloadSession, type SessionAction } from "../../src/swarm/session.ts";
import { DEPTH_AFTER_STALL, STALL_MS } from "../../src/swarm/stall.ts";
import { MAX_UPLOAD_ROWS, UploadSession } from "../../src/swarm/upload-session.ts";
import { Bitset } from "../../src/util/bitset.ts";
import { answerOf, CHUNK, type PeerScript, SeedSession, SessionSwarm } from "../helpers/session-swarm.ts";

const all = (n: number) => Array.from({ length: n }, (_, i) => i);
const errorCode = (swarm: SessionSwarm) => (swarm.outcome && "error" in swarm.outcome ? (swarm.outcome.error as BtError).code : null);

describe("scripted peers", () => {
  test("a peer that lies is banned after three bad chunks, and what it sent is fetched from another peer", () => {
    const swarm = new SessionSwarm({ chunks: 32 });
    swarm.connect("liar", { lies: true, bytesPerTick: 8 * CHUNK });
    swarm.connect("honest", { bytesPerTick: CHUNK });
    swarm.run(60_000);

    expect(swarm.outcome).toEqual({ complete: true });
    const errors = swarm.logged("chunk-error");
    expect(errors.map((e) => e.fields.action)).toEqual(["re-requesting", "re-requesting", "dropping peer"]);
    expect(swarm.banned).toEqual(new Set(["liar"]));
    expect(swarm.actions.some(({ action }) => action.type === "close" && action.peer === "liar" && action.code === WIRE_ERRORS.BAD_DATA)).toBe(true);
    // Every chunk it lied about was asked of the honest peer afterwards, and all the data came from it.
    for (const e of errors) {
      expect(swarm.requestsTo("honest").some((r) => r.chunk === e.fields.chunk && r.at >= e.at)).toBe(true);
    }
    expect([...swarm.session.receivedFrom.keys()]).toEqual(["honest"]);
    expect(swarm.session.verificationFailures).toBe(3);
  });

  test("a peer closed for bad chunks gets no more requests, in the same step as its close too", () => {
    const swarm = new SessionSwarm({ chunks: 8 });
    swarm.connect("liar", { lies: true });
    swarm.send("liar", 3 * CHUNK);
    expect(swarm.banned).toEqual(new Set(["liar"]));
    const closedAt = swarm.actions.findIndex(({ action }) => action.type === "close");
    swarm.apply(swarm.session.tick());
    expect(swarm.actions.slice(closedAt).filter(({ action }) => action.type === "send")).toEqual([]);
  });

  test("a peer that stalls loses its requests after STALL_MS, to another peer, and keeps one slot", () => {
    const swarm = new SessionSwarm({ chunks: 64 });
    swarm.connect("stalls", { bytesPerTick: 0 });
    swarm.connect("works", { bytesPerTick: CHUNK });
    const held = [...swarm.open.get("stalls")!];
    expect(held.length).toBe(8);

    swarm.run(STALL_MS);
    expect(swarm.cancelsTo("stalls")).toEqual([]);
    swarm.run(2 * TICK_MS);
    const cancelled = swarm.cancelsTo("stalls").map((c) => c.chunk);
    expect(cancelled.sort((a, b) => a - b)).toEqual([...held].sort((a, b) => a - b));
    expect(swarm.logged("peer-stalled")[0]!.fields).toEqual({ peer: "stalls", released: 8 });

    swarm.run(120_000);
    expect(swarm.outcome).toEqual({ complete: true });
    for (const c of held) expect(swarm.requestsTo("works").some((r) => r.chunk === c)).toBe(true);
    // After the stall, it is never asked for more than DEPTH_AFTER_STALL chunks at once.
    const stalledAt = swarm.logged("peer-stalled")[0]!.at;
    const later = swarm.requestsTo("stalls").filter((r) => r.at > stalledAt);
    const perMoment = new Map<number, number>();
    for (const r of later) perMoment.set(r.at, (perMoment.get(r.at) ?? 0) + 1);
    expect(Math.max(0, ...perMoment.values())).toBeLessThanOrEqual(DEPTH_AFTER_STALL);
  });

  test("a peer that vanishes mid-chunk: its requests move to the peers left", () => {
    const swarm = new SessionSwarm({ chunks: 32 });
    swarm.connect("vanishes", { bytesPerTick: 0 });
    swarm.connect("stays", { bytesPerTick: 2 * CHUNK });
    swarm.send("vanishes", CHUNK / 2);
    const held = [...swarm.open.get("vanishes")!];
    expect(held.length).toBeGreaterThan(0);

    swarm.disconnect("vanishes");
    // Open to pick again at once: "stays" gets them as its slots free up, with no stall to wait for.
    for (const c of held) expect(swarm.session.scheduler.askable(c)).toBe(true);
    swarm.run(20 * TICK_MS);
    for (const c of held) expect(swarm.requestsTo("stays").some((r) => r.chunk === c)).toBe(true);
    swarm.run(60_000);
    expect(swarm.outcome).toEqual({ complete: true });
    expect(swarm.session.receivedFrom).toEqual(new Map([["stays", 32 * CHUNK]]));
  });

  test("a slow peer gets a shallow pipeline; a fast one, the full depth", () => {
    const swarm = new SessionSwarm({ chunks: 1_000 });
    const deepest = new Map<string, number>();
    swarm.observe((action, s) => {
      if (action.type !== "send" || action.message.type !== "REQUEST" || s.now < 2_000) return;
      // The peer's open requests, this one included, right after it is sent.
      const open = s.open.get(action.peer)!.length + 1;
      deepest.set(action.peer, Math.max(deepest.get(action.peer) ?? 0, open));
    });
    swarm.connect("slow", { bytesPerTick: CHUNK / 16 });
    swarm.connect("fast", { bytesPerTick: 6 * CHUNK });
    swarm.run(120_000);

    expect(swarm.outcome).toEqual({ complete: true });
    // 256 B/s: less than a chunk a second, so one chunk at a time (pipeline.ts).
    expect(deepest.get("slow")).toBe(1);
    expect(deepest.get("fast")).toBe(8);
    expect(swarm.session.receivedFrom.get("fast")!).toBeGreaterThan(0.95 * 1_000 * CHUNK);
  });

  test("a seed that leaves and comes back within --retry-for: no give-up, and the download completes", () => {
    const swarm = new SessionSwarm({ chunks: 32, retryForMs: 30_000 });
    swarm.connect("seed", { bytesPerTick: CHUNK });
    swarm.run(2_000);
    swarm.disconnect("seed");
    const before = swarm.session.scheduler.have.count;
    expect(before).toBeGreaterThan(0);
    expect(before).toBeLessThan(32);

    swarm.run(25_000);
    expect(swarm.outcome).toBeNull();
    swarm.connect("seed", { bytesPerTick: CHUNK });
    swarm.run(60_000);
    expect(swarm.outcome).toEqual({ complete: true });
  });

  test("a seed that does not come back: the download gives up once --retry-for has passed", () => {
    const swarm = new SessionSwarm({ chunks: 32, retryForMs: 30_000 });
    swarm.connect("seed", { bytesPerTick: CHUNK });
    swarm.run(2_000);
    swarm.disconnect("seed");
    const leftAt = swarm.now;
    swarm.run(29_000);
    expect(swarm.outcome).toBeNull();
    swarm.run(2_000);
    expect(errorCode(swarm)).toBe("BT_E_NO_PEERS");
    expect(swarm.now - leftAt).toBeGreaterThan(30_000);
  });

  test("peers with nothing we lack that still announce chunks keep the download from giving up; silence does not", () => {
    // In a large swarm a node may sit among peers that are themselves still fetching.
    const swarm = new SessionSwarm({ chunks: 16, have: [0, 1, 2, 3, 4, 5, 6, 7], retryForMs: 5_000 });
    swarm.connect("catching-up", { has: [] });
    for (let chunk = 0; chunk < 8; chunk++) {
      swarm.run(1_000);
      swarm.apply(swarm.session.have("catching-up", chunk));
    }
    expect(swarm.outcome).toBeNull();
    swarm.run(4_000);
    expect(swarm.outcome).toBeNull();
    swarm.run(2_000);
    expect(errorCode(swarm)).toBe("BT_E_NO_PEERS");
  });

  test("with no peer and no address left to dial, the download gives up at the next tick", () => {
    const swarm = new SessionSwarm({ chunks: 8, dialable: false });
    swarm.step();
    expect(errorCode(swarm)).toBe("BT_E_NO_PEERS");
  });

  test("when only a liar had the data, the give-up names the bad chunk", () => {
    const swarm = new SessionSwarm({ chunks: 8, dialable: false });
    swarm.connect("liar", { lies: true });
    swarm.run(10_000);
    expect(errorCode(swarm)).toBe("BT_E_VERIFY");
  });

  test("a node that has every chunk is complete at start and requests nothing", () => {
    const swarm = new SessionSwarm({ chunks: 4, have: all(4) });
    swarm.start();
    expect(swarm.outcome).toEqual({ complete: true });
    swarm.connect("seed");
    expect(swarm.requestsTo("seed")).toEqual([]);
  });

  test("a PIECE nobody asked for closes the connection; a late PIECE of a cancelled chunk is dropped", () => {
    const swarm = new SessionSwarm({ chunks: 4, requestsPerPeer: 1 });
    swarm.connect("a", { bytesPerTick: 0 });
    const [asked] = swarm.open.get("a")!;
    const other = (asked! + 1) % 4;
    expect(swarm.session.piece("a", other, 0, 16)).toEqual([
      { type: "close", peer: "a", code: WIRE_ERRORS.UNEXPECTED, reason: `PIECE for chunk ${other}, which was not requested` },
    ]);
    const swarm2 = new SessionSwarm({ chunks: 4 });
    swarm2.connect("a", { bytesPerTick: 0 });
    swarm2.run(STALL_MS + 2 * TICK_MS);
    const cancelled = swarm2.cancelsTo("a").find((c) => !swarm2.open.get("a")!.includes(c.chunk));
    expect(swarm2.session.piece("a", cancelled!.chunk, 0, 16)).toEqual([]);
  });

  test("a peer that begins a second chunk before the first is whole is closed: the budget charges it one chunk arriving", () => {
    const swarm = new SessionSwarm({ chunks: 8, requestsPerPeer: 2 });
    swarm.connect("a", { bytesPerTick: 0 });
    const [first, second] = swarm.open.get("a")!;
    expect(swarm.session.piece("a", first!, 0, 16).map((a) => a.type)).toEqual(["assemble"]);
    expect(swarm.session.piece("a", second!, 0, 16)).toEqual([
      { type: "close", peer: "a", code: WIRE_ERRORS.UNEXPECTED, reason: `PIECE of chunk ${second} began before chunk ${first} was whole: a peer sends its chunks one at a time` },
    ]);
  });
});

describe("sent elsewhere", () => {
  test("a peer that sent us elsewhere 64 times within a back-off is asked for nothing new until it ends, then asked again", () => {
    const swarm = new SessionSwarm({ chunks: 400 });
    swarm.start();
    swarm.connect("seed", { bytesPerTick: 0 });
    let declined = 0;
    // The seed answers ELSEWHERE to everything, as a super-seed whose every chunk went out already.
    for (let round = 0; round < 100; round++) {
      const open = [...swarm.open.get("seed")!];
      if (open.length === 0) break;
      for (const chunk of open) {
        swarm.open.get("seed")!.splice(swarm.open.get("seed")!.indexOf(chunk), 1);
        swarm.apply(swarm.session.rejected("seed", chunk, WIRE_ERRORS.ELSEWHERE));
        declined++;
      }
      swarm.now += 1;
    }
    expect(swarm.open.get("seed")).toEqual([]);
    // Each answer brought a new request until the 64th: no more than 64 plus the pipeline asked.
    const asked = swarm.requestsTo("seed").length;
    expect(declined).toBe(asked);
    expect(asked).toBeGreaterThanOrEqual(64);
    expect(asked).toBeLessThan(64 + 8 + 1);
    swarm.now += 1_000;
    swarm.apply(swarm.session.tick());
    expect(swarm.open.get("seed")!.length).toBeGreaterThan(0);
  });
});

describe("invariants, over random swarms and event orders", () => {
  const script: fc.Arbitrary<PeerScript> = fc.record({
    lies: fc.constantFrom(false, false, false, true),
    bytesPerTick: fc.constantFrom(0, CHUNK / 8, CHUNK, 4 * CHUNK),
  });
  const event = fc.oneof(
    fc.constant({ kind: "step" as const }),
    fc.constant({ kind: "settle" as const }),
    fc.record({ kind: fc.constant("send" as const), peer: fc.nat(4), bytes: fc.integer({ min: 1, max: 3 * CHUNK }) }),
    fc.record({ kind: fc.constant("leave" as const), peer: fc.nat(4) }),
    fc.record({ kind: fc.constant("join" as const), peer: fc.nat(4), script, has: fc.array(fc.nat(23), { maxLength: 24 }) }),
  );

  test("never a request for a chunk we have, never more than the depth open to one peer, endgame only when nothing is unrequested, and a seed finishes it", () => {
    fc.assert(
      fc.property(fc.integer({ min: 1, max: 24 }), fc.array(fc.nat(23)), fc.array(event, { maxLength: 120 }), fc.integer(), (chunks, haveRaw, events, seed) => {
        const have = [...new Set(haveRaw.filter((c) => c < chunks))];
        const swarm = new SessionSwarm({ chunks, have, seed, deferLanding: true, requestsPerPeer: 4 });
        swarm.observe((action, s) => {
          if (action.type !== "send" || action.message.type !== "REQUEST") return;
          const chunk = action.message.index;
          expect(s.session.scheduler.have.has(chunk)).toBe(false);
          expect(s.open.get(action.peer)!.length).toBeLessThan(4);
          const elsewhere = [...s.open].some(([peer, queue]) => peer !== action.peer && queue.includes(chunk));
          if (elsewhere || s.landing.has(chunk)) {
            // A second copy: only in endgame, when every missing chunk is already asked for or landing.
            for (let c = 0; c < chunks; c++) {
              if (s.session.scheduler.have.has(c) || s.landing.has(c)) continue;
              expect([...s.open.values()].some((q) => q.includes(c))).toBe(true);
            }
          }
        });
        swarm.start();
        for (const e of events) {
          if (swarm.outcome) break;
          const peer = `p${"peer" in e ? e.peer : 0}`;
          if (e.kind === "step") swarm.step();
          else if (e.kind === "settle") swarm.settle();
          else if (e.kind === "send") swarm.send(peer, e.bytes);
          else if (e.kind === "leave") swarm.disconnect(peer);
          else if (!swarm.open.has(peer)) swarm.connect(peer, { ...e.script, has: e.has.filter((c) => c < chunks) });
        }
        if (swarm.outcome) return;
        // Liveness: an honest seed arrives; whatever state the swarm was left in, the download finishes.
        swarm.connect("seed", { bytesPerTick: 4 * CHUNK });
        for (let i = 0; i < 2_000 && !swarm.outcome; i++) {
          swarm.step();
          swarm.settle();
        }
        expect(swarm.session.complete).toBe(true);
      }),
      { numRuns: 300, seed: 10 },
    );
  });
});

describe("super-seeding, through the upload session", () => {
  /**
   * Peers that each want every chunk and take one step a second: each asks the seed for its
   * next missing chunk (peer i starting at chunk i·chunks/peers); a chunk the seed serves
   * arrives within the step and the peer announces it; one sent elsewhere is copied from a
   * peer that has it, or asked again next step.
   */
  function swarmOf(peers: number, chunks: number): { seed: SeedSession; holders: Map<number, Set<string>> } {
    // One chunk more than the peers want, to keep the seed busy with.
    const seed = new SeedSession(chunks + 1);
    seed.keepBusy(chunks);
    const names = Array.from({ length: peers }, (_, i) => `p${i}`);
    for (const name of names) seed.connect(name);
    const holders = new Map<number, Set<string>>(all(chunks).map((c) => [c, new Set()]));
    const missing = (peer: number) => all(chunks).map((k) => (peer * (chunks / peers) + k) % chunks).filter((c) => !holders.get(c)!.has(names[peer]!));
    const got = (name: string, chunk: number) => {
      holders.get(chunk)!.add(name);
      seed.announce(name, chunk);
    };
    for (let step = 0; step < 10 * chunks && names.some((_, i) => missing(i).length > 0); step++) {
      seed.now += 1_000;
      const served: [string, number][] = [];
      names.forEach((name, i) => {
        const chunk = missing(i)[0];
        if (chunk === undefined) return;
        if (seed.ask(name, chunk) === "serve") return served.push([name, chunk]);
        if (holders.get(chunk)!.size > 0) got(name, chunk);
      });
      for (const [name, chunk] of served) {
        seed.deliver(name, chunk);
        got(name, chunk);
      }
    }
    return { seed, holders };
  }

  test("a seed with several peers hands each chunk out about once and sends later askers elsewhere", () => {
    const { seed, holders } = swarmOf(4, 16);
    for (const h of holders.values()) expect(h.size).toBe(4);
    // About one copy of the package left the seed; the peers traded the other three. A chunk
    // held only by peers that finished goes out again (they are not "elsewhere": see below).
    expect(seed.upload.chunksServed).toBeLessThanOrEqual(17);
    expect(seed.upload.uploadedBytes).toBe(seed.upload.chunksServed * CHUNK);
    for (const c of all(16)) expect(seed.answers.filter((a) => a.chunk === c && a.answer === "serve").length).toBeLessThanOrEqual(2);
    const elsewhere = seed.answers.filter((a) => a.answer === "elsewhere");
    // Every later asker of every chunk was sent elsewhere, unless served one of the extra copies.
    expect(elsewhere.length + (seed.upload.chunksServed - 16)).toBeGreaterThanOrEqual(3 * 16);
    // Only ever after the chunk was handed out to somebody else.
    for (const e of elsewhere) expect(seed.answers.some((a) => a.chunk === e.chunk && a.answer === "serve" && a.peer !== e.peer && a.at <= e.at)).toBe(true);
  });

  test("a seed with one peer serves it whatever it asks, even a chunk it is still sending", () => {
    const seed = new SeedSession(4);
    seed.connect("only");
    expect(seed.ask("only", 0)).toBe("serve");
    expect(seed.ask("only", 0)).toBe("serve");
    seed.deliver("only", 0);
    seed.announce("only", 0);
    seed.now += 100;
    expect(all(4).map((c) => seed.ask("only", c))).toEqual(["serve", "serve", "serve", "serve"]);
  });

  test("a peer sent elsewhere 8 times for the same chunk is served the 9th time; another peer is still sent elsewhere", () => {
    const seed = new SeedSession(4);
    for (const p of ["a", "b", "c"]) seed.connect(p);
    expect(seed.ask("a", 0)).toBe("serve");
    seed.keepBusy(3);
    seed.deliver("a", 0);
    seed.announce("a", 0);
    const answers = all(9).map(() => {
      seed.now += 1_000;
      return seed.ask("b", 0);
    });
    expect(answers).toEqual([...Array(8).fill("elsewhere"), "serve"]);
    expect(seed.ask("b", 1)).toBe("serve");
    expect(seed.ask("c", 0)).toBe("elsewhere");
  });

  test("a complete node serves a chunk that only other complete nodes hold: they may be sending askers elsewhere too", () => {
    const seed = new SeedSession(4);
    for (const p of ["done", "asker", "other"]) seed.connect(p);
    expect(seed.ask("other", 0)).toBe("serve");
    seed.deliver("other", 0);
    seed.now += 10_000;
    // "done" has everything, as a lingering `get` does: it shares nothing freely.
    seed.bitfield("done", new Bitset(4, new Uint8Array([0b1111])));
    expect(seed.ask("asker", 0)).toBe("serve");
    // A downloader that has it does share freely: askers go there.
    seed.announce("other", 0);
    expect(seed.ask("asker", 0)).toBe("elsewhere");
  });

  test("a seed whose uplink is idle serves a chunk a downloader has; a busy one sends the asker there", () => {
    const seed = new SeedSession(4);
    for (const p of ["a", "b", "c"]) seed.connect(p);
    expect(seed.ask("a", 0)).toBe("serve");
    seed.deliver("a", 0);
    seed.announce("a", 0);
    expect(seed.ask("b", 0)).toBe("serve");
    expect(seed.ask("c", 0)).toBe("elsewhere");
  });

  test("a node that finished a get shares freely: only serve, the origin, super-seeds", () => {
    const seed = new SeedSession(4);
    const finishedGet = new UploadSession(seed.download, false, () => true);
    for (const p of ["a", "b", "c"]) finishedGet.peerConnected(p, p);
    expect(answerOf(finishedGet.requested("a", 0))).toBe("serve");
    seed.connect("c");
    seed.announce("c", 0);
    // Where serve would send "b" elsewhere (a copy in flight, a downloader holding it), a finished get serves.
    expect(answerOf(finishedGet.requested("b", 0))).toBe("serve");
  });

  test("a chunk not here is not available; a seed still downloading serves freely", () => {
    const leech = new SessionSwarm({ chunks: 2, have: [0] });
    const upload = new UploadSession(leech.session, true, (c) => c === 0);
    for (const p of ["a", "b"]) upload.peerConnected(p, p);
    expect(answerOf(upload.requested("a", 1))).toBe("not-available");
    expect(answerOf(upload.requested("a", 0))).toBe("serve");
    expect(answerOf(upload.requested("b", 0))).toBe("serve");
  });

  test("counts what it sent by peer, past MAX_UPLOAD_ROWS in one row, and when it was last asked, on the session's clock", () => {
    const seed = new SeedSession(1);
    const peers = all(MAX_UPLOAD_ROWS + 2).map((i) => `p${i}`);
    for (const p of peers) {
      seed.connect(p);
      seed.now += 1;
      seed.ask(p, 0);
      seed.deliver(p, 0);
    }
    expect(seed.upload.lastRequestAt).toBe(MAX_UPLOAD_ROWS + 2);
    expect(seed.upload.uploadedTo.size).toBe(MAX_UPLOAD_ROWS + 1);
    expect(seed.upload.uploadedTo.get("p0")).toBe(CHUNK);
    expect(seed.upload.uploadedTo.get("others")).toBe(2 * CHUNK);
    expect(seed.upload.uploadedBytes).toBe((MAX_UPLOAD_ROWS + 2) * CHUNK);
  });
});

describe("get --only, in the session", () => {
  test("only the wanted chunks are asked for; BITFIELD offers only what is held; the download completes with the selection", () => {
    const chunks = 8;
    const held = new Bitset(chunks);
    held.add(0);
    const wanted = new Bitset(chunks);
    for (const c of [0, 2, 3]) wanted.add(c);
    const session = new DownloadSession(
      {
        scheduler: defaultSchedulerConfig(chunks, { chunkSize: CHUNK, chunkLength: () => CHUNK, now: () => 0, randomFirstPicks: 0 }),
        retryForMs: 60_000,
        downloadLimit: null,
        logRequests: false,
        addresses: { anyDialable: () => true, describe: () => "" },
        wanted,
      },
      held,
    );
    session.start();
    const sent = (actions: readonly SessionAction[], type: string) => actions.flatMap((a) => (a.type === "send" && a.message.type === type ? [a.message] : []));
    expect(sent(session.peerConnected("seed", "seed"), "BITFIELD")).toEqual([{ type: "BITFIELD", bits: held.bytes }]);
    const requested = sent(session.bitfield("seed", Bitset.full(chunks).bytes), "REQUEST").map((m) => (m as { index: number }).index);
    expect(requested.sort()).toEqual([2, 3]);
    expect(session.verifiedBytes).toBe(CHUNK);
    for (const c of requested) {
      session.piece("seed", c, 0, CHUNK);
      session.chunkVerified("seed", c, true);
      session.chunkWritten(c);
    }
    expect(session.complete).toBe(true);
    expect(session.verifiedBytes).toBe(3 * CHUNK);
    // A peer that connects now is offered the three chunks held, not the five left out.
    const later = sent(session.peerConnected("late", "late"), "BITFIELD")[0] as { bits: Uint8Array };
    expect([...new Bitset(chunks, later.bits).members()]).toEqual([0, 2, 3]);
  });
});
