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
  /** Bytes of pending[0] already returned: kept as an offset, since a subarray per frame costs more than a small frame. */
  private consumed = 0;
  private pendingBytes = 0;
  /** The payload length the parsed header announced, -1 while waiting for a header. */
  private awaited = -1;
  private version = 0;
  private type = 0;
  private code = 0;
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
      if (this.awaited < 0) {
        if (this.pendingBytes < HEADER_LENGTH) break;
        this.readHeader();
      }
      if (this.pendingBytes < this.awaited) break;
      const length = this.awaited;
      this.awaited = -1;
      frames.push({ version: this.version, type: this.type, code: this.code, payload: this.take(length) });
    }
    return frames;
  }

  private readHeader(): void {
    const first = this.pending[0]!;
    let h = first;
    let at = this.consumed;
    if (first.length - at >= HEADER_LENGTH) {
      this.skip(HEADER_LENGTH);
    } else {
      h = this.gather(new Uint8Array(HEADER_LENGTH), HEADER_LENGTH);
      at = 0;
    }
    this.pendingBytes -= HEADER_LENGTH;
    if (h[at] !== FRAME_MAGIC_0 || h[at + 1] !== FRAME_MAGIC_1) {
      throw new ProtocolError(WIRE_ERRORS.BAD_FRAME, `bad frame magic 0x${h[at]!.toString(16)}${h[at + 1]!.toString(16)}`);
    }
    const length = (h[at + 6]! | (h[at + 7]! << 8) | (h[at + 8]! << 16)) + h[at + 9]! * 0x1000000;
    if (length > this.maxPayload) {
      throw new ProtocolError(WIRE_ERRORS.FRAME_TOO_LARGE, `frame of ${length} bytes exceeds the maximum of ${this.maxPayload}`);
    }
    this.version = h[at + 2]!;
    this.type = h[at + 3]!;
    this.code = h[at + 4]! | (h[at + 5]! << 8);
    this.awaited = length;
  }

  /** Removes n buffered bytes: a view when they lie within one received block, else a copy in scratch. */
  private take(n: number): Uint8Array {
    this.pendingBytes -= n;
    if (n === 0) return new Uint8Array(0);
    const first = this.pending[0]!;
    const from = this.consumed;
    if (first.length - from >= n) {
      this.skip(n);
      return from === 0 && n === first.length ? first : first.subarray(from, from + n);
    }
    // The scratch is allocated only for connections that ever see a frame straddle blocks.
    this.scratch ??= new Uint8Array(this.maxPayload);
    return this.gather(this.scratch, n);
  }

  /** Consumes n bytes of the first block, which holds them. */
  private skip(n: number): void {
    this.consumed += n;
    if (this.consumed === this.pending[0]!.length) {
      this.pending.shift();
      this.consumed = 0;
    }
  }

  /** Copies the next n bytes, which span blocks, into the start of `into`. */
  private gather(into: Uint8Array, n: number): Uint8Array {
    let filled = 0;
    while (filled < n) {
      const block = this.pending[0]!;
      const used = Math.min(block.length - this.consumed, n - filled);
      into.set(block.subarray(this.consumed, this.consumed + used), filled);
      filled += used;
      this.skip(used);
    }
    return n === into.length ? into : into.subarray(0, n);
  }
}
