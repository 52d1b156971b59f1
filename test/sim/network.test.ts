import { expect, test } from "bun:test";
import fc from "fast-check";
import { EventQueue } from "../../src/sim/event-queue.ts";
import { type Flow, FlowFinishes, FluidNetwork, Port } from "../../src/sim/network.ts";

/** Weighted max-min rates by progressive filling: every unfrozen flow grows with its weight until a port fills. */
function progressiveFilling(flows: Flow[]): Map<Flow, number> {
  const rate = new Map(flows.map((f) => [f, 0]));
  const frozen = new Set<Flow>();
  const ports = [...new Set(flows.flatMap((f) => f.ports))];
  while (frozen.size < flows.length) {
    let step = Infinity;
    for (const p of ports) {
      const live = p.flows.filter((f) => !frozen.has(f));
      const weight = live.reduce((a, f) => a + f.weight, 0);
      if (weight === 0) continue;
      const used = p.flows.reduce((a, f) => a + rate.get(f)!, 0);
      step = Math.min(step, (p.capacity - used) / weight);
    }
    for (const f of flows) if (!frozen.has(f)) rate.set(f, rate.get(f)! + step * f.weight);
    for (const p of ports) {
      const used = p.flows.reduce((a, f) => a + rate.get(f)!, 0);
      if (used >= p.capacity * (1 - 1e-9)) for (const f of p.flows) frozen.add(f);
    }
  }
  return rate;
}

test("two flows out of one uplink share it by weight; a flow held lower at its downlink leaves the rest to the other", () => {
  const net = new FluidNetwork();
  const up = new Port(100);
  const fastDown = new Port(1000);
  const slowDown = new Port(10);
  const a = net.start(up, fastDown, 1e6, 1, 0);
  const b = net.start(up, new Port(1000), 1e6, 3, 0);
  expect(a.rate).toBeCloseTo(25, 6);
  expect(b.rate).toBeCloseTo(75, 6);
  net.stop(b, 0);
  expect(a.rate).toBeCloseTo(100, 6);
  const c = net.start(up, slowDown, 1e6, 1, 0);
  expect(c.rate).toBeCloseTo(10, 6);
  expect(a.rate).toBeCloseTo(90, 6);
});

test("a flow's bytes follow its rates over time, and its finish time moves when the rate does", () => {
  const net = new FluidNetwork();
  const up = new Port(1000);
  const a = net.start(up, new Port(1e9), 3000, 1, 0);
  expect(a.finishAt()).toBeCloseTo(3000, 6);
  const b = net.start(up, new Port(1e9), 1e9, 1, 1000);
  // 1000 bytes went alone in the first second; the rest goes at half the rate.
  expect(a.sentBy(1000)).toBeCloseTo(1000, 6);
  expect(a.finishAt()).toBeCloseTo(5000, 6);
  expect(net.takeChanged()).toContain(a);
  net.stop(b, 2000);
  expect(a.sentBy(2000)).toBeCloseTo(1500, 6);
  expect(a.finishAt()).toBeCloseTo(3500, 6);
});

test("a shared port (one machine's CPU) caps the flows together, whatever their links allow", () => {
  const cpu = new Port(150);
  const net = new FluidNetwork(cpu);
  const flows = [0, 1, 2].map(() => net.start(new Port(100), new Port(100), 1e9, 1, 0));
  for (const f of flows) expect(f.rate).toBeCloseTo(50, 6);
  net.stop(flows[0]!, 0);
  for (const f of flows.slice(1)) expect(f.rate).toBeCloseTo(75, 6);
});

test("after any sequence of flows starting and stopping, the rates are the weighted max-min fair ones, with or without a shared port and racks", () => {
  fc.assert(
    fc.property(
      fc.integer({ min: 2, max: 6 }),
      fc.option(fc.integer({ min: 1, max: 300 })),
      fc.option(fc.integer({ min: 1, max: 200 })),
      fc.array(fc.tuple(fc.nat(), fc.nat(), fc.double({ min: 0.5, max: 1.5, noNaN: true }), fc.boolean()), { minLength: 1, maxLength: 25 }),
      fc.array(fc.integer({ min: 1, max: 100 }), { minLength: 12, maxLength: 12 }),
      (nodes, sharedCapacity, rackCapacity, steps, capacities) => {
        const shared = sharedCapacity === null ? null : new Port(sharedCapacity);
        // Two racks, odd nodes in one and even in the other: a flow between them crosses both racks' uplinks.
        const rackUps = rackCapacity === null ? [] : [new Port(rackCapacity), new Port(rackCapacity)];
        const rackDowns = rackCapacity === null ? [] : [new Port(rackCapacity), new Port(rackCapacity)];
        const racksBetween = (src: number, dst: number) => (rackCapacity === null || src % 2 === dst % 2 ? [] : [rackUps[src % 2]!, rackDowns[dst % 2]!]);
        const net = new FluidNetwork(shared);
        const ups = Array.from({ length: nodes }, (_, i) => new Port(capacities[i]!));
        const downs = Array.from({ length: nodes }, (_, i) => new Port(capacities[6 + i]!));
        const live: Flow[] = [];
        for (const [from, to, weight, stopOne] of steps) {
          const src = from % nodes;
          const dst = (src + 1 + (to % (nodes - 1))) % nodes;
          live.push(net.start(ups[src]!, downs[dst]!, 1e9, weight, 0, racksBetween(src, dst)));
          if (stopOne && live.length > 1) net.stop(live.splice(to % live.length, 1)[0]!, 0);
        }
        const exact = progressiveFilling(live);
        for (const f of live) expect(Math.abs(f.rate - exact.get(f)!)).toBeLessThanOrEqual(0.01 * exact.get(f)! + 1e-9);
        // No port carries more than its capacity.
        for (const p of [...ups, ...downs, ...rackUps, ...rackDowns, ...(shared ? [shared] : [])]) expect(p.flows.reduce((a, f) => a + f.rate, 0)).toBeLessThanOrEqual(p.capacity * 1.001);
      },
    ),
    { numRuns: 300 },
  );
});

test("a port counts the bytes of the flows that crossed it once they are done, sent in full or cut off", () => {
  const net = new FluidNetwork();
  const up = new Port(1000);
  const rackUp = new Port(500);
  const rackDown = new Port(500);
  const down = new Port(1000);
  const across = net.start(up, down, 2000, 1, 0, [rackUp, rackDown]);
  const within = net.start(new Port(1000), down, 1000, 1, 0);
  expect(across.rate).toBeCloseTo(500, 6);
  net.stop(across, 2000);
  net.stop(within, 2000);
  expect(rackUp.carriedBytes).toBeCloseTo(1000, 6);
  expect(rackDown.carriedBytes).toBeCloseTo(1000, 6);
  expect(down.carriedBytes).toBeCloseTo(2000, 6);
});

test("a flow is reported finished when its last byte leaves, however its rate moved, with no event per change of rate", () => {
  const clock = new EventQueue();
  const net = new FluidNetwork();
  const finished: [string, number][] = [];
  const finishes = new FlowFinishes(clock, (flow) => {
    finished.push([flow.tag as string, clock.now]);
    net.stop(flow, clock.now);
    finishes.changed(net.takeChanged());
  });
  const up = new Port(100);
  const start = (name: string, bytes: number) => {
    const flow = net.start(up, new Port(1e9), bytes, 1, clock.now);
    flow.tag = name;
    finishes.changed(net.takeChanged());
  };
  start("a", 1000); // alone: due at 10 s
  clock.at(2_000, () => start("b", 1000)); // a slows to 50/s: 800 bytes left, due at 18 s
  clock.run(Infinity, () => false);
  // b sent 800 bytes by 18 s, then has the port to itself: 200 more at 100/s.
  expect(finished.map(([name]) => name)).toEqual(["a", "b"]);
  expect(finished[0]![1]).toBeCloseTo(18_000, 6);
  expect(finished[1]![1]).toBeCloseTo(20_000, 6);
  // b's start, a's first event (10 s, set again), a's finish, b's finish and the one superseded (22 s).
  expect(clock.processed).toBe(5);
});
