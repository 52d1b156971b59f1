import { LIMITS, NET } from "../config.ts";
import { Limiter } from "../util/bounded.ts";
import { HEADER_LENGTH } from "../protocol/frame.ts";
import { PIECE_PREFIX_LENGTH, writePieceHeader } from "../protocol/messages.ts";
import type { TokenBucket } from "../util/token-bucket.ts";
import type { PeerConnection } from "./connection.ts";
import type { UploadOutcome } from "../swarm/upload-session.ts";

/** What a connection serves chunks from: a seed's payload, or a download in progress. */
export interface ChunkSource {
  chunkLength(chunk: number): number;
  /**
   * Reads the bytes of a chunk from `offset` on into the ranges of `into`, one after the
   * other (off the JS thread when the disk is slow); resolves with how many were read.
   */
  read(chunk: number, offset: number, into: readonly Uint8Array[]): Promise<number>;
  /**
   * Called before a chunk is sent: true when its bytes are known good, otherwise a check
   * in progress (false: the bytes on disk are no longer the package's, answered with
   * REJECT(DAMAGED) so that the asker can say why it cannot finish).
   */
  prepare?(chunk: number): true | Promise<boolean>;
}

const FRAME_PREFIX = HEADER_LENGTH + PIECE_PREFIX_LENGTH;
/**
 * PIECE frames of a chunk read with one system call and written with one: a seed spent
 * 0.78 CPU-s per GiB sending 1 GiB in 512 KiB chunks a frame at a time and 0.65 in bursts
 * (docs/performance.md, issue 22). Frames keep their size, NET.blockSize, which every
 * peer's --max-frame-size takes.
 */
export const BLOCKS_PER_BURST = 4;
const FRAME_BYTES = FRAME_PREFIX + NET.blockSize;

/**
 * Burst buffers given back by connections that ran out of chunks to send, for the next
 * connection that has one: in a swarm each connection sends in spells, and a fresh buffer
 * per spell (zeroed, then collected) was a tenth of a getter's JS thread. A buffer comes
 * back only when its connection holds none of it unsent; at most one per upload slot is kept.
 */
const idleBursts: Uint8Array[] = [];

/** Burst reads in flight across every connection of the process (they share the thread pool with hashing). */
const diskReads = new Limiter(LIMITS.uploadReadsInFlight);

/** The chunk a connection is sending: `proved` once the source vouched for its bytes. */
interface Sending {
  chunk: number;
  offset: number;
  length: number;
  proved: boolean;
}

/** What the uploader reports to the node's UploadSession. */
export interface UploadHooks {
  /** `bytes` more of the chunk went out (a burst of its blocks). */
  sent(bytes: number): void;
  /** The chunk `send` was given is done with: sent whole, or refused (its bytes are not the package's, or could not be read). */
  ended(chunk: number, outcome: UploadOutcome): void;
}

/**
 * Sends the chunks the UploadSession gives one connection, one at a time, as PIECE frames
 * of at most NET.blockSize bytes, read in bursts of up to BLOCKS_PER_BURST frames straight
 * into one reused buffer. The next burst is read only when the socket has taken
 * everything before it, so memory per connection is one burst and the socket's
 * backpressure paces the disk. Which chunks, in what order and when, is the session's
 * (its queue, slots and flood rule).
 */
export class Uploader {
  private current: Sending | null = null;
  private burst: Uint8Array | null = null;
  private waitingForTokens = false;
  private reading = false;
  private closed = false;

  constructor(
    private readonly conn: PeerConnection,
    private readonly source: ChunkSource,
    /** Shared by every connection of a process: --max-upload-rate. */
    private readonly uploadLimit: TokenBucket | null,
    private readonly hooks: UploadHooks,
  ) {}

  /** Starts sending `chunk` once the source vouches for it; the session allows one at a time. */
  send(chunk: number): void {
    const current = { chunk, offset: 0, length: this.source.chunkLength(chunk), proved: false };
    this.current = current;
    const ready = this.source.prepare?.(chunk) ?? true;
    if (ready === true) {
      current.proved = true;
      return this.pump();
    }
    void ready
      .catch(() => false)
      .then((good) => {
        // Stopped or closed meanwhile: nothing to send, and a burst buffer to give back perhaps.
        if (this.closed || this.current !== current) return this.pump();
        if (!good) {
          this.current = null;
          return this.hooks.ended(chunk, "damaged");
        }
        current.proved = true;
        this.pump();
      });
  }

  /** Stops sending `chunk` (cancelled): a part-sent chunk stops at the next burst, and the peer discards what it got. */
  stop(chunk: number): void {
    if (this.current?.chunk === chunk) this.current = null;
  }

  /** Starts proving a chunk that will be sent soon; its result is awaited when its turn comes. */
  check(chunk: number): void {
    const ready = this.source.prepare?.(chunk) ?? true;
    if (ready !== true) void ready.catch(() => false);
  }

  /** The connection is gone: a chunk part-sent will never finish. */
  close(): void {
    this.closed = true;
    this.current = null;
    // Not given back: a closing connection may still be flushing part of it.
    this.burst = null;
  }

  /** Sends the next block if the socket keeps up. Called on send, on drain and after each block. */
  pump(): void {
    if (this.closed || !this.conn.ready || this.conn.backlog > 0 || this.waitingForTokens || this.reading) return;
    if (!this.current) {
      // backlog is 0 (above): the connection holds no part of the burst.
      if (this.burst && idleBursts.length < NET.uploadSlots) idleBursts.push(this.burst);
      this.burst = null;
      return;
    }
    if (!this.current.proved) return;
    const size = Math.min(BLOCKS_PER_BURST * NET.blockSize, this.current.length - this.current.offset);
    const wait = this.uploadLimit?.take(size) ?? 0;
    if (wait > 0) {
      this.waitingForTokens = true;
      setTimeout(() => {
        this.waitingForTokens = false;
        this.pump();
      }, wait);
      return;
    }
    this.burst ??= idleBursts.pop() ?? new Uint8Array(BLOCKS_PER_BURST * FRAME_BYTES);
    this.readBurst(this.current, this.burst, size);
  }

  /** Reads the current chunk's next `size` bytes into the frames of the burst buffer, then sends them and carries on. */
  private readBurst(current: Sending, burst: Uint8Array, size: number): void {
    this.reading = true;
    const { chunk, offset } = current;
    const payloads: Uint8Array[] = [];
    for (let at = 0; at < size; at += NET.blockSize) {
      const start = (at / NET.blockSize) * FRAME_BYTES + FRAME_PREFIX;
      payloads.push(burst.subarray(start, start + Math.min(NET.blockSize, size - at)));
    }
    void diskReads
      .run(() => this.source.read(chunk, offset, payloads))
      .catch(() => -1)
      .then((got) => {
        this.reading = false;
        // Stopped or closed while reading: the burst is dropped unsent.
        if (this.closed || this.current !== current) return this.pump();
        if (got !== size) {
          // The payload changed or vanished under us: say so rather than send a short chunk.
          this.current = null;
          return this.hooks.ended(chunk, "read-failed");
        }
        payloads.forEach((payload, i) => writePieceHeader(burst.subarray(i * FRAME_BYTES), chunk, offset + i * NET.blockSize, payload.length));
        current.offset += size;
        this.conn.send(burst.subarray(0, (payloads.length - 1) * FRAME_BYTES + FRAME_PREFIX + payloads.at(-1)!.length));
        this.hooks.sent(size);
        if (current.offset < current.length) return this.pump();
        this.current = null;
        this.hooks.ended(chunk, "sent");
        // The session may have given the next chunk already; otherwise the buffer goes back.
        this.pump();
      });
  }
}
