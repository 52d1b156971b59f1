import { ProtocolError, WIRE_ERRORS } from "./codes.ts";

/**
 * Every frame: a 10-byte header, then `length` payload bytes.
 *   0  u16  magic 0x4254 ("BT" on the wire)
 *   2  u8   protocol version
 *   3  u8   message type
 *   4  u16  code: an error code for ERROR/REJECT/BYE, else 0
 *   6  u32  payload length
 * Little-endian, like the package format.
 */
export const FRAME_MAGIC_0 = 0x42;
export const FRAME_MAGIC_1 = 0x54;
export const PROTOCOL_VERSION = 1;
export const HEADER_LENGTH = 10;

export interface Frame {
  version: number;
  type: number;
  code: number;
  payload: Uint8Array;
}

export function writeHeader(out: Uint8Array, type: number, code: number, length: number, version = PROTOCOL_VERSION): void {
  out[0] = FRAME_MAGIC_0;
  out[1] = FRAME_MAGIC_1;
  out[2] = version;
  out[3] = type;
  out[4] = code & 0xff;
  out[5] = code >>> 8;
  new DataView(out.buffer, out.byteOffset, HEADER_LENGTH).setUint32(6, length, true);
}

export function encodeFrame(type: number, code: number, payload: Uint8Array, version = PROTOCOL_VERSION): Uint8Array {
  const out = new Uint8Array(HEADER_LENGTH + payload.length);
  writeHeader(out, type, code, payload.length, version);
  out.set(payload, HEADER_LENGTH);
  return out;
}

/**
 * Turns a byte stream, split and coalesced any way TCP likes, back into frames.
 * Memory is bounded: a length over maxPayload is refused from the header alone, before
 * anything is allocated, and at most one frame is held while it is incomplete.
 * Version and type are passed up uninterpreted: what to do with them depends on state.
 *
 * Payloads are views, valid until the next push(): a frame inside one received block is a
 * view of it, and the one frame that straddles blocks is assembled in a reused buffer.
 * At network speed that avoids a fresh allocation per frame; consumers copy what they keep.
 */
export class FrameDecoder {
  private pending: Uint8Array[] = [];
  private pendingBytes = 0;
  private header: { version: number; type: number; code: number; length: number } | null = null;
  private scratch: Uint8Array | null = null;

  constructor(readonly maxPayload: number) {}

  /** Bytes received but not yet returned as frames. */
  get buffered(): number {
    return this.pendingBytes;
  }

  /** Feeds received bytes; returns every frame they complete. Throws ProtocolError on garbage. */
  push(data: Uint8Array): Frame[] {
    if (data.length > 0) {
      this.pending.push(data);
      this.pendingBytes += data.length;
    }
    const frames: Frame[] = [];
    for (;;) {
      if (!this.header) {
        if (this.pendingBytes < HEADER_LENGTH) break;
        const h = this.take(HEADER_LENGTH);
        if (h[0] !== FRAME_MAGIC_0 || h[1] !== FRAME_MAGIC_1) {
          throw new ProtocolError(WIRE_ERRORS.BAD_FRAME, `bad frame magic 0x${h[0]!.toString(16)}${h[1]!.toString(16)}`);
        }
        const length = new DataView(h.buffer, h.byteOffset, HEADER_LENGTH).getUint32(6, true);
        if (length > this.maxPayload) {
          throw new ProtocolError(WIRE_ERRORS.FRAME_TOO_LARGE, `frame of ${length} bytes exceeds the maximum of ${this.maxPayload}`);
        }
        this.header = { version: h[2]!, type: h[3]!, code: h[4]! | (h[5]! << 8), length };
      }
      if (this.pendingBytes < this.header.length) break;
      const { version, type, code, length } = this.header;
      this.header = null;
      frames.push({ version, type, code, payload: this.take(length) });
    }
    return frames;
  }

  /** Removes n buffered bytes: a view when they lie within one received block, else a copy in scratch. */
  private take(n: number): Uint8Array {
    this.pendingBytes -= n;
    const first = this.pending[0];
    if (n === 0) return new Uint8Array(0);
    if (first!.length >= n) {
      const out = first!.subarray(0, n);
      if (first!.length === n) this.pending.shift();
      else this.pending[0] = first!.subarray(n);
      return out;
    }
    // A header is parsed at once and may share the scratch buffer with nothing; a payload
    // goes to scratch, which is allocated only for connections that ever see a straddling frame.
    if (n === HEADER_LENGTH) return this.gather(new Uint8Array(HEADER_LENGTH), n);
    this.scratch ??= new Uint8Array(this.maxPayload);
    return this.gather(this.scratch, n);
  }

  private gather(into: Uint8Array, n: number): Uint8Array {
    const out = into.subarray(0, n);
    let filled = 0;
    while (filled < n) {
      const block = this.pending[0]!;
      const used = Math.min(block.length, n - filled);
      out.set(block.subarray(0, used), filled);
      filled += used;
      if (used === block.length) this.pending.shift();
      else this.pending[0] = block.subarray(used);
    }
    return out;
  }
}
