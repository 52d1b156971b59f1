import { expect, test } from "bun:test";
import fc from "fast-check";
import { Availability } from "../../src/swarm/availability.ts";
import { rarestFirst } from "../../src/swarm/picker.ts";

type Step = { op: "inc" | "dec" | "remove" | "add"; chunk: number };

/** Applies HAVEs, departures, requests, dropped requests and commits at random, and checks the order against plain counting after each. */
test("the open chunks stay sorted by how many peers have them, whatever the sequence of changes", () => {
  const chunks = 24;
  const step = fc.record({ op: fc.constantFrom("inc", "inc", "dec", "remove", "add"), chunk: fc.nat(chunks - 1) }) as fc.Arbitrary<Step>;
  fc.assert(
    fc.property(fc.array(fc.nat(chunks - 1), { maxLength: 8 }), fc.array(step, { maxLength: 300 }), (ownedAtStart, steps) => {
      const counts = new Array(chunks).fill(0);
      const missing = new Set(Array.from({ length: chunks }, (_, c) => c).filter((c) => !ownedAtStart.includes(c)));
      const a = new Availability(chunks, (c) => missing.has(c), Math.random);
      for (const { op, chunk } of steps) {
        if (op === "inc") {
          counts[chunk]++;
          a.increment(chunk);
        } else if (op === "dec" && counts[chunk] > 0) {
          counts[chunk]--;
          a.decrement(chunk);
        } else if (op === "remove") {
          missing.delete(chunk);
          a.remove(chunk);
        } else if (op === "add") {
          missing.add(chunk);
          a.add(chunk);
        }
        const order = [...a.rarestFirst()];
        expect(order.toSorted((x, y) => x - y)).toEqual([...missing].toSorted((x, y) => x - y));
        for (let i = 1; i < order.length; i++) expect(counts[order[i - 1]!]).toBeLessThanOrEqual(counts[order[i]!]);
        for (let c = 0; c < chunks; c++) expect(a.of(c)).toBe(counts[c]);
        expect(a.openCount).toBe(missing.size);
      }
    }),
    { numRuns: 300 },
  );
});

test("rarest first takes the first eligible candidates and looks no further", () => {
  const counts = [5, 1, 3, 1, 2, 4, 1, 6];
  const a = new Availability(counts.length, () => true, Math.random);
  counts.forEach((n, c) => {
    for (let i = 0; i < n; i++) a.increment(c);
  });
  const looked: number[] = [];
  const picks = rarestFirst(2, {
    candidates: a.rarestFirst(),
    holds: () => true,
    held: counts.length,
    eligible: (c) => (looked.push(c), c !== 1),
    random: () => 0.5,
  });
  // Chunk 1 is not eligible: two of the three chunks one peer has, and nothing after them.
  expect(picks.toSorted()).toEqual([3, 6]);
  expect(looked.length).toBeLessThanOrEqual(3);
});

test("chunks equally rare come in a different order on each node, and every order is possible", () => {
  const firsts = new Map<number, number>();
  for (let node = 0; node < 400; node++) {
    const a = new Availability(8, () => true, Math.random);
    // One seed announces everything in index order, then a peer with the first half.
    for (let c = 0; c < 8; c++) a.increment(c);
    for (let c = 0; c < 4; c++) a.increment(c);
    a.remove(5);
    a.add(5);
    const first = a.rarestFirst()[0]!;
    firsts.set(first, (firsts.get(first) ?? 0) + 1);
  }
  // The rarest are 4..7; each leads on about a quarter of the nodes (100 ± 40 out of 400).
  expect([...firsts.keys()].toSorted()).toEqual([4, 5, 6, 7]);
  for (const n of firsts.values()) expect(n).toBeGreaterThan(60);
});

test("looking stops once every candidate the peer has was seen, though fewer than the limit were found", () => {
  const order = [4, 0, 6, 2, 7, 1, 3, 5];
  const peerHas = new Set([0, 2]);
  const tested: number[] = [];
  const picks = rarestFirst(3, {
    candidates: order,
    holds: (c) => (tested.push(c), peerHas.has(c)),
    held: peerHas.size,
    eligible: () => true,
    random: () => 0.5,
  });
  expect(picks.toSorted()).toEqual([0, 2]);
  expect(tested).toEqual([4, 0, 6, 2]);
});
