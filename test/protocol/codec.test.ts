import { describe, expect, test } from "bun:test";
import fc from "fast-check";
import { ProtocolError, WIRE_ERRORS } from "../../src/protocol/codes.ts";
import { encodeFrame, type Frame, FrameDecoder, HEADER_LENGTH, PROTOCOL_VERSION } from "../../src/protocol/frame.ts";
import { decodeMessage, encodeMessage, encodePiece, type Message, MESSAGE_TYPES, PEERS_WITH_ZONES } from "../../src/protocol/messages.ts";
import { decodeStatus, encodeStatus, MAX_STATUS_BYTES, MAX_STATUS_MESSAGE_BYTES, type NodeReport } from "../../src/protocol/status.ts";
import { seededBytes } from "../helpers/fixtures.ts";

const MAX = 4096;

/** Decodes a stream fed in the given pieces, copying payloads (they are views valid until the next push). */
function decodeAll(pieces: Uint8Array[], max = MAX): Frame[] {
  const decoder = new FrameDecoder(max);
  return pieces.flatMap((p) => decoder.push(p).map((f) => ({ ...f, payload: f.payload.slice() })));
}

function protocolError(fn: () => unknown): ProtocolError {
  try {
    fn();
  } catch (err) {
    expect(err).toBeInstanceOf(ProtocolError);
    return err as ProtocolError;
  }
  throw new Error("no ProtocolError thrown");
}

const concat = (...parts: Uint8Array[]) => new Uint8Array(Buffer.concat(parts));

const STATUS_SAMPLE: NodeReport = {
  name: "gpu-node-017.cluster.example",
  zone: "rack-3",
  state: "downloading",
  verifiedBytes: 140 * 2 ** 30 + 5,
  totalBytes: 2 ** 53 - 1,
  rateBytesPerSecond: 3_100_000_000,
  peers: 12,
  errorCode: "",
  errorMessage: "",
  version: "0.1.0",
};

const SAMPLES: Message[] = [
  { type: "HELLO", root: seededBytes(32, 1), peerId: seededBytes(16, 2), listenPort: 7654, capabilities: 5, nonce: seededBytes(32, 3) },
  { type: "AUTH", proof: seededBytes(32, 4) },
  { type: "BITFIELD", bits: Uint8Array.of(0xff, 0x0f) },
  { type: "HAVE", index: 7 },
  { type: "REQUEST", index: 4_000_000 },
  { type: "PIECE", index: 3, offset: 262_144, data: seededBytes(1000, 3) },
  { type: "CANCEL", index: 9 },
  { type: "REJECT", index: 2, code: WIRE_ERRORS.NOT_AVAILABLE },
  { type: "ERROR", code: WIRE_ERRORS.UNKNOWN_PACKAGE, message: "no package with root ab…" },
  { type: "KEEPALIVE" },
  { type: "BYE", code: WIRE_ERRORS.SHUTTING_DOWN },
  { type: "PEERS", peers: [{ host: "10.1.2.3", port: 7654 }, { host: "fd00::12", port: 1 }] },
  { type: "PEERS", peers: [{ host: "10.1.2.3", port: 7654, zone: "rack-1" }, { host: "fd00::12", port: 1, zone: "" }] },
  { type: "ZONE", zone: "topology.kubernetes.io/zone:us-east-1a".slice(0, 63) },
  { type: "ZONE", zone: "" },
  { type: "LIST", from: 200 },
  { type: "CATALOGUE", total: 202, from: 200, packages: [{ id: seededBytes(32, 5), size: 2 ** 40 + 3, name: "weights-v2" }, { id: seededBytes(32, 6), size: 0, name: "ünïcode" }] },
  { type: "METADATA_REQUEST", id: seededBytes(32, 7), offset: 262_144 },
  { type: "METADATA", id: seededBytes(32, 8), total: 600_000, offset: 262_144, data: seededBytes(1000, 9) },
  { type: "STATUS", package: seededBytes(32, 10), report: STATUS_SAMPLE },
  { type: "ROLLOUT_REQUEST", offset: 262_144 },
  { type: "ROLLOUT", total: 600_000, offset: 262_144, data: new TextEncoder().encode('{"packages":[]}') },
  { type: "REPORT_PACE", intervalMs: 5_000 },
  { type: "STATUS", package: seededBytes(32, 11), report: { ...STATUS_SAMPLE, name: "gpu-ünï-17", zone: "", state: "failed", errorCode: "BT_E_VERIFY", errorMessage: "chunk 3 from peer seed:7654 failed verification" } },
];

describe("frame decoder edge cases", () => {
  const frame = encodeFrame(MESSAGE_TYPES.HAVE, 0, Uint8Array.of(1, 2, 3, 4));

  test("1. a whole frame in one read", () => {
    expect(decodeAll([frame])).toHaveLength(1);
  });

  test("2. a header split at every byte offset", () => {
    for (let cut = 1; cut < HEADER_LENGTH; cut++) {
      const frames = decodeAll([frame.subarray(0, cut), frame.subarray(cut)]);
      expect(frames).toEqual([{ version: PROTOCOL_VERSION, type: MESSAGE_TYPES.HAVE, code: 0, payload: Uint8Array.of(1, 2, 3, 4) }]);
    }
  });

  test("3. a frame fed one byte at a time", () => {
    expect(decodeAll([...frame].map((b) => Uint8Array.of(b)))).toHaveLength(1);
  });

  test("4. many frames coalesced into one read", () => {
    const many = concat(...Array.from({ length: 100 }, (_, i) => encodeMessage({ type: "HAVE", index: i })));
    expect(decodeAll([many]).map((f) => decodeMessage(f))).toEqual(Array.from({ length: 100 }, (_, i) => ({ type: "HAVE", index: i })));
  });

  test("5. a zero-length payload", () => {
    expect(decodeAll([encodeFrame(MESSAGE_TYPES.KEEPALIVE, 0, new Uint8Array(0))])[0]!.payload.length).toBe(0);
  });

  test("6. a payload of exactly the maximum size", () => {
    const big = seededBytes(MAX, 6);
    expect(decodeAll([encodeFrame(MESSAGE_TYPES.BITFIELD, 0, big)])[0]!.payload).toEqual(big);
  });

  test("7. one byte over the maximum is refused from the header alone", () => {
    const header = encodeFrame(MESSAGE_TYPES.BITFIELD, 0, new Uint8Array(MAX + 1)).subarray(0, HEADER_LENGTH);
    expect(protocolError(() => decodeAll([header])).code).toBe(WIRE_ERRORS.FRAME_TOO_LARGE);
  });

  test("8. a length field near 4 GiB is refused without allocating", () => {
    const header = encodeFrame(MESSAGE_TYPES.PIECE, 0, new Uint8Array(0));
    new DataView(header.buffer).setUint32(6, 0xffffffff, true);
    expect(protocolError(() => new FrameDecoder(MAX).push(header)).code).toBe(WIRE_ERRORS.FRAME_TOO_LARGE);
  });

  test("9. bad magic", () => {
    const bad = frame.slice();
    bad[0] = 0x47;
    expect(protocolError(() => decodeAll([bad])).code).toBe(WIRE_ERRORS.BAD_FRAME);
  });

  test("10. an unknown version is passed up for the connection to refuse", () => {
    const future = encodeFrame(MESSAGE_TYPES.HAVE, 0, Uint8Array.of(0, 0, 0, 0), 9);
    expect(decodeAll([future])[0]!.version).toBe(9);
  });

  test("11. an unknown message type is refused by the message decoder", () => {
    const [f] = decodeAll([encodeFrame(200, 0, new Uint8Array(0))]);
    expect(protocolError(() => decodeMessage(f!)).code).toBe(WIRE_ERRORS.BAD_FRAME);
  });

  test("12. a payload truncated at EOF yields nothing and stays buffered", () => {
    const decoder = new FrameDecoder(MAX);
    expect(decoder.push(frame.subarray(0, frame.length - 1))).toEqual([]);
    expect(decoder.buffered).toBe(frame.length - 1 - HEADER_LENGTH);
  });

  test("13. garbage after a valid frame: the frame is returned, then the garbage refused", () => {
    const decoder = new FrameDecoder(MAX);
    const frames: Frame[] = [];
    const err = protocolError(() => {
      frames.push(...decoder.push(frame));
      decoder.push(new TextEncoder().encode("GET / HTTP/1.1\r\n"));
    });
    expect(frames).toHaveLength(1);
    expect(err.code).toBe(WIRE_ERRORS.BAD_FRAME);
  });

  test("14. a frame straddling three reads is reassembled", () => {
    const piece = encodePiece(1, 0, seededBytes(3000, 14));
    const frames = decodeAll([piece.subarray(0, 5), piece.subarray(5, 1500), piece.subarray(1500)]);
    expect(decodeMessage(frames[0]!)).toEqual({ type: "PIECE", index: 1, offset: 0, data: seededBytes(3000, 14) });
  });

  test("15. an empty read changes nothing", () => {
    const decoder = new FrameDecoder(MAX);
    expect(decoder.push(new Uint8Array(0))).toEqual([]);
    expect(decoder.push(frame)).toHaveLength(1);
  });

  test("16. the end of one frame and the start of the next in one read", () => {
    const two = concat(frame, encodeMessage({ type: "CANCEL", index: 5 }));
    const frames = decodeAll([two.subarray(0, 12), two.subarray(12, 20), two.subarray(20)]);
    expect(frames.map((f) => decodeMessage(f).type)).toEqual(["HAVE", "CANCEL"]);
  });

  test("17. HAVE with a short payload is refused", () => {
    const [f] = decodeAll([encodeFrame(MESSAGE_TYPES.HAVE, 0, Uint8Array.of(1, 2))]);
    expect(protocolError(() => decodeMessage(f!)).message).toMatch(/HAVE payload is 2 bytes/);
  });

  test("18. HELLO of the wrong length is refused", () => {
    const [f] = decodeAll([encodeFrame(MESSAGE_TYPES.HELLO, 0, new Uint8Array(10))]);
    expect(protocolError(() => decodeMessage(f!)).code).toBe(WIRE_ERRORS.BAD_FRAME);
  });

  test("19. PIECE shorter than its index/offset prefix is refused", () => {
    const [f] = decodeAll([encodeFrame(MESSAGE_TYPES.PIECE, 0, new Uint8Array(7))]);
    expect(protocolError(() => decodeMessage(f!)).code).toBe(WIRE_ERRORS.BAD_FRAME);
  });

  test("20. a PIECE with no data is legal (a zero-length block)", () => {
    const [f] = decodeAll([encodePiece(2, 0, new Uint8Array(0))]);
    expect(decodeMessage(f!)).toEqual({ type: "PIECE", index: 2, offset: 0, data: new Uint8Array(0) });
  });

  test("21. KEEPALIVE with a payload is refused", () => {
    const [f] = decodeAll([encodeFrame(MESSAGE_TYPES.KEEPALIVE, 0, Uint8Array.of(1))]);
    expect(protocolError(() => decodeMessage(f!)).code).toBe(WIRE_ERRORS.BAD_FRAME);
  });

  test("22. an ERROR message longer than 1 KiB is refused", () => {
    const [f] = decodeAll([encodeFrame(MESSAGE_TYPES.ERROR, 1, new Uint8Array(1025))]);
    expect(protocolError(() => decodeMessage(f!)).code).toBe(WIRE_ERRORS.BAD_FRAME);
  });

  test("23. the code field carries 16 bits", () => {
    expect(decodeAll([encodeFrame(MESSAGE_TYPES.BYE, 0xbeef, new Uint8Array(0))])[0]!.code).toBe(0xbeef);
  });

  test("24. a straddling payload is a view that the next push may reuse, so consumers copy", () => {
    const decoder = new FrameDecoder(MAX);
    const ones = new Uint8Array(100).fill(1);
    const twos = new Uint8Array(100).fill(2);
    const a = encodeFrame(MESSAGE_TYPES.BITFIELD, 0, ones);
    const b = encodeFrame(MESSAGE_TYPES.BITFIELD, 0, twos);
    expect(decoder.push(a.subarray(0, 50))).toEqual([]);
    const [first] = decoder.push(a.subarray(50));
    const view = first!.payload;
    const copy = view.slice();
    expect(view).toEqual(ones);
    expect(decoder.push(b.subarray(0, 50))).toEqual([]);
    const [second] = decoder.push(b.subarray(50));
    expect(second!.payload).toEqual(twos);
    // The next straddling frame was assembled in the same memory, so the first payload,
    // kept as a view, now shows the second one's bytes; only the copy still holds the first.
    expect(second!.payload.buffer).toBe(view.buffer);
    expect(view).toEqual(twos);
    expect(copy).toEqual(ones);
  });

  test("25. PEERS with a host name decodes: whether to dial it is the receiver's decision, not a framing error", () => {
    const named = encodeMessage({ type: "PEERS", peers: [{ host: "seed-host", port: 7654 }, { host: "10.0.0.1", port: 1 }] });
    const [f] = decodeAll([named]);
    expect(decodeMessage(f!)).toEqual({ type: "PEERS", peers: [{ host: "seed-host", port: 7654 }, { host: "10.0.0.1", port: 1 }] });
    const truncated = named.slice(0, named.length - 1);
    new DataView(truncated.buffer).setUint32(6, truncated.length - HEADER_LENGTH, true);
    expect(protocolError(() => decodeMessage(decodeAll([truncated])[0]!)).message).toMatch(/PEERS payload truncated|trailing/);
  });
});

describe("zones", () => {
  test("PEERS keeps the format of earlier versions (code 0) unless its entries carry zones, which a zoned frame says in its code", () => {
    const plain = decodeAll([encodeMessage({ type: "PEERS", peers: [{ host: "10.0.0.1", port: 7654 }] })])[0]!;
    expect(plain.code).toBe(0);
    expect(plain.payload).toEqual(Uint8Array.of(1, 0, 8, ...new TextEncoder().encode("10.0.0.1"), 0xe6, 0x1d));
    const zoned = decodeAll([encodeMessage({ type: "PEERS", peers: [{ host: "10.0.0.1", port: 7654, zone: "a" }] })])[0]!;
    expect(zoned.code).toBe(PEERS_WITH_ZONES);
    expect(zoned.payload).toEqual(Uint8Array.of(1, 0, 8, ...new TextEncoder().encode("10.0.0.1"), 0xe6, 0x1d, 1, 0x61));
  });

  test("a PEERS entry whose zone is not a zone name keeps its address, with the zone unknown; a zone cut short is a framing error", () => {
    const payload = Uint8Array.of(1, 0, 1, 0x78, 1, 0, 2, 0x20, 0x21);
    expect(decodeMessage({ version: PROTOCOL_VERSION, type: MESSAGE_TYPES.PEERS, code: PEERS_WITH_ZONES, payload })).toEqual({ type: "PEERS", peers: [{ host: "x", port: 1, zone: "" }] });
    const cut = Uint8Array.of(1, 0, 1, 0x78, 1, 0, 5, 0x61);
    expect(protocolError(() => decodeMessage({ version: PROTOCOL_VERSION, type: MESSAGE_TYPES.PEERS, code: PEERS_WITH_ZONES, payload: cut })).message).toMatch(/PEERS payload truncated/);
  });

  test("a ZONE that is not a zone name (a space, 64 bytes) is a framing error", () => {
    for (const zone of ["rack 1", "r".repeat(64)]) {
      const frame = { version: PROTOCOL_VERSION, type: MESSAGE_TYPES.ZONE, code: 0, payload: new TextEncoder().encode(zone) };
      const error = protocolError(() => decodeMessage(frame));
      expect(error.code).toBe(WIRE_ERRORS.BAD_FRAME);
      expect(error.message).toMatch(/not a zone name/);
    }
  });
});

describe("catalogue messages", () => {
  test("26. a METADATA block over 256 KiB, or a CATALOGUE over 200 packages or cut short, is a framing error", () => {
    const oversized = { version: PROTOCOL_VERSION, type: MESSAGE_TYPES.METADATA, code: 0, payload: new Uint8Array(40 + 256 * 1024 + 1) };
    expect(protocolError(() => decodeMessage(oversized)).message).toMatch(/METADATA payload/);
    const tooMany = new Uint8Array(10);
    new DataView(tooMany.buffer).setUint16(8, 201, true);
    expect(protocolError(() => decodeMessage(decodeAll([encodeFrame(MESSAGE_TYPES.CATALOGUE, 0, tooMany)])[0]!)).message).toMatch(/more than 200/);
    const listing = encodeMessage({ type: "CATALOGUE", total: 1, from: 0, packages: [{ id: seededBytes(32, 1), size: 1, name: "x" }] });
    const cut = listing.slice(0, listing.length - 1);
    new DataView(cut.buffer).setUint32(6, cut.length - HEADER_LENGTH, true);
    expect(protocolError(() => decodeMessage(decodeAll([cut])[0]!)).message).toMatch(/CATALOGUE payload truncated/);
  });
});

describe("status reports", () => {
  const statusFrame = (payload: Uint8Array) => ({ version: PROTOCOL_VERSION, type: MESSAGE_TYPES.STATUS, code: 0, payload });
  const ID = seededBytes(32, 12);
  const payloadOf = (report: NodeReport) => encodeStatus({ package: ID, report });

  test("fields too long for the wire are cut to their bounds, so a report is at most 960 bytes", () => {
    const long = { ...STATUS_SAMPLE, name: "n".repeat(400), version: "v".repeat(100), errorCode: "BT_E_" + "X".repeat(100), errorMessage: "m".repeat(5000) };
    const payload = payloadOf(long);
    expect(payload.length).toBeLessThanOrEqual(960);
    const { report: back } = decodeStatus(payload);
    expect([back.name.length, back.version.length, back.errorCode.length, back.errorMessage.length]).toEqual([255, 32, 32, MAX_STATUS_MESSAGE_BYTES]);
  });

  test("a later report format may append fields, which this reader skips; format 1 with trailing bytes, or format 0, is a framing error", () => {
    const later = concat(payloadOf(STATUS_SAMPLE), Uint8Array.of(9, 9, 9));
    later[0] = 2;
    expect(decodeMessage(statusFrame(later))).toEqual({ type: "STATUS", package: ID, report: STATUS_SAMPLE });
    later[0] = 1;
    expect(protocolError(() => decodeMessage(statusFrame(later))).message).toMatch(/STATUS has trailing bytes/);
    later[0] = 0;
    expect(protocolError(() => decodeMessage(statusFrame(later))).message).toMatch(/STATUS format 0 is unknown/);
  });

  test.each([
    ["an unknown state", (p: Uint8Array) => { p[1] = 6; return p; }, /state 6 is unknown/],
    ["a payload cut short", (p: Uint8Array) => p.subarray(0, p.length - 1), /truncated/],
    ["no fixed part", (p: Uint8Array) => p.subarray(0, 59), /too short/],
    ["an oversized payload", () => new Uint8Array(MAX_STATUS_BYTES + 1), /too long/],
    ["an empty name", () => payloadOf({ ...STATUS_SAMPLE, name: "" }), /no node name/],
    ["a zone that is not a zone name", () => payloadOf({ ...STATUS_SAMPLE, zone: "rack 3" }), /not a zone name/],
    ["an error code that is not a code", () => payloadOf({ ...STATUS_SAMPLE, errorCode: "bt_e_io; rm -rf" }), /not a code/],
  ])("%s is a framing error", (_, mutate, message) => {
    expect(protocolError(() => decodeMessage(statusFrame(mutate(payloadOf(STATUS_SAMPLE))))).message).toMatch(message);
  });
});

describe("messages", () => {
  test.each(SAMPLES.map((m) => [m.type, m] as const))("%s round-trips", (_, message) => {
    const [frame] = decodeAll([encodeMessage(message)]);
    expect(decodeMessage(frame!)).toEqual(message);
  });
});

describe("property: any frame sequence, cut anywhere, decodes to the same sequence", () => {
  const arbMessage: fc.Arbitrary<Message> = fc.oneof(
    fc.record({ type: fc.constant("HAVE" as const), index: fc.nat() }),
    fc.record({ type: fc.constant("REQUEST" as const), index: fc.nat() }),
    fc.record({ type: fc.constant("CANCEL" as const), index: fc.nat() }),
    fc.record({ type: fc.constant("PIECE" as const), index: fc.nat(), offset: fc.nat(), data: fc.uint8Array({ maxLength: 3000 }) }),
    fc.record({ type: fc.constant("BITFIELD" as const), bits: fc.uint8Array({ maxLength: 600 }) }),
    fc.record({ type: fc.constant("REJECT" as const), index: fc.nat(), code: fc.integer({ min: 0, max: 0xffff }) }),
    fc.record({ type: fc.constant("BYE" as const), code: fc.integer({ min: 0, max: 0xffff }) }),
    fc.constant({ type: "KEEPALIVE" as const }),
    fc.record({
      type: fc.constant("HELLO" as const),
      root: fc.uint8Array({ minLength: 32, maxLength: 32 }),
      peerId: fc.uint8Array({ minLength: 16, maxLength: 16 }),
      listenPort: fc.integer({ min: 0, max: 65535 }),
      capabilities: fc.nat(),
      nonce: fc.uint8Array({ minLength: 32, maxLength: 32 }),
    }),
    fc.record({ type: fc.constant("AUTH" as const), proof: fc.uint8Array({ minLength: 32, maxLength: 32 }) }),
    fc.record({ type: fc.constant("LIST" as const), from: fc.nat() }),
    fc.record({ type: fc.constant("METADATA_REQUEST" as const), id: fc.uint8Array({ minLength: 32, maxLength: 32 }), offset: fc.nat() }),
    fc.record({
      type: fc.constant("METADATA" as const),
      id: fc.uint8Array({ minLength: 32, maxLength: 32 }),
      total: fc.nat(),
      offset: fc.nat(),
      data: fc.uint8Array({ maxLength: 3000 }),
    }),
  );

  test("holds for 500 random sequences and cut points", () => {
    fc.assert(
      fc.property(fc.array(arbMessage, { maxLength: 30 }), fc.array(fc.nat(), { maxLength: 40 }), (messages, cuts) => {
        const stream = concat(...messages.map(encodeMessage));
        const points = [...new Set(cuts.map((c) => c % (stream.length + 1)))].sort((a, b) => a - b);
        const pieces = [0, ...points, stream.length].slice(1).map((end, i, all) => stream.subarray(i === 0 ? 0 : all[i - 1]!, end));
        const decoder = new FrameDecoder(MAX);
        const decoded = pieces.flatMap((p) => decoder.push(p).map((f) => structuredClone(decodeMessage(f))));
        expect(decoded).toEqual(messages);
        expect(decoder.buffered).toBe(0);
      }),
      { numRuns: 500 },
    );
  });
});
