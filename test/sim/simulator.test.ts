import { expect, test } from "bun:test";
import { NET } from "../../src/config.ts";
import { EventQueue } from "../../src/sim/event-queue.ts";
import { fluidBound, percentile } from "../../src/sim/report.ts";
import { PAYLOAD_SHARE, type SimulationOptions, type SimulationProgress, Simulator } from "../../src/sim/simulator.ts";

const MiB = 1024 * 1024;

/** A swarm of `nodes` downloaders and one seed, all at `rate` bits/s. */
const swarm = (nodes: number, rate: number, size: number, more: Partial<SimulationOptions> = {}) =>
  new Simulator({ nodes, seeds: 1, rates: [rate], seedRate: rate, size, chunkSize: 4 * MiB, rttMs: 1, joinLate: 0, leave: 0, randomSeed: 1, ...more }).run();

test("events run in time order, and those due at the same moment in the order they were scheduled", () => {
  const clock = new EventQueue();
  const seen: string[] = [];
  clock.at(30, () => seen.push("c"));
  clock.at(10, () => {
    seen.push("a");
    clock.after(0, () => seen.push("a2"));
    clock.after(20, () => seen.push("b2"));
  });
  clock.at(30, () => seen.push("d"));
  clock.at(30, () => seen.push("e"));
  clock.run(Infinity, () => false);
  expect(seen).toEqual(["a", "a2", "c", "d", "e", "b2"]);
  expect(clock.now).toBe(30);
  expect(clock.processed).toBe(6);
});

test("the run stops at the cut-off with the clock there, leaving later events", () => {
  const clock = new EventQueue();
  const seen: number[] = [];
  for (const at of [5, 50, 500]) clock.at(at, () => seen.push(at));
  clock.run(100, () => false);
  expect(seen).toEqual([5, 50]);
  expect(clock.now).toBe(100);
  expect(clock.size).toBe(0);
});

test("the fluid bound is the largest of the seeds' uplink, the slowest downlink and all uplinks together", () => {
  const F = 1000;
  // Seed-bound: one slow seed.
  expect(fluidBound({ size: F, seedUpload: 10, uploads: [100, 100], downloads: [100, 100] })).toBe(100);
  // Downlink-bound: one slow downloader.
  expect(fluidBound({ size: F, seedUpload: 1000, uploads: [1000, 1000], downloads: [1000, 5] })).toBe(200);
  // Upload-bound: N copies over everyone's uplinks.
  expect(fluidBound({ size: F, seedUpload: 200, uploads: [100, 100, 100], downloads: [1e6, 1e6, 1e6] })).toBe(6);
});

test("with racks, a rack without a seed must take one copy through its uplink, and feeds its nodes from their uplinks and that one", () => {
  const F = 1000;
  const flat = { size: F, seedUpload: 1000, uploads: [1000, 1000, 1000, 1000], downloads: [1000, 1000, 1000, 1000] };
  expect(fluidBound(flat)).toBe(1);
  // A slow uplink to the spine: one copy through it takes 10.
  expect(fluidBound({ ...flat, racks: { uplink: 100, others: [{ downloaders: 2, upload: 2000 }] } })).toBe(10);
  // Many nodes behind it: 20 copies over their uplinks and the rack's, 20 * 1000 / (1000 + 1000).
  expect(fluidBound({ ...flat, racks: { uplink: 1000, others: [{ downloaders: 20, upload: 1000 }] } })).toBe(10);
  // No other rack: nothing to cross.
  expect(fluidBound({ ...flat, racks: { uplink: 1, others: [] } })).toBe(1);
});

test("percentiles are nearest-rank", () => {
  const xs = Array.from({ length: 100 }, (_, i) => i + 1);
  expect(percentile(xs, 50)).toBe(50);
  expect(percentile(xs, 99)).toBe(99);
  expect(percentile(xs, 100)).toBe(100);
  expect(percentile([7], 99)).toBe(7);
  expect(percentile([], 50)).toBeNaN();
});

test("a small swarm completes every node, none faster than the bound, and a super-seeding seed sends about one copy", () => {
  const r = swarm(8, 100e6, 256 * MiB);
  expect(r.completed).toBe(8);
  expect(r.failed + r.unfinished).toBe(0);
  expect(r.p50_over_bound).toBeGreaterThanOrEqual(1);
  expect(r.slowest_over_bound).toBeLessThan(1.6);
  expect(r.seed_upload_copies).toBeGreaterThanOrEqual(1);
  expect(r.seed_upload_copies).toBeLessThan(1.5);
  expect(r.simulated_seconds).toBeGreaterThanOrEqual(r.completion_seconds.max);
});

test("the uplinks are sampled every tenth of the bound until the last downloader is done", () => {
  const r = swarm(8, 100e6, 64 * MiB);
  const use = r.uplink_use;
  expect(use.map((u) => u.at_bound)).toEqual(use.map((_, i) => (i + 1) / 10));
  // Until the run ends, when the last downloader is done.
  expect(use.length).toBe(Math.floor(r.simulated_seconds / (r.bound_seconds / 10)));
  expect(use.every((u, i) => u.done < 1 && (i === 0 || u.done >= use[i - 1]!.done))).toBe(true);
  for (const u of use) expect(u.busy).toBeWithin(0, 1.0001);
  // Mid-run the downloaders trade: their uplinks carry something.
  expect(Math.max(...use.map((u) => u.busy))).toBeGreaterThan(0.3);
});

test("a run says how far it is as it goes: simulated time and events only grow, downloaders done never pass the total, and the last report comes before the end", () => {
  const sim = new Simulator({ nodes: 30, seeds: 1, rates: [100e6], seedRate: 100e6, size: 64 * MiB, chunkSize: 256 * 1024, rttMs: 1, joinLate: 0, leave: 0, randomSeed: 1 });
  const reports: SimulationProgress[] = [];
  // Every check (each PROGRESS_CHECK_EVENTS events) reports when the interval is 0, on any machine.
  const r = sim.run((p) => reports.push(p), 0);
  expect(reports.length).toBeGreaterThan(1);
  for (let i = 1; i < reports.length; i++) {
    expect(reports[i]!.simulatedSeconds).toBeGreaterThanOrEqual(reports[i - 1]!.simulatedSeconds);
    expect(reports[i]!.events).toBeGreaterThan(reports[i - 1]!.events);
    expect(reports[i]!.settled).toBeGreaterThanOrEqual(reports[i - 1]!.settled);
  }
  const last = reports.at(-1)!;
  expect(last.downloaders).toBe(30);
  expect(last.settled).toBeLessThan(30);
  expect(last.events).toBeLessThanOrEqual(r.events);
  expect(last.simulatedSeconds).toBeLessThanOrEqual(r.simulated_seconds);
  // bound_seconds is rounded to the millisecond.
  expect(last.overBound).toBeCloseTo(last.simulatedSeconds / r.bound_seconds, 2);
});

test("completion counts from each node's own start against the payload-rate bound; the line-rate figures count from the launch, as the lab does", () => {
  const r = swarm(8, 100e6, 64 * MiB);
  expect(r.bound_seconds).toBeCloseTo(r.line_rate.bound_seconds / PAYLOAD_SHARE, 2);
  // Each start comes within a second of the launch, so the lab's count is longer by up to
  // that, and its bound shorter by the framing.
  const slowestFromLaunch = r.line_rate.slowest_over_bound * r.line_rate.bound_seconds;
  expect(slowestFromLaunch).toBeGreaterThanOrEqual(r.completion_seconds.max);
  expect(slowestFromLaunch).toBeLessThanOrEqual(r.completion_seconds.max + 1.001);
  expect(r.slowest_over_bound).toBeCloseTo(r.completion_seconds.max / r.bound_seconds, 2);
  expect(r.slowest_over_bound).toBeGreaterThanOrEqual(1);
});

test("the same random seed gives the same run; another seed, another run", () => {
  const { wall_seconds: _a, events_per_second: _b, ...first } = swarm(12, 1e9, 64 * MiB);
  const { wall_seconds: _c, events_per_second: _d, ...again } = swarm(12, 1e9, 64 * MiB);
  const other = swarm(12, 1e9, 64 * MiB, { randomSeed: 2 });
  expect(again).toEqual(first);
  expect(other.completion_seconds).not.toEqual(first.completion_seconds);
});

test("a swarm three times the peer limit, every node told only the seed: every node completes", () => {
  // Past 50 peers the seed turns nodes away; they must still find the rest of the swarm.
  const r = swarm(150, 1e9, 32 * MiB);
  expect(r.completed).toBe(150);
  expect(r.failed).toBe(0);
  expect(r.log_events["peer-refused"]).toBeGreaterThan(0);
});

test("leavers are counted apart and everyone else completes; late joiners still finish", () => {
  const r = swarm(40, 1e9, 64 * MiB, { leave: 0.25, joinLate: 0.25 });
  expect(r.left_mid_way).toBe(10);
  expect(r.completed).toBe(30);
  expect(r.failed + r.unfinished).toBe(0);
});

test("a mix of rates: the bound follows the slowest downlink, and the swarm stays above it", () => {
  const r = new Simulator({ nodes: 10, seeds: 1, rates: [1e9, 100e6], seedRate: 1e9, size: 64 * MiB, chunkSize: 4 * MiB, rttMs: 1, joinLate: 0, leave: 0, randomSeed: 3 }).run();
  // At the payload rate; the line-rate bound stands beside it.
  expect(r.bound_seconds).toBeCloseTo((64 * MiB) / ((100e6 / 8) * PAYLOAD_SHARE), 2);
  expect(r.line_rate.bound_seconds).toBeCloseTo((64 * MiB) / (100e6 / 8), 2);
  expect(r.completed).toBe(10);
  expect(r.p50_over_bound).toBeGreaterThanOrEqual(0.5);
  expect(r.slowest_over_bound).toBeGreaterThanOrEqual(1);
});

test("racks: transfers between racks cross their uplinks, every rack takes at least one copy, and the bound counts the slow uplink", () => {
  const racks = { count: 3, uplinkBitsPerSecond: 200e6, zones: false };
  const r = swarm(12, 1e9, 32 * MiB, { racks });
  expect(r.completed).toBe(12);
  expect(r.racks).toEqual({ count: 3, uplink_bits_per_second: 200e6, zones: false });
  // 32 MiB through a 200 Mbit/s uplink, at the payload rate, is more than any flat term.
  expect(r.bound_seconds).toBeCloseTo((32 * MiB) / ((200e6 / 8) * PAYLOAD_SHARE), 2);
  expect(r.slowest_over_bound).toBeGreaterThanOrEqual(1);
  expect(r.cross_rack_copies!).toBeGreaterThanOrEqual(1);
  const flat = swarm(12, 1e9, 32 * MiB);
  expect(flat.racks).toBeNull();
  expect(flat.cross_rack_copies).toBeNull();
});

test("zones: with its rack as its zone, each rack takes in about one copy through its uplink; without, many, on the same racks", () => {
  const racks = (zones: boolean) => ({ racks: { count: 3, uplinkBitsPerSecond: 4e9, zones }, chunkSize: 256 * 1024 });
  const zoned = swarm(30, 1e9, 32 * MiB, racks(true));
  const blind = swarm(30, 1e9, 32 * MiB, racks(false));
  expect(zoned.completed).toBe(30);
  expect(blind.completed).toBe(30);
  expect(zoned.racks!.zones).toBe(true);
  expect(zoned.cross_rack_copies!).toBeGreaterThanOrEqual(1);
  expect(zoned.cross_rack_copies!).toBeLessThan(1.5);
  expect(blind.cross_rack_copies!).toBeGreaterThan(3);
});

test("a CANCEL stops an upload only at what its connection had not yet queued: the rest of a begun chunk of 2 MiB still goes out, and the next chunk follows it", () => {
  const chunkSize = NET.maxWriteBacklog;
  const sim = new Simulator({ nodes: 1, seeds: 1, rates: [100e6], seedRate: 100e6, size: 16 * chunkSize, chunkSize, rttMs: 1, joinLate: 0, leave: 0, randomSeed: 1, maxSimulatedMs: 1_500 });
  sim.run();
  const seed = sim.nodes[0]!;
  const [end] = [...seed.core.connections.peers()];
  // Started within the first second, the getter is being sent a chunk at 1.5 s.
  const flow = end!.sending!;
  expect(flow).not.toBeNull();
  const chunk = end!.sendingChunk;
  const left = flow.bytes - flow.sentBy(sim.clock.now);
  expect(left).toBeGreaterThan(0);
  const uploadedBefore = seed.core.upload.uploadedBytes;
  seed.receive(end!, { type: "CANCEL", index: chunk });
  expect(end!.sending).toBeNull();
  expect(end!.draining!.bytes).toBeCloseTo(left, 0);
  // The getter's pipeline had more queued here: the next waits behind what is still going out.
  expect(end!.nextChunk).toBeGreaterThanOrEqual(0);
  sim.clock.run(sim.clock.now + 10_000, () => end!.draining === null);
  expect(end!.draining).toBeNull();
  expect(end!.sending).not.toBeNull();
  expect(seed.core.upload.uploadedBytes - uploadedBefore).toBeGreaterThanOrEqual(chunkSize);
});
