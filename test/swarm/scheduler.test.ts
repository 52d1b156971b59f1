import { describe, expect, test } from "bun:test";
import fc from "fast-check";
import { NET } from "../../src/config.ts";
import { type PickContext, randomFirst, rarestFirst } from "../../src/swarm/picker.ts";
import { defaultSchedulerConfig, Scheduler, shareRank } from "../../src/swarm/scheduler.ts";
import { STALL_MS } from "../../src/swarm/stall.ts";
import { Bitset } from "../../src/util/bitset.ts";
import { seededRandom } from "../helpers/session-swarm.ts";


const bits = (n: number, members: number[]) => {
  const b = new Bitset(n);
  members.forEach((m) => b.add(m));
  return b;
};

function scheduler(chunkCount: number, overrides = {}) {
  return new Scheduler(defaultSchedulerConfig(chunkCount, { random: seededRandom(1), randomFirstPicks: 0, ...overrides }), new Bitset(chunkCount));
}

describe("picker policies", () => {
  const ctx = (availability: number[], eligible = (_: number) => true): PickContext => ({
    // The scheduler hands candidates over rarest first (availability.ts).
    candidates: [...availability.keys()].sort((x, y) => availability[x]! - availability[y]!),
    holds: () => true,
    held: availability.length,
    eligible,
    random: seededRandom(7),
  });

  test("rarest first picks the chunks fewest peers have", () => {
    expect(rarestFirst(2, ctx([3, 1, 2, 1, 5])).sort()).toEqual([1, 3]);
  });

  test("rarest first skips ineligible chunks", () => {
    expect(rarestFirst(2, ctx([3, 1, 2, 1, 5], (c) => c !== 1))).toEqual([3, 2]);
  });

  test("random first ignores availability", () => {
    const availability = [9, 9, 9, 1, 9, 9, 9, 9];
    const picks = randomFirst(3, ctx(availability));
    expect(picks).toHaveLength(3);
    expect(new Set(picks).size).toBe(3);
    // Rarest first would always take chunk 3; random first takes it only now and then.
    const firstPicks = Array.from({ length: 8 }, (_, seed) => randomFirst(1, { ...ctx(availability), random: seededRandom(seed + 1) })[0]);
    expect(new Set(firstPicks).size).toBeGreaterThan(3);
  });

  test("no limit, no picks", () => {
    expect(rarestFirst(0, ctx([1, 1]))).toEqual([]);
  });
});

describe("scheduler", () => {
  test("ties are broken at random, so peers starting together ask for different chunks", () => {
    const firstPicks = new Set(
      Array.from({ length: 8 }, (_, seed) => {
        const s = scheduler(64, { random: seededRandom(seed + 1) });
        s.addPeer("seed");
        s.setBitfield("seed", Bitset.full(64));
        return s.nextRequests("seed", 1)[0];
      }),
    );
    expect(firstPicks.size).toBeGreaterThan(3);
  });

  test("pipelines up to the per-peer depth and never requests a chunk twice outside endgame", () => {
    const s = scheduler(100, { requestsPerPeer: 4 });
    s.addPeer("a");
    s.addPeer("b");
    s.setBitfield("a", Bitset.full(100));
    s.setBitfield("b", Bitset.full(100));
    const a = s.nextRequests("a");
    const b = s.nextRequests("b");
    expect(a).toHaveLength(4);
    expect(b).toHaveLength(4);
    expect(new Set([...a, ...b]).size).toBe(8);
    expect(s.nextRequests("a")).toEqual([]);
  });

  test("asks a peer only for chunks it has, rarest first", () => {
    const s = scheduler(6, { requestsPerPeer: 2 });
    s.addPeer("seed");
    s.addPeer("partial");
    s.setBitfield("seed", Bitset.full(6));
    s.setBitfield("partial", bits(6, [0, 1, 2, 3]));
    // Chunks 4 and 5 are only at the seed: rarer, so the seed is asked for them first.
    expect(s.nextRequests("seed").sort()).toEqual([4, 5]);
    const fromPartial = s.nextRequests("partial");
    expect(fromPartial).toHaveLength(2);
    expect(fromPartial.every((c) => c < 4)).toBe(true);
  });

  test("a departed peer's requests go back to the pool for others", () => {
    const s = scheduler(4, { requestsPerPeer: 4 });
    s.addPeer("a");
    s.setBitfield("a", Bitset.full(4));
    expect(s.nextRequests("a")).toHaveLength(4);
    s.addPeer("b");
    s.setBitfield("b", Bitset.full(4));
    // Once a is gone, its four requests are free for b.
    s.removePeer("a");
    expect(s.nextRequests("b").sort()).toEqual([0, 1, 2, 3]);
  });

  test("the memory budget charges each peer asked one chunk, the one it may be sending, however many wait behind it", () => {
    const s = scheduler(100, { requestsPerPeer: 4, maxBytesInMemory: 3 * 4 * 1024 * 1024 });
    for (const p of ["a", "b", "c", "d"]) {
      s.addPeer(p);
      s.setBitfield(p, Bitset.full(100));
    }
    const toA = s.nextRequests("a");
    expect([toA.length, s.nextRequests("b").length, s.nextRequests("c").length]).toEqual([4, 4, 4]);
    // Three peers charged a chunk each fill the budget of three.
    expect(s.nextRequests("d")).toEqual([]);
    // A chunk landing is held too, while a's next one may already be arriving.
    s.received("a", toA[0]!);
    expect(s.nextRequests("d")).toEqual([]);
    s.committed(toA[0]!);
    expect(s.nextRequests("d")).toEqual([]);
    // Once nothing is asked of a, its chunk of the budget goes to d.
    for (const c of toA.slice(1)) {
      s.received("a", c);
      s.committed(c);
    }
    expect(s.nextRequests("d")).toHaveLength(4);
  });

  test("a peer charged a chunk is asked for more only while the chunks landed leave room: a disk that falls behind holds memory to the budget", () => {
    const s = scheduler(100, { requestsPerPeer: 4, maxBytesInMemory: 3 * 4 * 1024 * 1024 });
    s.addPeer("a");
    s.setBitfield("a", Bitset.full(100));
    const asked = s.nextRequests("a");
    expect(asked).toHaveLength(4);
    // Two chunks arrive and wait for the hasher and the disk; a's third may be arriving.
    for (const c of asked.slice(0, 2)) s.received("a", c);
    expect(s.nextRequests("a")).toHaveLength(2);
    // A third lands: with the one a may be sending, the landed chunks fill the budget.
    s.received("a", asked[2]!);
    expect(s.nextRequests("a")).toEqual([]);
    // Once one is on disk, a is asked again.
    s.committed(asked[0]!);
    expect(s.nextRequests("a")).toHaveLength(1);
  });

  test("however much budget is left, no peer is asked for more while the landed chunks fill maxLandingBytes: the hashing pool behind the network holds only a few", () => {
    const chunk = 4 * 1024 * 1024;
    const s = scheduler(100, { requestsPerPeer: 4, maxBytesInMemory: 64 * chunk, maxLandingBytes: 2 * chunk });
    for (const p of ["a", "b"]) {
      s.addPeer(p);
      s.setBitfield(p, Bitset.full(100));
    }
    const asked = s.nextRequests("a");
    expect(asked).toHaveLength(4);
    s.received("a", asked[0]!);
    expect(s.nextRequests("a")).toHaveLength(1);
    // Two wait for the pool: neither a nor a peer never asked gets a request, the budget notwithstanding.
    s.received("a", asked[1]!);
    expect(s.nextRequests("a")).toEqual([]);
    expect(s.nextRequests("b")).toEqual([]);
    // One written: asking resumes, for a's open slot and for b.
    s.committed(asked[0]!);
    expect(s.nextRequests("a")).toHaveLength(1);
    expect(s.nextRequests("b")).toHaveLength(4);
  });

  test("the pipeline and the budget count bytes: short chunks (small files) keep as many bytes in flight as full ones", () => {
    const full = 4 * 1024 * 1024;
    // Chunks 0..199 are small files of a 64th of a chunk; 200..209 are full.
    const lengthOf = (c: number) => (c < 200 ? full / 64 : full);
    const s = scheduler(210, { requestsPerPeer: 1, chunkLength: lengthOf, maxBytesInMemory: 1.5 * full, policy: (limit: number, ctx: PickContext) => Array.from(ctx.candidates).filter(ctx.eligible).sort((x, y) => x - y).slice(0, limit) });
    s.addPeer("a");
    s.setBitfield("a", Bitset.full(210));
    // Depth 1: a full chunk's worth, so 64 small ones, not 1.
    expect(s.nextRequests("a")).toHaveLength(64);
    s.addPeer("b");
    s.setBitfield("b", Bitset.full(210));
    // The budget (1.5 full chunks) has half a chunk's worth left: 32 small ones.
    const toB = s.nextRequests("b");
    expect(toB).toHaveLength(32);
    expect(toB.every((c) => c < 200)).toBe(true);
  });

  test("however small the chunks, a peer has at most half of what it may queue open at once", () => {
    const s = scheduler(1000, { requestsPerPeer: 8, chunkLength: () => 1 });
    s.addPeer("a");
    s.setBitfield("a", Bitset.full(1000));
    expect(s.nextRequests("a")).toHaveLength(NET.maxQueuedRequestsPerPeer / 2);
  });

  test("endgame: with every missing chunk requested, an idle peer duplicates them; the arrival cancels the rest", () => {
    const s = scheduler(3, { requestsPerPeer: 3 });
    s.addPeer("slow");
    s.setBitfield("slow", Bitset.full(3));
    expect(s.nextRequests("slow")).toHaveLength(3);
    s.addPeer("fast");
    s.setBitfield("fast", Bitset.full(3));
    expect(s.inEndgame).toBe(true);
    expect(s.nextRequests("fast").sort()).toEqual([0, 1, 2]);
    s.received("fast", 1);
    expect(s.wanted(1)).toBe(false);
    expect(s.committed(1)).toEqual(["slow"]);
    expect(s.isRequested("slow", 1)).toBe(false);
  });

  test("a chunk landing from one peer and still requested from another counts once: a chunk nobody was asked for ends endgame", () => {
    const s = scheduler(3, { requestsPerPeer: 3 });
    s.addPeer("slow");
    s.setBitfield("slow", Bitset.full(3));
    s.nextRequests("slow");
    s.addPeer("fast");
    s.setBitfield("fast", Bitset.full(3));
    s.nextRequests("fast");
    // Chunk 1 arrives from "fast" while "slow" still has it requested; "fast" turns out not to have chunk 2.
    s.received("fast", 1);
    s.rejected("fast", 2, false);
    s.rejected("slow", 2, false);
    expect(s.inEndgame).toBe(false);
    // Nor is a landing chunk asked for again.
    s.addPeer("late");
    s.setBitfield("late", Bitset.full(3));
    expect(s.nextRequests("late")).toEqual([2]);
  });

  /** "bad" and "good" both have the one chunk; "bad", asked first, sent a copy that failed verification. */
  function afterBadCopy(): Scheduler {
    const s = scheduler(1, { requestsPerPeer: 1 });
    for (const p of ["bad", "good"]) {
      s.addPeer(p);
      s.setBitfield(p, Bitset.full(1));
    }
    expect(s.nextRequests("bad")).toEqual([0]);
    s.received("bad", 0);
    expect(s.failed("bad", 0)).toBe(false);
    return s;
  }

  test("a chunk that failed verification is asked from another peer first", () => {
    const s = afterBadCopy();
    expect(s.nextRequests("bad")).toEqual([]);
    expect(s.nextRequests("good")).toEqual([0]);
  });

  test("a chunk that failed verification is asked again from the same peer when no other has it", () => {
    const s = afterBadCopy();
    s.removePeer("good");
    expect(s.nextRequests("bad")).toEqual([0]);
  });

  test("a peer is dropped after repeated bad chunks", () => {
    const s = scheduler(10, { requestsPerPeer: 1, maxBadChunksPerPeer: 3 });
    s.addPeer("liar");
    s.setBitfield("liar", Bitset.full(10));
    const verdicts = [0, 1, 2].map(() => {
      const [c] = s.nextRequests("liar");
      s.received("liar", c!);
      return s.failed("liar", c!);
    });
    expect(verdicts).toEqual([false, false, true]);
  });

  test("a REJECT for a chunk the peer does not have stops further asks for it", () => {
    const s = scheduler(1, { requestsPerPeer: 1 });
    s.addPeer("a");
    s.setBitfield("a", Bitset.full(1));
    expect(s.nextRequests("a")).toEqual([0]);
    s.rejected("a", 0, false);
    expect(s.nextRequests("a")).toEqual([]);
  });

  test("a chunk a peer sent elsewhere is left alone at that peer for elsewhereBackoffMs, then asked again", () => {
    let now = 0;
    const s = scheduler(1, { requestsPerPeer: 1, elsewhereBackoffMs: 1_000, now: () => now });
    s.addPeer("seed");
    s.setBitfield("seed", Bitset.full(1));
    expect(s.nextRequests("seed")).toEqual([0]);
    s.deferred("seed", 0);
    now = 999;
    expect(s.nextRequests("seed")).toEqual([]);
    now = 1_000;
    expect(s.nextRequests("seed")).toEqual([0]);
  });

  test("chunks already had are never requested, and completion is reported", () => {
    const have = bits(3, [0, 2]);
    const s = new Scheduler(defaultSchedulerConfig(3, { randomFirstPicks: 0 }), have);
    s.addPeer("a");
    s.setBitfield("a", Bitset.full(3));
    expect(s.nextRequests("a")).toEqual([1]);
    s.received("a", 1);
    s.committed(1);
    expect(s.complete).toBe(true);
    expect(s.nextRequests("a")).toEqual([]);
  });
});

describe("zones", () => {
  /** A node with near peer `near` (rank 1) and far peer `far` (rank 2); we are rank 0. */
  function zoned(chunkCount: number, overrides = {}) {
    const s = scheduler(chunkCount, { chunkSize: 1, chunkLength: () => 1, maxBytesInMemory: 1000, ...overrides });
    s.addPeer("near", false, 1);
    s.addPeer("far", true, 2);
    return s;
  }

  test("a far peer is not asked for a chunk a near peer has, and is asked for one chunk at a time", () => {
    const s = zoned(8);
    s.setBitfield("near", bits(8, [0, 1]));
    s.setBitfield("far", Bitset.full(8));
    const fromFar = s.nextRequests("far");
    expect(fromFar).toHaveLength(1);
    expect([0, 1]).not.toContain(fromFar[0]!);
  });

  test("while near peers send, a far peer is asked only for our share; with nothing coming from them, for anything our zone lacks", () => {
    const chunks = 64;
    /** What a node of rank `ours`, beside a near peer of rank `theirs` that sends chunk 0, brings in from the far peer. */
    const broughtIn = (ours: number, theirs: number) => {
      const s = scheduler(chunks, { chunkSize: 1, chunkLength: () => 1, maxBytesInMemory: 1000, ourRank: ours });
      s.addPeer("near", false, theirs);
      s.addPeer("far", true, 9);
      s.setBitfield("near", bits(chunks, [0]));
      s.setBitfield("far", Bitset.full(chunks));
      expect(s.nextRequests("near")).toEqual([0]);
      const got: number[] = [];
      for (let c = s.nextRequests("far")[0]; c !== undefined; c = s.nextRequests("far")[0]) {
        got.push(c);
        s.received("far", c);
        s.committed(c);
      }
      return got;
    };
    const a = broughtIn(1, 2);
    const b = broughtIn(2, 1);
    // Two nodes that see each other split what the zone lacks between them: no chunk twice, none left out.
    expect(a.length).toBeGreaterThan(10);
    expect(b.length).toBeGreaterThan(10);
    expect(a.filter((c) => b.includes(c))).toEqual([]);
    expect([...a, ...b].sort((x, y) => x - y)).toEqual(Array.from({ length: chunks - 1 }, (_, i) => i + 1));
    // With no request open to near peers, nothing comes from them: any chunk the zone lacks will do.
    const idle = zoned(chunks);
    idle.setBitfield("far", Bitset.full(chunks));
    let n = 0;
    for (let c = idle.nextRequests("far")[0]; c !== undefined; c = idle.nextRequests("far")[0], n++) {
      idle.received("far", c);
      idle.committed(c);
    }
    expect(n).toBe(chunks);
  });

  test("a near holder that sent us elsewhere does not count: the far peer is asked", () => {
    const s = zoned(4, { elsewhereBackoffMs: 1000, now: () => 0 });
    s.setBitfield("near", Bitset.full(4));
    s.setBitfield("far", Bitset.full(4));
    expect(s.nextRequests("far")).toEqual([]);
    const [chunk] = s.nextRequests("near", 1);
    s.deferred("near", chunk!);
    expect(s.nextRequests("far")).toEqual([chunk!]);
  });

  test("a downloader that has the chunk counts for a near asker only if it is near too", () => {
    const s = zoned(4);
    s.setBitfield("far", bits(4, [2]));
    expect(s.downloaderHas(2)).toBe(true);
    expect(s.downloaderHas(2, true)).toBe(false);
    s.setBitfield("near", bits(4, [2]));
    expect(s.downloaderHas(2, true)).toBe(true);
  });

  test("shareRank reads a peer id's first four bytes", () => {
    expect(shareRank(Uint8Array.of(1, 0, 0, 0, 9))).toBe(1);
    expect(shareRank(Uint8Array.of(0xff, 0xff, 0xff, 0xff))).toBe(0xffffffff);
  });
});

describe("open chunks held", () => {
  test("whatever happens, each peer's count of open chunks it holds is what a recount finds, so a pick never stops early", () => {
    const chunks = 24;
    const op = fc.oneof(
      fc.record({ kind: fc.constant("have"), peer: fc.nat(3), chunk: fc.nat(chunks - 1) }),
      fc.record({ kind: fc.constant("bitfield"), peer: fc.nat(3), chunk: fc.nat(chunks - 1) }),
      fc.record({ kind: fc.constant("ask"), peer: fc.nat(3), chunk: fc.constant(0) }),
      fc.record({ kind: fc.constant("land"), peer: fc.nat(3), chunk: fc.constant(0) }),
      fc.record({ kind: fc.constant("reject"), peer: fc.nat(3), chunk: fc.constant(0) }),
      fc.record({ kind: fc.constant("leave"), peer: fc.nat(3), chunk: fc.constant(0) }),
    );
    fc.assert(
      fc.property(fc.array(op, { maxLength: 60 }), (ops) => {
        const s = scheduler(chunks, { requestsPerPeer: 2, chunkSize: 1, chunkLength: () => 1, maxBytesInMemory: 100 });
        const present = new Set<string>();
        const join = (key: string) => present.has(key) || (s.addPeer(key), present.add(key));
        for (const { kind, peer, chunk } of ops) {
          const key = `p${peer}`;
          join(key);
          if (kind === "have") s.peerHas(key, chunk);
          else if (kind === "bitfield") s.setBitfield(key, bits(chunks, Array.from({ length: chunk }, (_, c) => (c * 7) % chunks)));
          else if (kind === "ask") s.nextRequests(key, 1);
          else if (kind === "leave") {
            s.removePeer(key);
            present.delete(key);
          } else {
            const open = [...((s as unknown as { peers: Map<string, { requests: Map<number, unknown> }> }).peers.get(key)?.requests.keys() ?? [])];
            if (open.length === 0) continue;
            if (kind === "land") {
              s.received(key, open[0]!);
              s.committed(open[0]!);
            } else s.rejected(key, open[0]!, false);
          }
        }
        const inside = s as unknown as { peers: Map<string, { bits: Bitset; openHeld: number }>; availability: { isOpen(c: number): boolean } };
        for (const p of inside.peers.values()) {
          expect(p.openHeld).toBe([...p.bits.members()].filter((c) => inside.availability.isOpen(c)).length);
        }
      }),
      { numRuns: 300 },
    );
  });
});

describe("request state", () => {
  /** A scheduler on a clock the test sets, with one peer holding every chunk. */
  function clocked(chunkCount: number, requestsPerPeer: number) {
    const clock = { now: 0 };
    const s = scheduler(chunkCount, { requestsPerPeer, now: () => clock.now });
    s.addPeer("a");
    s.setBitfield("a", Bitset.full(chunkCount));
    return { s, clock };
  }

  test("the latency of a chunk is measured on the injected clock, from its REQUEST to its last block", () => {
    const { s, clock } = clocked(2, 1);
    clock.now = 100;
    const [c] = s.nextRequests("a");
    clock.now = 350;
    expect(s.received("a", c!)).toBe(250);
    // Received again (a second copy) or from a peer never asked: no request, no latency.
    expect(s.received("a", c!)).toBeUndefined();
  });

  test("a copy that lost the endgame race is cancelled at its peer only: its late PIECEs are expected there", () => {
    const s = scheduler(1, { requestsPerPeer: 1 });
    for (const p of ["slow", "fast"]) {
      s.addPeer(p);
      s.setBitfield(p, Bitset.full(1));
      expect(s.nextRequests(p)).toEqual([0]);
    }
    s.received("fast", 0);
    expect(s.committed(0)).toEqual(["slow"]);
    expect(s.isRequested("slow", 0)).toBe(false);
    expect(s.isCancelled("slow", 0)).toBe(true);
    expect(s.isCancelled("fast", 0)).toBe(false);
  });

  test("a peer silent for STALL_MS with requests open loses them: cancelled there, and it keeps one slot", () => {
    const { s, clock } = clocked(4, 4);
    const asked = s.nextRequests("a");
    expect(asked).toHaveLength(4);
    clock.now = STALL_MS;
    expect(s.tick("a")).toEqual([]);
    clock.now = STALL_MS + 1;
    expect(s.tick("a").sort()).toEqual(asked.sort());
    expect(asked.every((c) => s.isCancelled("a", c) && !s.isRequested("a", c))).toBe(true);
    expect(s.nextRequests("a")).toHaveLength(1);
  });

  test("data from a peer restarts its stall clock", () => {
    const { s, clock } = clocked(4, 1);
    s.nextRequests("a");
    clock.now = 4_000;
    s.progressed("a", 1024);
    clock.now = 4_000 + STALL_MS;
    expect(s.tick("a")).toEqual([]);
    clock.now = 4_000 + STALL_MS + 1;
    expect(s.tick("a")).toHaveLength(1);
  });

  test("asking again for a cancelled chunk clears its mark, and its latency runs from the new REQUEST", () => {
    const { s, clock } = clocked(1, 1);
    expect(s.nextRequests("a")).toEqual([0]);
    clock.now = STALL_MS + 1;
    expect(s.tick("a")).toEqual([0]);
    clock.now = STALL_MS + 10;
    expect(s.nextRequests("a")).toEqual([0]);
    expect(s.isCancelled("a", 0)).toBe(false);
    expect(s.isRequested("a", 0)).toBe(true);
    clock.now = STALL_MS + 30;
    expect(s.received("a", 0)).toBe(20);
  });
});

describe("bitset", () => {
  test("refuses a bitfield of the wrong length or with bits past the end", () => {
    expect(Bitset.problem(10, new Uint8Array(1))).toMatch(/expected 2/);
    expect(Bitset.problem(10, Uint8Array.of(0, 0b100))).toMatch(/past the last chunk/);
    expect(Bitset.problem(10, Uint8Array.of(0xff, 0b11))).toBeNull();
  });
});
