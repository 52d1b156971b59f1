import { describe, expect, test } from "bun:test";
import { REPORTS_PER_SECOND, reportPaceMs, RolloutBook, ROLLOUT_LIMITS } from "../../src/ops/rollout.ts";
import type { NodeReport } from "../../src/protocol/status.ts";

const MiB = 1024 * 1024;

function report(name: string, overrides: Partial<NodeReport> = {}): NodeReport {
  return {
    name,
    zone: "",
    state: "downloading",
    verifiedBytes: 0,
    totalBytes: 100 * MiB,
    rateBytesPerSecond: 0,
    peers: 3,
    errorCode: "",
    errorMessage: "",
    version: "0.1.0",
    ...overrides,
  };
}

function book(limits = ROLLOUT_LIMITS) {
  const clock = { ms: 0 };
  return { clock, book: new RolloutBook(() => clock.ms, limits) };
}

describe("a seed's book of its nodes' reports", () => {
  test("per package: nodes by state, bytes verified and remaining, the summed rate, and the ETA it gives", () => {
    const { book: b } = book();
    b.report("p", report("a", { verifiedBytes: 100 * MiB, state: "done" }));
    b.report("p", report("b", { verifiedBytes: 40 * MiB, rateBytesPerSecond: 10 * MiB }));
    b.report("p", report("c", { verifiedBytes: 20 * MiB, rateBytesPerSecond: 5 * MiB }));
    b.report("q", report("a", { totalBytes: 10 * MiB }));
    const [p, q] = b.view();
    expect(p!.package).toBe("p");
    expect(p!.nodes).toBe(3);
    expect(p!.byState.done).toBe(1);
    expect(p!.byState.downloading).toBe(2);
    expect(p!.verifiedBytes).toBe(160 * MiB);
    expect(p!.bytesRemaining).toBe(140 * MiB);
    expect(p!.rateBytesPerSecond).toBe(15 * MiB);
    expect(p!.etaSeconds).toBeCloseTo(140 / 15, 6);
    // The same node name in another package is another entry.
    expect(q!.nodes).toBe(1);
    expect(q!.etaSeconds).toBeNull();
    expect(b.size).toBe(4);
  });

  test("a node not heard from for 30 s is lost, unless it finished; its rate no longer counts", () => {
    const { clock, book: b } = book();
    b.report("p", report("quiet", { rateBytesPerSecond: 7 }));
    b.report("p", report("finished", { state: "done", verifiedBytes: 100 * MiB }));
    b.report("p", report("broken", { state: "failed", errorCode: "BT_E_VERIFY", errorMessage: "chunk 3 failed verification" }));
    clock.ms = 30_000;
    expect(b.view()[0]!.byState.lost).toBe(0);
    clock.ms = 30_001;
    const [p] = b.view();
    expect(p!.byState).toMatchObject({ lost: 1, done: 1, failed: 1 });
    expect(p!.rateBytesPerSecond).toBe(0);
    const lost = p!.rows.find((r) => r.name === "quiet")!;
    expect([lost.state, lost.reportedState, lost.secondsSinceHeard]).toEqual(["lost", "downloading", 30.001]);
    // A word from it again and it is back.
    b.report("p", report("quiet", { verifiedBytes: 1 }));
    expect(b.view()[0]!.byState.lost).toBe(0);
  });

  test("a downloading node whose verified bytes have not moved for 60 s is stalled, however often it reports", () => {
    const { clock, book: b } = book();
    b.report("p", report("stuck", { verifiedBytes: 5 * MiB }));
    b.report("p", report("moving", { verifiedBytes: 5 * MiB }));
    for (let t = 2_000; t <= 60_000; t += 2_000) {
      clock.ms = t;
      b.report("p", report("stuck", { verifiedBytes: 5 * MiB }));
      b.report("p", report("moving", { verifiedBytes: 5 * MiB + t }));
    }
    expect(b.view()[0]!.byState.stalled).toBe(0);
    clock.ms = 60_001;
    b.report("p", report("stuck", { verifiedBytes: 5 * MiB }));
    const rows = b.view()[0]!.rows;
    expect(rows.map((r) => [r.name, r.state])).toEqual([["stuck", "stalled"], ["moving", "downloading"]]);
    // Progress ends it.
    b.report("p", report("stuck", { verifiedBytes: 6 * MiB }));
    expect(b.view()[0]!.byState.stalled).toBe(0);
  });

  test("rows list problems first (failed, lost, stalled), then the least far along; the slowest are the least verified not yet finished", () => {
    const { clock, book: b } = book();
    b.report("p", report("gone"));
    clock.ms = 31_000;
    b.report("p", report("done-1", { state: "done", verifiedBytes: 100 * MiB }));
    b.report("p", report("half", { verifiedBytes: 50 * MiB }));
    b.report("p", report("tenth", { verifiedBytes: 10 * MiB }));
    b.report("p", report("bad", { state: "failed", verifiedBytes: 70 * MiB }));
    b.report("p", report("hashing", { state: "verifying", verifiedBytes: 100 * MiB }));
    const [p] = b.view();
    expect(p!.rows.map((r) => r.name)).toEqual(["bad", "gone", "tenth", "half", "hashing", "done-1"]);
    expect(p!.slowest).toEqual(["gone", "tenth", "half", "hashing"]);
  });

  test("bounded: when full, the oldest finished entry goes first, then the one heard from least recently", () => {
    const { clock, book: b } = book({ ...ROLLOUT_LIMITS, maxEntries: 3 });
    b.report("p", report("old-downloading"));
    clock.ms = 1;
    b.report("p", report("done-first", { state: "done", verifiedBytes: 100 * MiB }));
    clock.ms = 2;
    b.report("p", report("done-second", { state: "done", verifiedBytes: 100 * MiB }));
    b.report("p", report("new-1"));
    expect(b.size).toBe(3);
    expect(b.view()[0]!.rows.map((r) => r.name).sort()).toEqual(["done-second", "new-1", "old-downloading"]);
    b.report("p", report("new-2"));
    expect(b.view()[0]!.rows.map((r) => r.name).sort()).toEqual(["new-1", "new-2", "old-downloading"]);
    // No finished entry left: the least recently heard goes.
    b.report("p", report("new-1", { verifiedBytes: 1 }));
    b.report("p", report("new-3"));
    expect(b.view()[0]!.rows.map((r) => r.name).sort()).toEqual(["new-1", "new-2", "new-3"]);
    expect(b.size).toBe(3);
  });

  test("a node that reports again after finishing (a rerun) is no longer first to be forgotten", () => {
    const { book: b } = book({ ...ROLLOUT_LIMITS, maxEntries: 2 });
    b.report("p", report("rerun", { state: "done", verifiedBytes: 100 * MiB }));
    b.report("p", report("other", { state: "done", verifiedBytes: 100 * MiB }));
    b.report("p", report("rerun", { state: "starting" }));
    b.report("p", report("third"));
    expect(b.view()[0]!.rows.map((r) => r.name).sort()).toEqual(["rerun", "third"]);
  });

  test("the view as JSON is encoded once a second at most, and shared by every reader meanwhile", () => {
    const { clock, book: b } = book();
    b.report("p", report("a"));
    const first = b.document();
    expect(JSON.parse(new TextDecoder().decode(first)).packages[0].rows[0].name).toBe("a");
    b.report("p", report("b"));
    clock.ms = 999;
    expect(b.document()).toBe(first);
    clock.ms = 1_000;
    const next = b.document();
    expect(next).not.toBe(first);
    expect(JSON.parse(new TextDecoder().decode(next)).packages[0].nodes).toBe(2);
  });
});

describe("the pace a seed asks of its reporters", () => {
  test("every 2 s up to 4,000 nodes, then about 2,000 reports a second in whole seconds, at most every 10 s", () => {
    expect([0, 1, 4_000, 4_001, 10_000, 19_999, 20_000, 100_000].map(reportPaceMs)).toEqual([2_000, 2_000, 2_000, 3_000, 5_000, 10_000, 10_000, 10_000]);
    for (const nodes of [4_001, 6_000, 10_000, 20_000]) expect((nodes / reportPaceMs(nodes)) * 1000).toBeLessThanOrEqual(REPORTS_PER_SECOND);
  });

  test("a node is shown lost only after missing three reports at the slowest pace", () => {
    expect(ROLLOUT_LIMITS.lostAfterMs).toBeGreaterThanOrEqual(3 * reportPaceMs(Number.MAX_SAFE_INTEGER));
  });
});
