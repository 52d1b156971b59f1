import { expect, test } from "bun:test";
import { decodeState, encodeState, stateLength } from "../../src/storage/state.ts";
import { Bitset } from "../../src/util/bitset.ts";
import { seededBytes } from "../helpers/fixtures.ts";

const root = seededBytes(32, 1);
const verified = new Bitset(21);
[0, 3, 20].forEach((c) => verified.add(c));

test("round-trips the verified set, the root and the clean flag", () => {
  for (const clean of [true, false]) {
    const back = decodeState(encodeState({ root, verified, clean }), root, 21);
    expect(back).toEqual({ root, verified, clean });
  }
});

test("every truncation and every flipped byte is detected", () => {
  const bytes = encodeState({ root, verified, clean: true });
  expect(bytes.length).toBe(stateLength(21));
  for (let n = 0; n < bytes.length; n++) expect("problem" in decodeState(bytes.subarray(0, n), root, 21)).toBe(true);
  for (let i = 0; i < bytes.length; i++) {
    const bad = bytes.slice();
    bad[i]! ^= 0x10;
    expect("problem" in decodeState(bad, root, 21)).toBe(true);
  }
});

test("a state file of another package is not trusted", () => {
  const bytes = encodeState({ root, verified, clean: true });
  expect(decodeState(bytes, seededBytes(32, 2), 21)).toEqual({ problem: "belongs to another package" });
});
