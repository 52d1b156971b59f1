import { ProtocolError, WIRE_ERRORS } from "./codes.ts";
import { encodeFrame, type Frame, HEADER_LENGTH, writeHeader } from "./frame.ts";
import { decodeStatus, encodeStatus, type PackageReport } from "./status.ts";
import { isZoneName, MAX_ZONE_BYTES } from "./zone.ts";

export const MESSAGE_TYPES = {
  HELLO: 1,
  BITFIELD: 2,
  HAVE: 3,
  REQUEST: 4,
  PIECE: 5,
  CANCEL: 6,
  REJECT: 7,
  ERROR: 8,
  KEEPALIVE: 9,
  BYE: 10,
  PEERS: 11,
  AUTH: 12,
  LIST: 13,
  CATALOGUE: 14,
  METADATA_REQUEST: 15,
  METADATA: 16,
  ZONE: 17,
  STATUS: 18,
  ROLLOUT_REQUEST: 19,
  ROLLOUT: 20,
  REPORT_PACE: 21,
} as const;

/** HELLO capability bits. */
export const CAPABILITIES = {
  /** The sender holds a shared secret and requires the AUTH exchange. */
  AUTH: 1,
  /**
   * The sender speaks zones: it sends ZONE once the HELLOs (and AUTH) are done, and reads
   * PEERS entries that carry one. Neither goes to a peer without this bit.
   */
  ZONES: 2,
  /**
   * In the HELLO that answers a catalogue connection: the acceptor keeps its nodes'
   * reports (a serve), so a get may send it STATUS there. Nothing is reported to a peer
   * without this bit.
   */
  REPORTS: 4,
} as const;

/** PEERS frame code: each entry is followed by its zone (a length byte, then the name; empty when unknown). */
export const PEERS_WITH_ZONES = 1;
export { isZoneName, MAX_ZONE_BYTES } from "./zone.ts";

export const ROOT_LENGTH = 32;
export const PEER_ID_LENGTH = 16;
export const NONCE_LENGTH = 32;
export const AUTH_PROOF_LENGTH = 32;
const HELLO_LENGTH = ROOT_LENGTH + PEER_ID_LENGTH + 6 + NONCE_LENGTH;
/** PIECE payload before its data: chunk index and offset within the chunk. */
export const PIECE_PREFIX_LENGTH = 8;
export const MAX_ERROR_MESSAGE_BYTES = 1024;
/** Addresses in one PEERS message. */
export const MAX_PEERS_PER_MESSAGE = 200;
/** Packages in one CATALOGUE message: at most 200 × 298 bytes, whatever the names. */
export const MAX_CATALOGUE_ENTRIES = 200;
/** Bytes of a .bpkg in one METADATA message: a large file table comes in many frames. */
export const METADATA_BLOCK = 256 * 1024;
/** Bytes of a seed's rollout document (JSON) in one ROLLOUT message. */
export const ROLLOUT_BLOCK = 256 * 1024;
/** The HELLO root of a connection that asks about packages (LIST, METADATA_REQUEST) rather than for one. */
export const NO_PACKAGE = new Uint8Array(ROOT_LENGTH);
const ID_LENGTH = 32;

/** One package a peer serves, as CATALOGUE lists it. */
export interface CatalogueEntry {
  /** The package id (docs/format.md, "Package id"). */
  id: Uint8Array;
  /** Bytes of data. */
  size: number;
  /** The package name: its first entry's path, one component of at most 255 bytes. */
  name: string;
}

/**
 * A peer's listening address as PEERS carries it: an IPv4 or IPv6 literal and a port from a
 * well-behaved sender. The codec checks only the framing; what a receiver can dial is its
 * own decision (swarm/peer-exchange.ts), so one odd entry does not cost the connection.
 */
export interface PeerAddressEntry {
  host: string;
  port: number;
  /**
   * The peer's zone as the sender knows it ("" when it does not). Entries carry zones only
   * to a peer that speaks them (CAPABILITIES.ZONES): a message whose first entry has one is
   * sent with PEERS_WITH_ZONES, and every entry then has one.
   */
  zone?: string;
}

export interface Hello {
  type: "HELLO";
  root: Uint8Array;
  peerId: Uint8Array;
  /** The port this peer accepts connections on; 0 when it does not listen. */
  listenPort: number;
  capabilities: number;
  /** Fresh random bytes per connection, for the AUTH exchange. */
  nonce: Uint8Array;
}

export type Message =
  | Hello
  | { type: "BITFIELD"; bits: Uint8Array }
  | { type: "HAVE"; index: number }
  | { type: "REQUEST"; index: number }
  | { type: "PIECE"; index: number; offset: number; data: Uint8Array }
  | { type: "CANCEL"; index: number }
  | { type: "REJECT"; index: number; code: number }
  | { type: "ERROR"; code: number; message: string }
  | { type: "KEEPALIVE" }
  | { type: "BYE"; code: number }
  | { type: "PEERS"; peers: PeerAddressEntry[] }
  /** The sender's zone, "" for none: sent once, after the handshake, to a peer that speaks zones. */
  | { type: "ZONE"; zone: string }
  | { type: "AUTH"; proof: Uint8Array }
  | { type: "LIST"; from: number }
  | { type: "CATALOGUE"; total: number; from: number; packages: CatalogueEntry[] }
  | { type: "METADATA_REQUEST"; id: Uint8Array; offset: number }
  | { type: "METADATA"; id: Uint8Array; total: number; offset: number; data: Uint8Array }
  /** Catalogue only: a downloading node's report of itself, to a peer with CAPABILITIES.REPORTS (status.ts). */
  | ({ type: "STATUS" } & PackageReport)
  /** Catalogue only: send me what your nodes reported (the rollout document), from `offset`; at 0, as of now. */
  | { type: "ROLLOUT_REQUEST"; offset: number }
  /** Bytes `offset…` of the rollout document (`total` bytes of JSON, docs/protocol.md "Reports"). */
  | { type: "ROLLOUT"; total: number; offset: number; data: Uint8Array }
  /** Catalogue only, to a node that reports: report every `intervalMs` (status.ts, REPORT_INTERVAL_MS...MAX_REPORT_INTERVAL_MS). */
  | { type: "REPORT_PACE"; intervalMs: number };

const u32 = (n: number): Uint8Array => {
  const out = new Uint8Array(4);
  new DataView(out.buffer).setUint32(0, n, true);
  return out;
};

function expectLength(frame: Frame, name: string, length: number): DataView {
  if (frame.payload.length !== length) {
    throw new ProtocolError(WIRE_ERRORS.BAD_FRAME, `${name} payload is ${frame.payload.length} bytes, expected ${length}`);
  }
  return new DataView(frame.payload.buffer, frame.payload.byteOffset, frame.payload.byteLength);
}

export function encodeMessage(m: Message): Uint8Array {
  const T = MESSAGE_TYPES;
  switch (m.type) {
    case "HELLO": {
      const p = new Uint8Array(HELLO_LENGTH);
      p.set(m.root, 0);
      p.set(m.peerId, ROOT_LENGTH);
      const v = new DataView(p.buffer);
      v.setUint16(ROOT_LENGTH + PEER_ID_LENGTH, m.listenPort, true);
      v.setUint32(ROOT_LENGTH + PEER_ID_LENGTH + 2, m.capabilities, true);
      p.set(m.nonce, ROOT_LENGTH + PEER_ID_LENGTH + 6);
      return encodeFrame(T.HELLO, 0, p);
    }
    case "BITFIELD":
      return encodeFrame(T.BITFIELD, 0, m.bits);
    case "HAVE":
      return encodeFrame(T.HAVE, 0, u32(m.index));
    case "REQUEST":
      return encodeFrame(T.REQUEST, 0, u32(m.index));
    case "PIECE":
      return encodePiece(m.index, m.offset, m.data);
    case "CANCEL":
      return encodeFrame(T.CANCEL, 0, u32(m.index));
    case "REJECT":
      return encodeFrame(T.REJECT, m.code, u32(m.index));
    case "ERROR":
      return encodeFrame(T.ERROR, m.code, new TextEncoder().encode(m.message).subarray(0, MAX_ERROR_MESSAGE_BYTES));
    case "KEEPALIVE":
      return encodeFrame(T.KEEPALIVE, 0, new Uint8Array(0));
    case "BYE":
      return encodeFrame(T.BYE, m.code, new Uint8Array(0));
    case "PEERS": {
      const zoned = m.peers[0]?.zone !== undefined;
      return encodeFrame(T.PEERS, zoned ? PEERS_WITH_ZONES : 0, encodePeers(m.peers, zoned));
    }
    case "ZONE":
      return encodeFrame(T.ZONE, 0, new TextEncoder().encode(m.zone));
    case "AUTH":
      return encodeFrame(T.AUTH, 0, m.proof);
    case "LIST":
      return encodeFrame(T.LIST, 0, u32(m.from));
    case "CATALOGUE":
      return encodeFrame(T.CATALOGUE, 0, encodeCatalogue(m.total, m.from, m.packages));
    case "METADATA_REQUEST": {
      const p = new Uint8Array(ID_LENGTH + 4);
      p.set(m.id, 0);
      new DataView(p.buffer).setUint32(ID_LENGTH, m.offset, true);
      return encodeFrame(T.METADATA_REQUEST, 0, p);
    }
    case "METADATA": {
      const p = new Uint8Array(ID_LENGTH + 8 + m.data.length);
      p.set(m.id, 0);
      const v = new DataView(p.buffer);
      v.setUint32(ID_LENGTH, m.total, true);
      v.setUint32(ID_LENGTH + 4, m.offset, true);
      p.set(m.data, ID_LENGTH + 8);
      return encodeFrame(T.METADATA, 0, p);
    }
    case "STATUS":
      return encodeFrame(T.STATUS, 0, encodeStatus(m));
    case "ROLLOUT_REQUEST":
      return encodeFrame(T.ROLLOUT_REQUEST, 0, u32(m.offset));
    case "REPORT_PACE":
      return encodeFrame(T.REPORT_PACE, 0, u32(m.intervalMs));
    case "ROLLOUT": {
      const p = new Uint8Array(8 + m.data.length);
      const v = new DataView(p.buffer);
      v.setUint32(0, m.total, true);
      v.setUint32(4, m.offset, true);
      p.set(m.data, 8);
      return encodeFrame(T.ROLLOUT, 0, p);
    }
  }
}

function encodeCatalogue(total: number, from: number, packages: CatalogueEntry[]): Uint8Array {
  const utf8 = new TextEncoder();
  const listed = packages.slice(0, MAX_CATALOGUE_ENTRIES).map((e) => ({ ...e, name: utf8.encode(e.name).subarray(0, 255) }));
  const out = new Uint8Array(10 + listed.reduce((n, e) => n + ID_LENGTH + 9 + e.name.length, 0));
  const v = new DataView(out.buffer);
  v.setUint32(0, total, true);
  v.setUint32(4, from, true);
  v.setUint16(8, listed.length, true);
  let at = 10;
  for (const e of listed) {
    out.set(e.id, at);
    v.setBigUint64(at + ID_LENGTH, BigInt(e.size), true);
    out[at + ID_LENGTH + 8] = e.name.length;
    out.set(e.name, at + ID_LENGTH + 9);
    at += ID_LENGTH + 9 + e.name.length;
  }
  return out;
}

function decodeCatalogue(p: Uint8Array): Message {
  const bad = (why: string) => new ProtocolError(WIRE_ERRORS.BAD_FRAME, `CATALOGUE ${why}`);
  if (p.length < 10) throw bad("payload too short");
  const v = new DataView(p.buffer, p.byteOffset, p.byteLength);
  const count = v.getUint16(8, true);
  if (count > MAX_CATALOGUE_ENTRIES) throw bad(`lists ${count} packages, more than ${MAX_CATALOGUE_ENTRIES}`);
  const packages: CatalogueEntry[] = [];
  let at = 10;
  for (let i = 0; i < count; i++) {
    if (at + ID_LENGTH + 9 > p.length) throw bad("payload truncated");
    const n = p[at + ID_LENGTH + 8]!;
    if (at + ID_LENGTH + 9 + n > p.length) throw bad("payload truncated");
    packages.push({
      id: p.slice(at, at + ID_LENGTH),
      size: Number(v.getBigUint64(at + ID_LENGTH, true)),
      name: new TextDecoder().decode(p.subarray(at + ID_LENGTH + 9, at + ID_LENGTH + 9 + n)),
    });
    at += ID_LENGTH + 9 + n;
  }
  if (at !== p.length) throw bad("has trailing bytes");
  return { type: "CATALOGUE", total: v.getUint32(0, true), from: v.getUint32(4, true), packages };
}

function encodePeers(peers: PeerAddressEntry[], zoned: boolean): Uint8Array {
  const utf8 = new TextEncoder();
  const hosts = peers.slice(0, MAX_PEERS_PER_MESSAGE).map((p) => ({
    host: utf8.encode(p.host),
    port: p.port,
    zone: zoned && p.zone && isZoneName(p.zone) ? utf8.encode(p.zone) : new Uint8Array(0),
  }));
  const out = new Uint8Array(2 + hosts.reduce((n, h) => n + 3 + h.host.length + (zoned ? 1 + h.zone.length : 0), 0));
  const v = new DataView(out.buffer);
  v.setUint16(0, hosts.length, true);
  let at = 2;
  for (const h of hosts) {
    out[at] = h.host.length;
    out.set(h.host, at + 1);
    v.setUint16(at + 1 + h.host.length, h.port, true);
    at += 3 + h.host.length;
    if (!zoned) continue;
    out[at] = h.zone.length;
    out.set(h.zone, at + 1);
    at += 1 + h.zone.length;
  }
  return out;
}

function decodePeers(p: Uint8Array, zoned: boolean): PeerAddressEntry[] {
  const bad = (why: string) => new ProtocolError(WIRE_ERRORS.BAD_FRAME, `PEERS ${why}`);
  if (p.length < 2) throw bad("payload too short");
  const v = new DataView(p.buffer, p.byteOffset, p.byteLength);
  const count = v.getUint16(0, true);
  if (count > MAX_PEERS_PER_MESSAGE) throw bad(`lists ${count} addresses, more than ${MAX_PEERS_PER_MESSAGE}`);
  const peers: PeerAddressEntry[] = [];
  let at = 2;
  for (let i = 0; i < count; i++) {
    if (at + 1 > p.length) throw bad("payload truncated");
    const n = p[at]!;
    if (at + 3 + n > p.length) throw bad("payload truncated");
    const host = new TextDecoder().decode(p.subarray(at + 1, at + 1 + n));
    const port = v.getUint16(at + 1 + n, true);
    at += 3 + n;
    if (!zoned) {
      peers.push({ host, port });
      continue;
    }
    if (at + 1 > p.length || at + 1 + p[at]! > p.length) throw bad("payload truncated");
    const zone = new TextDecoder().decode(p.subarray(at + 1, at + 1 + p[at]!));
    at += 1 + p[at]!;
    // A zone that is not a zone name is as good as unknown: the address still counts.
    peers.push({ host, port, zone: isZoneName(zone) ? zone : "" });
  }
  if (at !== p.length) throw bad("has trailing bytes");
  return peers;
}

export function encodePiece(index: number, offset: number, data: Uint8Array): Uint8Array {
  const out = new Uint8Array(HEADER_LENGTH + PIECE_PREFIX_LENGTH + data.length);
  writePieceHeader(out, index, offset, data.length);
  out.set(data, HEADER_LENGTH + PIECE_PREFIX_LENGTH);
  return out;
}

/**
 * Writes a PIECE frame's header and prefix in front of data already in place at
 * out[HEADER_LENGTH + PIECE_PREFIX_LENGTH ...], so a server can read a block from disk
 * straight into its outgoing frame.
 */
export function writePieceHeader(out: Uint8Array, index: number, offset: number, dataLength: number): void {
  writeHeader(out, MESSAGE_TYPES.PIECE, 0, PIECE_PREFIX_LENGTH + dataLength);
  const v = new DataView(out.buffer, out.byteOffset + HEADER_LENGTH, PIECE_PREFIX_LENGTH);
  v.setUint32(0, index, true);
  v.setUint32(4, offset, true);
}

/** Decodes a frame's payload by its type. Throws ProtocolError for unknown types or bad lengths. */
export function decodeMessage(frame: Frame): Message {
  const T = MESSAGE_TYPES;
  const p = frame.payload;
  switch (frame.type) {
    case T.HELLO: {
      const v = expectLength(frame, "HELLO", HELLO_LENGTH);
      return {
        type: "HELLO",
        root: p.slice(0, ROOT_LENGTH),
        peerId: p.slice(ROOT_LENGTH, ROOT_LENGTH + PEER_ID_LENGTH),
        listenPort: v.getUint16(ROOT_LENGTH + PEER_ID_LENGTH, true),
        capabilities: v.getUint32(ROOT_LENGTH + PEER_ID_LENGTH + 2, true),
        nonce: p.slice(ROOT_LENGTH + PEER_ID_LENGTH + 6, HELLO_LENGTH),
      };
    }
    case T.BITFIELD:
      return { type: "BITFIELD", bits: p };
    case T.HAVE:
      return { type: "HAVE", index: expectLength(frame, "HAVE", 4).getUint32(0, true) };
    case T.REQUEST:
      return { type: "REQUEST", index: expectLength(frame, "REQUEST", 4).getUint32(0, true) };
    case T.PIECE: {
      if (p.length < PIECE_PREFIX_LENGTH) throw new ProtocolError(WIRE_ERRORS.BAD_FRAME, `PIECE payload is ${p.length} bytes, shorter than its prefix`);
      const v = new DataView(p.buffer, p.byteOffset, PIECE_PREFIX_LENGTH);
      return { type: "PIECE", index: v.getUint32(0, true), offset: v.getUint32(4, true), data: p.subarray(PIECE_PREFIX_LENGTH) };
    }
    case T.CANCEL:
      return { type: "CANCEL", index: expectLength(frame, "CANCEL", 4).getUint32(0, true) };
    case T.REJECT:
      return { type: "REJECT", index: expectLength(frame, "REJECT", 4).getUint32(0, true), code: frame.code };
    case T.ERROR: {
      if (p.length > MAX_ERROR_MESSAGE_BYTES) throw new ProtocolError(WIRE_ERRORS.BAD_FRAME, `ERROR message of ${p.length} bytes is too long`);
      return { type: "ERROR", code: frame.code, message: new TextDecoder().decode(p) };
    }
    case T.KEEPALIVE:
      expectLength(frame, "KEEPALIVE", 0);
      return { type: "KEEPALIVE" };
    case T.BYE:
      expectLength(frame, "BYE", 0);
      return { type: "BYE", code: frame.code };
    case T.PEERS:
      return { type: "PEERS", peers: decodePeers(p, frame.code === PEERS_WITH_ZONES) };
    case T.ZONE: {
      const zone = new TextDecoder().decode(p);
      if (p.length > 0 && !isZoneName(zone)) throw new ProtocolError(WIRE_ERRORS.BAD_FRAME, `ZONE ${JSON.stringify(zone.slice(0, MAX_ZONE_BYTES))} is not a zone name`);
      return { type: "ZONE", zone };
    }
    case T.AUTH:
      expectLength(frame, "AUTH", AUTH_PROOF_LENGTH);
      return { type: "AUTH", proof: p.slice() };
    case T.LIST:
      return { type: "LIST", from: expectLength(frame, "LIST", 4).getUint32(0, true) };
    case T.CATALOGUE:
      return decodeCatalogue(p);
    case T.METADATA_REQUEST:
      return { type: "METADATA_REQUEST", id: p.slice(0, ID_LENGTH), offset: expectLength(frame, "METADATA_REQUEST", ID_LENGTH + 4).getUint32(ID_LENGTH, true) };
    case T.METADATA: {
      if (p.length < ID_LENGTH + 8 || p.length > ID_LENGTH + 8 + METADATA_BLOCK) {
        throw new ProtocolError(WIRE_ERRORS.BAD_FRAME, `METADATA payload is ${p.length} bytes, outside ${ID_LENGTH + 8}..${ID_LENGTH + 8 + METADATA_BLOCK}`);
      }
      const v = new DataView(p.buffer, p.byteOffset, ID_LENGTH + 8);
      return { type: "METADATA", id: p.slice(0, ID_LENGTH), total: v.getUint32(ID_LENGTH, true), offset: v.getUint32(ID_LENGTH + 4, true), data: p.subarray(ID_LENGTH + 8) };
    }
    case T.STATUS: {
      const { package: id, report } = decodeStatus(p);
      return { type: "STATUS", package: id, report };
    }
    case T.ROLLOUT_REQUEST:
      return { type: "ROLLOUT_REQUEST", offset: expectLength(frame, "ROLLOUT_REQUEST", 4).getUint32(0, true) };
    case T.REPORT_PACE:
      return { type: "REPORT_PACE", intervalMs: expectLength(frame, "REPORT_PACE", 4).getUint32(0, true) };
    case T.ROLLOUT: {
      if (p.length < 8 || p.length > 8 + ROLLOUT_BLOCK) throw new ProtocolError(WIRE_ERRORS.BAD_FRAME, `ROLLOUT payload is ${p.length} bytes, outside 8..${8 + ROLLOUT_BLOCK}`);
      const v = new DataView(p.buffer, p.byteOffset, 8);
      return { type: "ROLLOUT", total: v.getUint32(0, true), offset: v.getUint32(4, true), data: p.subarray(8) };
    }
    default:
      throw new ProtocolError(WIRE_ERRORS.BAD_FRAME, `unknown message type ${frame.type}`);
  }
}
