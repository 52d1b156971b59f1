import { describe, expect, test } from "bun:test";
import { jsHasher } from "../../src/hash/fallback.ts";
import { largestPowerOfTwoBelow } from "../../src/hash/merkle.ts";
import { loadNativeHasher } from "../../src/hash/native.ts";
import { toHex } from "../../src/util/units.ts";
import { seededBytes, sha256Hex } from "../helpers/fixtures.ts";

const native = loadNativeHasher();
const backends = [jsHasher, ...(native ? [native] : [])];
const hex = (s: string) => Buffer.from(s, "hex");
const leaf = (h: Uint8Array) => hex(sha256Hex(Uint8Array.of(0), h));
const inner = (l: Uint8Array, r: Uint8Array) => hex(sha256Hex(Uint8Array.of(1), l, r));

// The worked example of docs/format.md: chunks "a", "b", "c".
const WORKED = {
  digests: ["a", "b", "c"].map((s) => hex(sha256Hex(s))),
  root: "cac3d448d4e20a2ad5eae1f500e63c2a7f9217cd14572ba7fd22e26dc1ec2648",
};

describe.each(backends.map((b) => [b.name, b] as const))("%s Merkle root", (_, h) => {
  test("matches the worked example in docs/format.md", () => {
    expect(toHex(h.merkleRoot(Buffer.concat(WORKED.digests)))).toBe(WORKED.root);
  });

  test("of one chunk is SHA-256(0x00 || h0)", () => {
    const h0 = hex(sha256Hex("only chunk"));
    expect(toHex(h.merkleRoot(h0))).toBe(toHex(leaf(h0)));
  });

  test("of no chunks is SHA-256 of the empty string, as in RFC 6962", () => {
    expect(toHex(h.merkleRoot(new Uint8Array(0)))).toBe(sha256Hex(""));
  });

  test("splits at the largest power of two below n (5 leaves: 4 | 1; 7 leaves: 4 | 2+1)", () => {
    const d = Array.from({ length: 7 }, (_, i) => hex(sha256Hex(`chunk ${i}`)));
    const L = d.map(leaf);
    const four = inner(inner(L[0]!, L[1]!), inner(L[2]!, L[3]!));
    expect(toHex(h.merkleRoot(Buffer.concat(d.slice(0, 5))))).toBe(toHex(inner(four, L[4]!)));
    expect(toHex(h.merkleRoot(Buffer.concat(d)))).toBe(toHex(inner(four, inner(inner(L[4]!, L[5]!), L[6]!))));
  });

  test("changes when any digest changes or two digests swap", () => {
    const digests = seededBytes(32 * 9, 3);
    const root = toHex(h.merkleRoot(digests));
    const flipped = digests.slice();
    flipped[32 * 6 + 5]! ^= 1;
    expect(toHex(h.merkleRoot(flipped))).not.toBe(root);
    const swapped = digests.slice();
    swapped.set(digests.subarray(0, 32), 32);
    swapped.set(digests.subarray(32, 64), 0);
    expect(toHex(h.merkleRoot(swapped))).not.toBe(root);
  });
});

test.if(native !== null)("native and JS roots agree for every size from 0 to 300 chunks (needs the native addon: ./scripts/bootstrap.sh with a Rust toolchain)", () => {
  const digests = seededBytes(32 * 300, 11);
  for (let n = 0; n <= 300; n++) {
    const slice = digests.subarray(0, 32 * n);
    expect(toHex(native!.merkleRoot(slice))).toBe(toHex(jsHasher.merkleRoot(slice)));
  }
});

test("largestPowerOfTwoBelow is strictly below n", () => {
  expect([2, 3, 4, 5, 8, 9, 1000].map(largestPowerOfTwoBelow)).toEqual([1, 2, 2, 4, 4, 8, 512]);
});
