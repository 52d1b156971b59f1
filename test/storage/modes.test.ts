import { expect, test } from "bun:test";
import { appliedMode, octalMode } from "../../src/storage/modes.ts";

test("setuid and setgid are cleared by default, and said to be", () => {
  expect(appliedMode(0o4755, false)).toEqual({ mode: 0o755, stripped: 0o4000 });
  expect(appliedMode(0o2775, false)).toEqual({ mode: 0o775, stripped: 0o2000 });
  expect(appliedMode(0o6711, false)).toEqual({ mode: 0o711, stripped: 0o6000 });
});

test("the sticky bit and plain permissions pass untouched", () => {
  expect(appliedMode(0o1777, false)).toEqual({ mode: 0o1777, stripped: 0 });
  expect(appliedMode(0o644, false)).toEqual({ mode: 0o644, stripped: 0 });
});

test("allowed, every recorded bit is kept", () => {
  expect(appliedMode(0o6755, true)).toEqual({ mode: 0o6755, stripped: 0 });
});

test("modes print as four octal digits", () => {
  expect(octalMode(0o4755)).toBe("4755");
  expect(octalMode(0o644)).toBe("0644");
});
