import { expect, test } from "bun:test";
import { PIPELINE_SECONDS, pipelineDepth, RateMeter, TICK_MS } from "../../src/swarm/pipeline.ts";
import { defaultSchedulerConfig, Scheduler } from "../../src/swarm/scheduler.ts";
import { Bitset } from "../../src/util/bitset.ts";

const MiB = 1024 * 1024;
const chunkSize = 4 * MiB;
/** Bytes per tick that make `perSecond` bytes per second. */
const perTick = (perSecond: number) => (perSecond * TICK_MS) / 1000;

test("an idle peer still gets one request: it must be able to show its rate", () => {
  expect(pipelineDepth(0, chunkSize)).toBe(1);
});

test("the depth covers PIPELINE_SECONDS of the peer's rate; a peer slower than a chunk per PIPELINE_SECONDS gets one request", () => {
  const exactly = chunkSize / PIPELINE_SECONDS;
  expect(pipelineDepth(exactly / 3, chunkSize)).toBe(1);
  expect(pipelineDepth(exactly, chunkSize)).toBe(1);
  expect(pipelineDepth(exactly + 1, chunkSize)).toBe(2);
  expect(pipelineDepth(10 * exactly, chunkSize)).toBe(10);
});

test("the rate starts at zero and weighs each tick 0.3 against the past", () => {
  const meter = new RateMeter();
  expect(meter.rate).toBe(0);
  meter.add(perTick(10 * MiB) / 2);
  meter.add(perTick(10 * MiB) / 2);
  expect(meter.tick()).toBeCloseTo(3 * MiB, 6);
  // The tick's bytes are counted once: an empty tick only decays the rate.
  expect(meter.tick()).toBeCloseTo(0.7 * 3 * MiB, 6);
});

test("a steady peer's rate converges on its true rate within a few seconds", () => {
  const meter = new RateMeter();
  for (let t = 0; t < 5000 / TICK_MS; t++) {
    meter.add(perTick(40 * MiB));
    meter.tick();
  }
  expect(meter.rate / (40 * MiB)).toBeGreaterThan(0.99);
  expect(pipelineDepth(meter.rate, chunkSize)).toBe(10);
});

test("one quiet tick between chunks does not empty the pipeline", () => {
  const meter = new RateMeter();
  for (let t = 0; t < 20; t++) {
    meter.add(perTick(40 * MiB));
    meter.tick();
  }
  meter.tick();
  // 0.7 x 40 MiB/s: 7 chunks a second still in flight.
  expect(pipelineDepth(meter.rate, chunkSize)).toBe(7);
});

test("the scheduler keeps the depth within 1..--concurrency", () => {
  const s = new Scheduler(defaultSchedulerConfig(100, { requestsPerPeer: 4, randomFirstPicks: 0 }), new Bitset(100));
  s.addPeer("fast");
  s.setBitfield("fast", Bitset.full(100));
  s.setDepth("fast", pipelineDepth(1000 * MiB, chunkSize));
  expect(s.nextRequests("fast")).toHaveLength(4);
  s.addPeer("idle");
  s.setBitfield("idle", Bitset.full(100));
  s.setDepth("idle", 0);
  expect(s.nextRequests("idle")).toHaveLength(1);
});

test("a freed request slot goes to the fastest peer: peers are ordered by their rate, as of the last tick", () => {
  const s = new Scheduler(defaultSchedulerConfig(100, { randomFirstPicks: 0 }), new Bitset(100));
  for (const key of ["slow", "fast", "idle"]) {
    s.addPeer(key);
    s.setBitfield(key, Bitset.full(100));
  }
  s.progressed("slow", 1 * MiB);
  s.progressed("fast", 9 * MiB);
  for (const key of ["slow", "fast", "idle"]) s.tick(key);
  expect(s.peersByRate()).toEqual(["fast", "slow", "idle"]);
  // Bytes arriving between ticks change nothing until the next tick.
  s.progressed("idle", 50 * MiB);
  expect(s.peersByRate()).toEqual(["fast", "slow", "idle"]);
  for (const key of ["slow", "fast", "idle"]) s.tick(key);
  expect(s.peersByRate()[0]).toBe("idle");
});
