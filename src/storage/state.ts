import { sha256Of } from "../hash/index.ts";
import { equalBytes } from "../pkg/format.ts";
import { Bitset } from "../util/bitset.ts";

/**
 * The progress file beside a download's output (docs/protocol.md, "Resume"):
 *   0  8   magic "\x89BTST\r\n\x1a"
 *   8  2   version (2; version 1 is still read)
 *   10 2   flags: bit 0 = clean (the data was synced before this was written);
 *          bit 1 = partial (a finished `get --only`: the output, renamed into place, holds
 *          the verified chunks' files and no others; kept so a later get completes it)
 *   12 4   chunk count
 *   16 32  package root
 *   48 ..  bitset of verified chunks, ceil(n/8) bytes
 *   .. 32  SHA-256 of everything before it: checked when clean (version 1: always)
 *
 * While a download runs the file is unclean, and verified chunks rewrite only the bytes that
 * hold their bits (`chunkRecord`): the cost of a record does not grow with the package.
 * The checksum is then stale, which is safe: an unclean file's chunks are re-verified anyway.
 */
const MAGIC = Uint8Array.of(0x89, 0x42, 0x54, 0x53, 0x54, 0x0d, 0x0a, 0x1a);
const VERSION = 2;
/** Each record rewrote the whole file, checksum included. */
const WHOLE_FILE_VERSION = 1;
const FIXED = 48;
const CLEAN = 1;
const PARTIAL = 2;

export interface ProgressState {
  root: Uint8Array;
  verified: Bitset;
  /** False after a crash or power loss: the bitset may claim chunks that never reached the disk. */
  clean: boolean;
  /** The output is in place and holds a selection (get --only): `verified` is what it holds. */
  partial?: boolean;
}

export const stateLength = (chunkCount: number): number => FIXED + Bitset.byteLength(chunkCount) + 32;

export function encodeState(state: ProgressState): Uint8Array {
  const out = new Uint8Array(stateLength(state.verified.size));
  const view = new DataView(out.buffer);
  out.set(MAGIC, 0);
  view.setUint16(8, VERSION, true);
  view.setUint16(10, (state.clean ? CLEAN : 0) | (state.partial ? PARTIAL : 0), true);
  view.setUint32(12, state.verified.size, true);
  out.set(state.root, 16);
  out.set(state.verified.bytes, FIXED);
  const body = out.length - 32;
  out.set(sha256Of(out.subarray(0, body)), body);
  return out;
}

/** Where, and what, to write so that the file records chunks `first` to `last` as verified too: the bytes holding their bits. */
export function chunkRecord(verified: Bitset, first: number, last = first): { offset: number; bytes: Uint8Array } {
  const from = first >> 3;
  return { offset: FIXED + from, bytes: verified.bytes.subarray(from, (last >> 3) + 1) };
}

/** The state, or the reason it cannot be trusted at all (the caller then re-verifies everything). */
export function decodeState(bytes: Uint8Array, root: Uint8Array, chunkCount: number): ProgressState | { problem: string } {
  if (bytes.length < FIXED || !MAGIC.every((b, i) => bytes[i] === b)) return { problem: "not a bytetide state file" };
  if (bytes.length !== stateLength(chunkCount)) return { problem: `truncated or wrong size (${bytes.length} bytes)` };
  const view = new DataView(bytes.buffer, bytes.byteOffset, bytes.byteLength);
  const version = view.getUint16(8, true);
  if (version !== VERSION && version !== WHOLE_FILE_VERSION) return { problem: `unknown state version ${version}` };
  const flags = view.getUint16(10, true);
  const clean = (flags & CLEAN) !== 0;
  const body = bytes.length - 32;
  if ((clean || version === WHOLE_FILE_VERSION) && !equalBytes(sha256Of(bytes.subarray(0, body)), bytes.subarray(body))) return { problem: "checksum mismatch" };
  if (view.getUint32(12, true) !== chunkCount || !equalBytes(bytes.subarray(16, 48), root)) return { problem: "belongs to another package" };
  const bits = bytes.slice(FIXED, body);
  if (Bitset.problem(chunkCount, bits)) return { problem: "corrupt bitset" };
  return { root: root.slice(), verified: new Bitset(chunkCount, bits), clean, ...((flags & PARTIAL) !== 0 ? { partial: true } : {}) };
}
