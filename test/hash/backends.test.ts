import { describe, expect, test } from "bun:test";
import { closeSync, openSync, readFileSync, writeFileSync } from "node:fs";
import { join } from "node:path";
import { jsHasher } from "../../src/hash/fallback.ts";
import { loadNativeHasher } from "../../src/hash/native.ts";
import type { Hasher } from "../../src/hash/types.ts";
import { toHex } from "../../src/util/units.ts";
import { seededBytes, sha256Hex, tempDir } from "../helpers/fixtures.ts";

const native = loadNativeHasher();
const backends: Hasher[] = [jsHasher, ...(native ? [native] : [])];
const dir = tempDir("bytetide-hash");

test("the native addon is built wherever a Rust toolchain is installed", () => {
  const hasCargo = Bun.which("cargo") !== null;
  expect(native !== null || !hasCargo).toBe(true);
});

const KNOWN_ANSWERS: [string, Uint8Array, string][] = [
  ["empty input", new Uint8Array(0), "e3b0c44298fc1c149afbf4c8996fb92427ae41e4649b934ca495991b7852b855"],
  ['"abc"', new TextEncoder().encode("abc"), "ba7816bf8f01cfea414140de5dae2223b00361a396177a9cb410ff61f20015ad"],
  ["one million 'a'", new Uint8Array(1_000_000).fill(0x61), "cdc76e5c9914fb9281a1c7e284d73e67f1809a48a497200e046d39ccc7112cd0"],
];

/** Reference: plain Bun.CryptoHasher over each chunk, written out longhand. */
function referenceChunks(data: Uint8Array, chunkSize: number): string {
  let out = "";
  for (let at = 0; at < data.length; at += chunkSize) out += sha256Hex(data.subarray(at, at + chunkSize));
  return out;
}

for (const h of backends) {
  describe(`${h.name} hasher`, () => {
    for (const [label, input, digest] of KNOWN_ANSWERS) {
      test(`known answer for ${label}, from memory and from a file`, async () => {
        if (input.length === 0) {
          // No bytes means no chunks; the empty digest shows up as the root of an empty package.
          expect(h.hashChunks(input, 64).length).toBe(0);
          expect(toHex(h.merkleRoot(input))).toBe(digest);
          return;
        }
        expect(toHex(h.hashChunks(input, input.length))).toBe(digest);
        expect(toHex(await h.hashChunksAsync(input, input.length))).toBe(digest);
        const path = join(dir, `kat-${h.name}-${input.length}`);
        writeFileSync(path, input);
        expect(toHex(await h.hashFileRange(path, 0, input.length, input.length))).toBe(digest);
      });
    }

    test("randomized chunk hashing matches Bun.CryptoHasher chunk by chunk", async () => {
      for (let round = 0; round < 40; round++) {
        const length = (round * 7919 * 13) % 300_000;
        const chunkSize = [1, 3, 64, 1000, 4096, 65_536, 1 << 20][round % 7]!;
        const data = seededBytes(length, round + 1);
        const expected = referenceChunks(data, chunkSize);
        expect(toHex(h.hashChunks(data, chunkSize))).toBe(expected);
        expect(toHex(await h.hashChunksAsync(data, chunkSize))).toBe(expected);
      }
    });

    test("file ranges hash whole chunks from a chunk-aligned offset", async () => {
      const chunkSize = 65_536;
      const data = seededBytes(5 * chunkSize + 1234, 99);
      const path = join(dir, `range-${h.name}`);
      writeFileSync(path, data);
      const all = referenceChunks(data, chunkSize);
      expect(toHex(await h.hashFileRange(path, 0, data.length, chunkSize))).toBe(all);
      // Chunks 2..5, the last one short.
      expect(toHex(await h.hashFileRange(path, 2 * chunkSize, data.length - 2 * chunkSize, chunkSize))).toBe(all.slice(2 * 64));
      expect((await h.hashFileRange(path, 0, 0, chunkSize)).length).toBe(0);
    });

    test("a missing file rejects with ENOENT and names the path", async () => {
      const path = join(dir, "does-not-exist");
      const err = await h.hashFileRange(path, 0, 10, 4).catch((e) => e);
      expect(err.code).toBe("ENOENT");
      expect(String(err.message)).toContain(path);
    });

    test("a file shorter than the requested range rejects with BT_E_SHORT_READ", async () => {
      const path = join(dir, `short-${h.name}`);
      writeFileSync(path, seededBytes(1000, 5));
      const err = await h.hashFileRange(path, 0, 5000, 1024).catch((e) => e);
      expect(err.code).toBe("BT_E_SHORT_READ");
    });

    test("hash and write: a chunk that matches its digest lands at its position, one that does not leaves the file untouched", async () => {
      const path = join(dir, `placed-${h.name}`);
      writeFileSync(path, new Uint8Array(3000));
      const chunk = seededBytes(1000, 42);
      const digest = h.hashChunks(chunk, chunk.length);
      const fd = openSync(path, "r+");
      try {
        const wrong = new Uint8Array(digest).fill(7);
        expect(toHex(await h.hashAndWriteAsync(chunk, wrong, fd, 0))).toBe(toHex(digest));
        expect(readFileSync(path).every((b) => b === 0)).toBe(true);
        expect(toHex(await h.hashAndWriteAsync(chunk, digest, fd, 1500))).toBe(toHex(digest));
      } finally {
        closeSync(fd);
      }
      const after = readFileSync(path);
      expect(after.subarray(1500, 2500)).toEqual(Buffer.from(chunk));
      expect(after.subarray(0, 1500).every((b) => b === 0) && after.subarray(2500).every((b) => b === 0)).toBe(true);
    });

    test("hash and write to a descriptor open only for reading rejects, with an error code the caller can word", async () => {
      const path = join(dir, `readonly-${h.name}`);
      writeFileSync(path, new Uint8Array(10));
      const chunk = seededBytes(100, 3);
      const fd = openSync(path, "r");
      try {
        const err = await h.hashAndWriteAsync(chunk, h.hashChunks(chunk, chunk.length), fd, 0).catch((e) => e);
        expect(err).toBeInstanceOf(Error);
        expect(typeof err.code).toBe("string");
      } finally {
        closeSync(fd);
      }
      expect(readFileSync(path).every((b) => b === 0)).toBe(true);
    });

    test("many jobs in flight at once each get their own correct result, even when only the job holds the input", async () => {
      const sizes = Array.from({ length: 32 }, (_, i) => 50_000 + i * 1000);
      const pending = sizes.map((n, i) => h.hashChunksAsync(seededBytes(n, 1000 + i), 8192));
      Bun.gc(true);
      const results = await Promise.all(pending);
      results.forEach((r, i) => expect(toHex(r)).toBe(referenceChunks(seededBytes(sizes[i]!, 1000 + i), 8192)));
    });
  });
}

describe.if(native !== null)("native addon arguments (needs the native addon: ./scripts/bootstrap.sh with a Rust toolchain)", () => {
  test("a non-Uint8Array input throws BT_E_ARG instead of crashing", () => {
    expect(() => native!.hashChunks("abc" as unknown as Uint8Array, 64)).toThrow("must be a Uint8Array");
  });
  test("a zero or fractional chunk size throws BT_E_ARG", () => {
    expect(() => native!.hashChunks(new Uint8Array(4), 0)).toThrow("positive");
    expect(() => native!.hashChunks(new Uint8Array(4), 1.5)).toThrow("non-negative integer");
  });
  test("a digest list that is not a multiple of 32 bytes throws", () => {
    expect(() => native!.merkleRoot(new Uint8Array(33))).toThrow("multiple of 32");
  });
});
