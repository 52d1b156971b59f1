import { expect, test } from "bun:test";
import { Histogram } from "../../src/util/histogram.ts";

test("percentiles land within one bucket (5%) of the exact value", () => {
  const h = new Histogram();
  for (let i = 1; i <= 1000; i++) h.add(i);
  for (const [p, exact] of [[50, 500], [95, 950], [99, 990]] as const) {
    expect(h.percentile(p)).toBeGreaterThanOrEqual(exact);
    expect(h.percentile(p)).toBeLessThanOrEqual(exact * 1.05);
  }
  expect(h.count).toBe(1000);
});

test("an empty histogram reports 0", () => {
  expect(new Histogram().percentile(99)).toBe(0);
});
