import { afterAll, describe, expect, test } from "bun:test";
import { readFileSync, writeFileSync } from "node:fs";
import { join } from "node:path";
import { readPackage } from "../../src/pkg/io.ts";
import { WIRE_ERRORS } from "../../src/protocol/codes.ts";
import { encodeFrame, HEADER_LENGTH } from "../../src/protocol/frame.ts";
import { CAPABILITIES, decodeMessage, encodeMessage, MESSAGE_TYPES } from "../../src/protocol/messages.ts";
import { makePackage, runCli } from "../helpers/cli.ts";
import { seededBytes, sha256Hex, tempDir } from "../helpers/fixtures.ts";
import { startSeed } from "../helpers/peers.ts";
import { RawPeer } from "../helpers/raw-peer.ts";

const dir = tempDir("bytetide-wire");
const payload = seededBytes(600_000, 4);
writeFileSync(join(dir, "p.bin"), payload);
await makePackage(join(dir, "p.bin"), ["--chunk-size", "256KiB"]);
const pkg = await readPackage(join(dir, "p.bin.bpkg"));
const seed = await startSeed([join(dir, "p.bin.bpkg")]);
afterAll(() => seed.stop());

const hello = (root = pkg.root, capabilities = 0) => encodeMessage({ type: "HELLO", root, peerId: new Uint8Array(16), listenPort: 0, capabilities, nonce: new Uint8Array(32) });
const errorCode = (peer: RawPeer) => peer.frames.find((f) => f.type === MESSAGE_TYPES.ERROR)?.code;

describe("serve speaks the protocol to a raw client", () => {
  test("HELLO and REQUEST sent one byte per read still get the whole chunk, correct", async () => {
    const peer = await RawPeer.connect(seed.port);
    await peer.send(new Uint8Array(Buffer.concat([hello(), encodeMessage({ type: "REQUEST", index: 2 })])), 1);
    const frames = await peer.until((fs) => fs.filter((f) => f.type === MESSAGE_TYPES.PIECE).reduce((n, f) => n + f.payload.length - 8, 0) >= 600_000 - 2 * 262_144);
    const messages = frames.map(decodeMessage);
    expect(messages[0]!.type).toBe("HELLO");
    expect(messages[1]).toEqual({ type: "BITFIELD", bits: Uint8Array.of(0b111) });
    const data = Buffer.concat(messages.flatMap((m) => (m.type === "PIECE" ? [m.data] : [])));
    expect(sha256Hex(data)).toBe(sha256Hex(payload.subarray(2 * 262_144)));
    peer.close();
  });

  test("many frames coalesced into one write are all answered", async () => {
    const peer = await RawPeer.connect(seed.port);
    await peer.send(new Uint8Array(Buffer.concat([hello(), ...[0, 1, 2].map((index) => encodeMessage({ type: "REQUEST", index }))])));
    const frames = await peer.until((fs) => fs.filter((f) => f.type === MESSAGE_TYPES.PIECE).length >= 3);
    const chunks = new Set(frames.filter((f) => f.type === MESSAGE_TYPES.PIECE).map((f) => (decodeMessage(f) as { index: number }).index));
    expect([...chunks].sort()).toEqual([0, 1, 2]);
    peer.close();
  });

  test.each([
    ["a HELLO of another protocol version", () => encodeFrame(MESSAGE_TYPES.HELLO, 0, hello().subarray(HEADER_LENGTH), 2), WIRE_ERRORS.VERSION],
    ["a HELLO for an unknown package", () => hello(seededBytes(32, 9)), WIRE_ERRORS.UNKNOWN_PACKAGE],
    ["a REQUEST before HELLO", () => encodeMessage({ type: "REQUEST", index: 0 }), WIRE_ERRORS.UNEXPECTED],
    ["an HTTP request", () => new TextEncoder().encode("GET / HTTP/1.1\r\nHost: x\r\n\r\n"), WIRE_ERRORS.BAD_FRAME],
    ["a length field far over the maximum", () => { const h = encodeFrame(MESSAGE_TYPES.PIECE, 0, new Uint8Array(0)); new DataView(h.buffer).setUint32(6, 1 << 30, true); return h; }, WIRE_ERRORS.FRAME_TOO_LARGE],
  ] as const)("%s gets an ERROR with its code, then the connection closes", async (_, bytes, code) => {
    const peer = await RawPeer.connect(seed.port);
    await peer.send(bytes());
    await peer.until(() => false, 3000);
    expect(errorCode(peer)).toBe(code);
    expect(peer.closed).toBe(true);
  });

  test("a REQUEST out of range ends the connection with OUT_OF_RANGE", async () => {
    const peer = await RawPeer.connect(seed.port);
    await peer.send(new Uint8Array(Buffer.concat([hello(), encodeMessage({ type: "REQUEST", index: 3 })])));
    await peer.until(() => false, 3000);
    expect(errorCode(peer)).toBe(WIRE_ERRORS.OUT_OF_RANGE);
    expect(peer.closed).toBe(true);
  });

  test("the seed keeps serving well-behaved clients after all of that", async () => {
    const out = join(dir, "after.bin");
    const r = await runCli(["get", "--linger", "0", join(dir, "p.bin.bpkg"), "--peer", seed.address, "-o", out]);
    expect(r.stdout).toStartWith("VERIFY OK");
    expect(readFileSync(out)).toEqual(Buffer.from(payload));
  });
});

describe("zones on the wire", () => {
  test("a serve --zone tells a peer that speaks zones its zone after HELLO, and sends BITFIELD only once it has the peer's ZONE; an older peer hears nothing of zones", async () => {
    const zoned = await startSeed(["--zone", "rack-7", join(dir, "p.bin.bpkg")]);
    try {
      const peer = await RawPeer.connect(zoned.port);
      await peer.send(hello(pkg.root, CAPABILITIES.ZONES));
      const before = (await peer.until((fs) => fs.length >= 2, 1000)).map(decodeMessage);
      expect(before.map((m) => m.type)).toEqual(["HELLO", "ZONE"]);
      expect(before[1]).toEqual({ type: "ZONE", zone: "rack-7" });
      expect(((before[0] as { capabilities: number }).capabilities & CAPABILITIES.ZONES) !== 0).toBe(true);
      await peer.send(encodeMessage({ type: "ZONE", zone: "rack-8" }));
      const after = (await peer.until((fs) => fs.length >= 3)).map(decodeMessage);
      expect(after[2]!.type).toBe("BITFIELD");
      peer.close();
      // A peer of an earlier version (no ZONES bit) hears nothing of zones.
      const older = await RawPeer.connect(zoned.port);
      await older.send(hello());
      expect((await older.until((fs) => fs.length >= 2)).map((f) => decodeMessage(f).type)).toEqual(["HELLO", "BITFIELD"]);
      older.close();
      // A peer that sends anything else in ZONE's place is told so, and cut off.
      const rude = await RawPeer.connect(zoned.port);
      await rude.send(new Uint8Array(Buffer.concat([hello(pkg.root, CAPABILITIES.ZONES), encodeMessage({ type: "REQUEST", index: 0 })])));
      await rude.until(() => false, 3000);
      expect(errorCode(rude)).toBe(WIRE_ERRORS.UNEXPECTED);
      expect(rude.closed).toBe(true);
    } finally {
      await zoned.stop();
    }
  });
});
