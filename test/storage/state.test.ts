import { expect, test } from "bun:test";
import { chunkRecord, decodeState, encodeState, stateLength } from "../../src/storage/state.ts";
import { Bitset } from "../../src/util/bitset.ts";
import { seededBytes } from "../helpers/fixtures.ts";

const root = seededBytes(32, 1);
const verified = new Bitset(21);
[0, 3, 20].forEach((c) => verified.add(c));

test("round-trips the verified set, the root and the clean and partial flags", () => {
  for (const clean of [true, false]) {
    const back = decodeState(encodeState({ root, verified, clean }), root, 21);
    expect(back).toEqual({ root, verified, clean });
  }
  expect(decodeState(encodeState({ root, verified, clean: true, partial: true }), root, 21)).toEqual({ root, verified, clean: true, partial: true });
});

test("every truncation of a clean file is detected; every flipped byte is detected or leaves it unclean, so re-verified", () => {
  const bytes = encodeState({ root, verified, clean: true });
  expect(bytes.length).toBe(stateLength(21));
  for (let n = 0; n < bytes.length; n++) expect("problem" in decodeState(bytes.subarray(0, n), root, 21)).toBe(true);
  for (let i = 0; i < bytes.length; i++) {
    for (const flip of [0x01, 0x10]) {
      const bad = bytes.slice();
      bad[i]! ^= flip;
      const back = decodeState(bad, root, 21);
      expect("problem" in back || !back.clean).toBe(true);
    }
  }
});

test("recording a chunk writes the one byte that holds its bit, whatever the package's size", () => {
  for (const chunkCount of [1_000, 1_000_000]) {
    const progress = new Bitset(chunkCount);
    const file = encodeState({ root, verified: progress, clean: false });
    for (const chunk of [0, 7, 8, chunkCount - 1, 12_345 % chunkCount]) {
      progress.add(chunk);
      const { offset, bytes } = chunkRecord(progress, chunk);
      expect(bytes.length).toBe(1);
      file.set(bytes, offset);
      const back = decodeState(file, root, chunkCount);
      expect(back).toEqual({ root, verified: progress, clean: false });
    }
  }
});

test("a version 1 file, rewritten whole at every record, is still read, and its checksum still checked when unclean", () => {
  const v1 = encodeState({ root, verified, clean: false });
  v1[8] = 1;
  const body = v1.length - 32;
  v1.set(new Bun.CryptoHasher("sha256").update(v1.subarray(0, body)).digest(), body);
  expect(decodeState(v1, root, 21)).toEqual({ root, verified, clean: false });
  v1[48]! ^= 0x02;
  expect(decodeState(v1, root, 21)).toEqual({ problem: "checksum mismatch" });
});

test("a state file of another package is not trusted", () => {
  const bytes = encodeState({ root, verified, clean: true });
  expect(decodeState(bytes, seededBytes(32, 2), 21)).toEqual({ problem: "belongs to another package" });
});
