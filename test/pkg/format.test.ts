import { describe, expect, test } from "bun:test";
import fc from "fast-check";
import { chunkSizeProblem, claimedId, decodePackage, defaultChunkSize, encodePackage, FormatError, HEADER_LENGTH, packageId } from "../../src/pkg/format.ts";
import type { Entry } from "../../src/pkg/model.ts";
import { toHex } from "../../src/util/units.ts";
import { ESCAPES, packageOf, TREE } from "./fixtures.ts";
import { hasher } from "../../src/hash/index.ts";

const decodeError = (bytes: Uint8Array): string => {
  try {
    decodePackage(bytes);
  } catch (err) {
    expect(err).toBeInstanceOf(FormatError);
    return (err as Error).message;
  }
  throw new Error("decoded without error");
};

/** Re-seals a hand-edited package with a valid checksum, to reach the checks behind it. */
const reseal = (bytes: Uint8Array): Uint8Array => {
  const out = bytes.slice();
  out.set(hasher().hashChunks(out.subarray(0, out.length - 32), out.length - 32), out.length - 32);
  return out;
};

describe("package encoding", () => {
  test("round-trips a directory tree with files, empty files, subdirectories and symlinks", () => {
    const pkg = packageOf(TREE);
    expect(decodePackage(encodePackage(pkg))).toEqual(pkg);
  });

  test("matches the byte-exact test vector in docs/format.md", () => {
    const data = new TextEncoder().encode("hello\n");
    const chunkHashes = hasher().hashChunks(data, 65_536);
    const pkg = {
      formatVersion: 1,
      chunkSize: 65_536,
      totalSize: 6,
      entries: [{ kind: "file" as const, path: "hello.txt", mode: 0o644, size: 6 }],
      chunkHashes,
      root: hasher().merkleRoot(chunkHashes),
    };
    expect(toHex(encodePackage(pkg))).toBe(
      "8942504b470d0a1a010000000000010006000000000000000100000001000000190000000000000000000900a4010000" +
        "060000000000000068656c6c6f2e7478745891b5b522d5df086d0ff0b110fbd9d21bb4fc7163af34d08286a2e846f6be03" +
        "780e1db7af3adac20c7b8b4e7d22e80132f1fbb89f021476b1353ca0b07fb507cdb32f604ad885e3eb966ec0ca0e649ac4" +
        "ea74662841860b944386e86e6ff506",
    );
  });

  test("an empty file is a valid package with no chunks", () => {
    const pkg = packageOf([{ kind: "file", path: "empty", mode: 0o644, size: 0 }]);
    const back = decodePackage(encodePackage(pkg));
    expect(back.chunkHashes.length).toBe(0);
    expect(toHex(back.root)).toBe("e3b0c44298fc1c149afbf4c8996fb92427ae41e4649b934ca495991b7852b855");
  });
});

describe("the package id", () => {
  test("is the checksum: SHA-256 of the encoded package before it", () => {
    const encoded = encodePackage(packageOf(TREE));
    const id = packageId(packageOf(TREE));
    expect(toHex(id)).toBe(toHex(hasher().hashChunks(encoded.subarray(0, encoded.length - 32), encoded.length - 32)));
    expect(toHex(claimedId(encoded))).toBe(toHex(id));
  });

  test("changes with a name, a mode, a link target or the chunk size, where the Merkle root does not", () => {
    const base = packageOf(TREE);
    const variants = [
      { ...base, entries: base.entries.map((e) => (e.path === "weights/a.bin" ? { ...e, mode: 0o600 } : e)) },
      { ...base, entries: base.entries.map((e) => (e.path === "weights/latest" ? { ...e, target: "../weights/a.bin" } : e)) },
      { ...base, entries: base.entries.map((e) => ({ ...e, path: e.path.replace(/^weights/, "model") })) },
      { ...base, chunkSize: 131_072, chunkHashes: base.chunkHashes.subarray(0, 96), root: hasher().merkleRoot(base.chunkHashes.subarray(0, 96)) },
    ];
    const ids = new Set([base, ...variants].map((p) => toHex(packageId(p))));
    expect(ids.size).toBe(variants.length + 1);
    for (const p of variants.slice(0, 3)) expect(toHex(p.root)).toBe(toHex(base.root));
  });

  test("one package has one encoding: a reserved byte that is not 0 is refused", () => {
    const good = encodePackage(packageOf(TREE));
    for (const at of [36, HEADER_LENGTH + 1]) {
      const bad = good.slice();
      bad[at] = 1;
      expect(decodeError(reseal(bad))).toMatch(/reserved/);
    }
  });
});

describe("damaged packages are refused with a clear reason", () => {
  const good = encodePackage(packageOf(TREE));

  test("every truncation, at every length, is reported as truncated", () => {
    for (let n = 0; n < good.length; n++) {
      expect(decodeError(good.subarray(0, n))).toMatch(/truncated/);
    }
  });

  test("every single flipped bit is caught", () => {
    for (let i = 0; i < good.length; i++) {
      const bad = good.slice();
      bad[i]! ^= 1 << i % 8;
      expect(decodeError(bad)).toMatch(/bad magic|format version|corrupt|unsupported|truncated|limit/);
    }
  });

  test("bytes after the package are refused", () => {
    expect(decodeError(new Uint8Array([...good, 0]))).toMatch(/unexpected bytes after the package/);
  });

  test("a file that is not a package says so", () => {
    expect(decodeError(new TextEncoder().encode("#!/bin/sh\necho this is a shell script, not a package\n"))).toMatch(/not a bytetide package/);
  });

  test("a newer format version asks for an upgrade", () => {
    const newer = good.slice();
    newer[8] = 2;
    expect(decodeError(newer)).toMatch(/format version 2, newer than this bytetide reads \(1\)/);
  });

  test("absurd counts are refused from the header alone, before allocating", () => {
    const header = good.slice(0, HEADER_LENGTH);
    new DataView(header.buffer).setUint32(28, 0xffffffff, true);
    expect(decodeError(header)).toMatch(/more than the limit/);
  });

  test("a chunk hash table that disagrees with the file sizes is refused", () => {
    const pkg = packageOf(TREE);
    const lying = { ...pkg, chunkHashes: pkg.chunkHashes.subarray(32), root: hasher().merkleRoot(pkg.chunkHashes.subarray(32)) };
    expect(decodeError(encodePackage(lying))).toMatch(/chunk hashes for files needing/);
  });

  test("a root that does not match the chunk hashes is refused even with a valid checksum", () => {
    const bytes = encodePackage(packageOf(TREE));
    bytes[bytes.length - 40]! ^= 0xff;
    expect(decodeError(reseal(bytes))).toMatch(/Merkle root does not match/);
  });
});

describe("unsafe file tables are refused on read", () => {
  const cases: [string, Entry[], RegExp][] = [
    ...ESCAPES,
    [
      "an absolute symlink",
      [
        { kind: "directory", path: "w", mode: 0o755, size: 0 },
        { kind: "symlink", path: "w/abs", mode: 0o777, size: 0, target: "/etc/shadow" },
      ],
      /absolute path/,
    ],
    [
      "a file whose parent directory is not listed",
      [
        { kind: "directory", path: "w", mode: 0o755, size: 0 },
        { kind: "file", path: "w/missing/x", mode: 0o644, size: 1 },
      ],
      /no parent directory entry/,
    ],
    [
      "a duplicated path",
      [
        { kind: "directory", path: "w", mode: 0o755, size: 0 },
        { kind: "file", path: "w/x", mode: 0o644, size: 1 },
        { kind: "file", path: "w/x", mode: 0o644, size: 1 },
      ],
      /duplicated or out of order/,
    ],
  ];
  for (const [label, entries, reason] of cases) {
    test(label, () => {
      expect(decodeError(encodePackage(packageOf(entries)))).toMatch(reason);
    });
  }
});

describe("the default chunk size", () => {
  const KiB = 1024;
  const MiB = 1024 * KiB;
  const GiB = 1024 * MiB;

  test("follows the package's size: 256 KiB up to 512 MiB, then doubling, 16 MiB at most", () => {
    expect(defaultChunkSize(0)).toBe(256 * KiB);
    expect(defaultChunkSize(256 * MiB)).toBe(256 * KiB);
    expect(defaultChunkSize(512 * MiB)).toBe(256 * KiB);
    expect(defaultChunkSize(512 * MiB + 1)).toBe(512 * KiB);
    expect(defaultChunkSize(1 * GiB)).toBe(512 * KiB);
    expect(defaultChunkSize(10 * GiB)).toBe(8 * MiB);
    expect(defaultChunkSize(32 * GiB)).toBe(16 * MiB);
    expect(defaultChunkSize(2 ** 50)).toBe(16 * MiB);
  });

  test("is always a valid chunk size, and gives at most 2048 chunks wherever 16 MiB allows", () => {
    fc.assert(
      fc.property(fc.integer({ min: 0, max: 2 ** 46 }), (total) => {
        const size = defaultChunkSize(total);
        expect(chunkSizeProblem(size)).toBeNull();
        if (size < 16 * MiB) expect(Math.ceil(total / size)).toBeLessThanOrEqual(2048);
        // The smallest that does: half of it would give more (or go below 256 KiB).
        if (size > 256 * KiB) expect(Math.ceil(total / (size / 2))).toBeGreaterThan(2048);
      }),
    );
  });
});
