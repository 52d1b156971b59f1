import { describe, expect, test } from "bun:test";
import { parseDuration, parseRate, parseSize } from "../../src/util/units.ts";

describe("parseRate reads a rate into bytes per second", () => {
  test("a bare number with a prefix is in the command's own unit: bytes for get and serve, bits for simulate's NICs", () => {
    expect(parseRate("100M", "bytes")).toBe(100_000_000);
    expect(parseRate("100M", "bits")).toBe(12_500_000);
    expect(parseRate("100", "bytes")).toBe(100);
    expect(parseRate("100", "bits")).toBe(12.5);
  });

  test.each([
    ["100MB", 100_000_000],
    ["10MBps", 10_000_000],
    ["50MiB", 50 * 1024 ** 2],
    ["50mib", 50 * 1024 ** 2],
    ["50MiB/s", 50 * 1024 ** 2],
    ["64KiB", 64 * 1024],
    ["1.5GB", 1_500_000_000],
  ])("an explicit byte unit means bytes whatever the bare unit: %p", (text, bytes) => {
    expect(parseRate(text, "bytes")).toBe(bytes);
    expect(parseRate(text, "bits")).toBe(bytes);
  });

  test.each([
    ["800Mbit", 100_000_000],
    ["100Mbit/s", 12_500_000],
    ["100mbits", 12_500_000],
    ["1Gbps", 125_000_000],
  ])("an explicit bit unit means bits whatever the bare unit: %p", (text, bytes) => {
    expect(parseRate(text, "bytes")).toBe(bytes);
    expect(parseRate(text, "bits")).toBe(bytes);
  });

  test("0 is read as 0 (the flags take it as no limit)", () => {
    expect(parseRate("0", "bytes")).toBe(0);
    expect(parseRate("0", "bits")).toBe(0);
  });

  test.each(["100mb", "100Mb/s", "100Mb", "100x", "", "M", "-5M", "5 M B"])("an ambiguous or unreadable rate is refused, not guessed: %p", (text) => {
    expect(parseRate(text, "bytes")).toBeNull();
    expect(parseRate(text, "bits")).toBeNull();
  });
});

describe("parseSize reads a size in bytes", () => {
  test.each([
    ["4MiB", 4 * 1024 ** 2],
    ["64KiB", 65_536],
    ["64kib", 65_536],
    ["100M", 100_000_000],
    ["2GB", 2_000_000_000],
    ["1.5k", 1_500],
    ["4 MiB", 4 * 1024 ** 2],
    ["512", 512],
    ["512B", 512],
    ["0", 0],
  ])("%p", (text, bytes) => {
    expect(parseSize(text)).toBe(bytes);
  });

  test.each(["lots", "", "4Mbit", "-1", "1.5", "1e3", "4MiB/s"])("anything else, a fraction of a byte included, is null: %p", (text) => {
    expect(parseSize(text)).toBeNull();
  });
});

describe("parseDuration reads a duration in milliseconds", () => {
  test.each([
    ["30s", 30_000],
    ["500ms", 500],
    ["2m", 120_000],
    ["1h", 3_600_000],
    ["1.5s", 1_500],
    ["5", 5_000],
    ["0", 0],
  ])("%p (a bare number is seconds)", (text, ms) => {
    expect(parseDuration(text)).toBe(ms);
  });

  test.each(["5 minutes", "1d", "", "-1s", "2M", "s"])("anything else is null: %p", (text) => {
    expect(parseDuration(text)).toBeNull();
  });
});
