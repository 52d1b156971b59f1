import { ProtocolError, WIRE_ERRORS } from "./codes.ts";
import { isZoneName, MAX_ZONE_BYTES } from "./zone.ts";

/**
 * STATUS: what a downloading node tells a seed of itself (docs/protocol.md, "Reports").
 * Payload, little-endian:
 *   0  u8   report format (1); a later format appends fields, which this reader skips
 *   1  u8   state, an index into NODE_STATES
 *   2  u16  peers connected
 *   4  u64  bytes verified
 *   12 u64  bytes to fetch in all (the package, or its --only selection)
 *   20 u64  receive rate, bytes a second
 *   28 [32] the package id
 *   60 u8 n · name (1-255 bytes of UTF-8)
 *      u8 n · zone (0-63, a zone name)
 *      u8 n · bytetide version (0-32)
 *      u8 n · last error's code (0-32 of A-Z 0-9 _; empty: none)
 *      u16 n · last error's message (0-512 bytes of UTF-8)
 */
export const NODE_STATES = ["starting", "downloading", "verifying", "done", "failed", "stopping"] as const;
export type NodeState = (typeof NODE_STATES)[number];

export interface NodeReport {
  /** --name, by default the host name. */
  name: string;
  /** Empty when the node has none. */
  zone: string;
  state: NodeState;
  verifiedBytes: number;
  /** What this node fetches: the package, or its --only selection. */
  totalBytes: number;
  rateBytesPerSecond: number;
  peers: number;
  /** The last error's code (BT_E_...), empty when none, and its one-line message. */
  errorCode: string;
  errorMessage: string;
  /** The node's bytetide version. */
  version: string;
}

export const STATUS_FORMAT = 1;

/** A get reports itself this often, unless its seed asks for less (REPORT_PACE; docs/protocol.md, "Reports"). */
export const REPORT_INTERVAL_MS = 2_000;
/** The longest pace a seed may ask for, and a get follows: a node shown `lost` after 30 s of silence has missed three. */
export const MAX_REPORT_INTERVAL_MS = 10_000;
const PACKAGE_AT = 28;
const PACKAGE_ID_BYTES = 32;
const FIXED_BYTES = PACKAGE_AT + PACKAGE_ID_BYTES;
const MAX_NAME_BYTES = 255;
const MAX_VERSION_BYTES = 32;
const MAX_CODE_BYTES = 32;
export const MAX_STATUS_MESSAGE_BYTES = 512;
/** A STATUS payload past this is refused unread: a v1 report is at most 960 bytes. */
export const MAX_STATUS_BYTES = 2048;

const utf8 = new TextEncoder();
const fromUtf8 = new TextDecoder();

/** Cut to at most `max` bytes; a character split at the cut decodes as U+FFFD on the far side. */
const bytesOf = (s: string, max: number): Uint8Array => utf8.encode(s).subarray(0, max);

/** One node's report about one package (its id), as STATUS carries it. */
export interface PackageReport {
  package: Uint8Array;
  report: NodeReport;
}

export function encodeStatus({ package: id, report: r }: PackageReport): Uint8Array {
  const fields = [
    [bytesOf(r.name, MAX_NAME_BYTES), 1],
    [bytesOf(r.zone, MAX_ZONE_BYTES), 1],
    [bytesOf(r.version, MAX_VERSION_BYTES), 1],
    [bytesOf(r.errorCode, MAX_CODE_BYTES), 1],
    [bytesOf(r.errorMessage, MAX_STATUS_MESSAGE_BYTES), 2],
  ] as const;
  const out = new Uint8Array(FIXED_BYTES + fields.reduce((n, [bytes, prefix]) => n + prefix + bytes.length, 0));
  const v = new DataView(out.buffer);
  out[0] = STATUS_FORMAT;
  out[1] = NODE_STATES.indexOf(r.state);
  v.setUint16(2, Math.min(r.peers, 0xffff), true);
  v.setBigUint64(4, BigInt(Math.max(0, Math.floor(r.verifiedBytes))), true);
  v.setBigUint64(12, BigInt(Math.max(0, Math.floor(r.totalBytes))), true);
  v.setBigUint64(20, BigInt(Math.max(0, Math.floor(r.rateBytesPerSecond))), true);
  out.set(id.subarray(0, PACKAGE_ID_BYTES), PACKAGE_AT);
  let at = FIXED_BYTES;
  for (const [bytes, prefix] of fields) {
    if (prefix === 1) out[at] = bytes.length;
    else v.setUint16(at, bytes.length, true);
    out.set(bytes, at + prefix);
    at += prefix + bytes.length;
  }
  return out;
}

const u16 = (p: Uint8Array, at: number): number => p[at]! | (p[at + 1]! << 8);
const u32 = (p: Uint8Array, at: number): number => (p[at]! | (p[at + 1]! << 8) | (p[at + 2]! << 16)) + p[at + 3]! * 0x1000000;
const u64 = (p: Uint8Array, at: number): number => u32(p, at) + u32(p, at + 4) * 0x100000000;

/** Fields are read byte by byte, without a DataView: one costs more than a report. */
export function decodeStatus(p: Uint8Array): PackageReport {
  const bad = (why: string) => new ProtocolError(WIRE_ERRORS.BAD_FRAME, `STATUS ${why}`);
  if (p.length > MAX_STATUS_BYTES) throw bad(`payload of ${p.length} bytes is too long`);
  if (p.length < FIXED_BYTES) throw bad("payload too short");
  const format = p[0]!;
  if (format < 1) throw bad(`format ${format} is unknown`);
  const state = NODE_STATES[p[1]!];
  if (!state) throw bad(`state ${p[1]} is unknown`);
  let at = FIXED_BYTES;
  const text = (prefix: 1 | 2, max: number, what: string): string => {
    if (at + prefix > p.length) throw bad("payload truncated");
    const n = prefix === 1 ? p[at]! : u16(p, at);
    if (n > max) throw bad(`${what} of ${n} bytes is too long`);
    if (at + prefix + n > p.length) throw bad("payload truncated");
    const s = n === 0 ? "" : fromUtf8.decode(p.subarray(at + prefix, at + prefix + n));
    at += prefix + n;
    return s;
  };
  const report: NodeReport = {
    state,
    peers: u16(p, 2),
    verifiedBytes: u64(p, 4),
    totalBytes: u64(p, 12),
    rateBytesPerSecond: u64(p, 20),
    name: text(1, MAX_NAME_BYTES, "name"),
    zone: text(1, MAX_ZONE_BYTES, "zone"),
    version: text(1, MAX_VERSION_BYTES, "version"),
    errorCode: text(1, MAX_CODE_BYTES, "error code"),
    errorMessage: text(2, MAX_STATUS_MESSAGE_BYTES, "error message"),
  };
  if (report.name.length === 0) throw bad("has no node name");
  if (report.zone.length > 0 && !isZoneName(report.zone)) throw bad(`zone ${JSON.stringify(report.zone)} is not a zone name`);
  if (!/^[A-Z0-9_]*$/.test(report.errorCode)) throw bad(`error code ${JSON.stringify(report.errorCode)} is not a code`);
  if (format === STATUS_FORMAT && at !== p.length) throw bad("has trailing bytes");
  return { package: p.slice(PACKAGE_AT, FIXED_BYTES), report };
}
