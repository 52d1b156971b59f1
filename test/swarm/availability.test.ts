import { expect, test } from "bun:test";
import fc from "fast-check";
import { Availability } from "../../src/swarm/availability.ts";
import { rarestFirst } from "../../src/swarm/picker.ts";

type Step = { op: "inc" | "dec" | "remove"; chunk: number };

/** Applies HAVEs, departures and commits at random, and checks the order against plain counting after each. */
test("the missing chunks stay sorted by how many peers have them, whatever the sequence of changes", () => {
  const chunks = 24;
  const step = fc.record({ op: fc.constantFrom("inc", "inc", "dec", "remove"), chunk: fc.nat(chunks - 1) }) as fc.Arbitrary<Step>;
  fc.assert(
    fc.property(fc.array(fc.nat(chunks - 1), { maxLength: 8 }), fc.array(step, { maxLength: 300 }), (ownedAtStart, steps) => {
      const counts = new Array(chunks).fill(0);
      const missing = new Set(Array.from({ length: chunks }, (_, c) => c).filter((c) => !ownedAtStart.includes(c)));
      const a = new Availability(chunks, (c) => missing.has(c));
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
        }
        const order = [...a.rarestFirst()];
        expect(order.toSorted((x, y) => x - y)).toEqual([...missing].toSorted((x, y) => x - y));
        for (let i = 1; i < order.length; i++) expect(counts[order[i - 1]!]).toBeLessThanOrEqual(counts[order[i]!]);
        for (let c = 0; c < chunks; c++) expect(a.of(c)).toBe(counts[c]);
        expect(a.missingCount).toBe(missing.size);
      }
    }),
    { numRuns: 300 },
  );
});

test("rarest first stops looking once no chunk further on can be rarer than its picks", () => {
  const counts = [5, 1, 3, 1, 2, 4, 1, 6];
  const a = new Availability(counts.length, () => true);
  counts.forEach((n, c) => {
    for (let i = 0; i < n; i++) a.increment(c);
  });
  const looked: number[] = [];
  const picks = rarestFirst(2, {
    candidates: a.rarestFirst(),
    holds: () => true,
    held: counts.length,
    availability: a.all,
    eligible: (c) => (looked.push(c), true),
    random: () => 0.5,
  });
  expect(picks.map((c) => counts[c])).toEqual([1, 1]);
  // The three chunks one peer has, then the first chunk two peers have ends the look.
  expect(looked).toHaveLength(3);
});

test("looking stops once every candidate the peer has was seen, though fewer than the limit were found", () => {
  const order = [4, 0, 6, 2, 7, 1, 3, 5];
  const peerHas = new Set([0, 2]);
  const tested: number[] = [];
  const picks = rarestFirst(3, {
    candidates: order,
    holds: (c) => (tested.push(c), peerHas.has(c)),
    held: peerHas.size,
    availability: new Array(8).fill(1),
    eligible: () => true,
    random: () => 0.5,
  });
  expect(picks.toSorted()).toEqual([0, 2]);
  expect(tested).toEqual([4, 0, 6, 2]);
});
