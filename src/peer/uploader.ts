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
  /** Reads bytes of a chunk from `offset` into `into` (off the JS thread when the disk is slow); resolves with how many were read. */
  read(chunk: number, offset: number, into: Uint8Array): Promise<number>;
  /**
   * Called before a chunk is sent: true when its bytes are known good, otherwise a check
   * in progress (false: the bytes on disk are no longer the package's, answered with
   * REJECT(DAMAGED) so that the asker can say why it cannot finish).
   */
  prepare?(chunk: number): true | Promise<boolean>;
}

const FRAME_PREFIX = HEADER_LENGTH + PIECE_PREFIX_LENGTH;

/**
 * Frames given back by connections that ran out of chunks to send, for the next connection
 * that has one: in a swarm each connection sends in bursts, and a fresh frame per burst
 * (256 KiB zeroed, then collected) was a tenth of a getter's JS thread. A frame comes back
 * only when its connection holds none of it unsent; at most one per upload slot is kept.
 */
const idleFrames: Uint8Array[] = [];

/** Block reads in flight across every connection of the process (they share the thread pool with hashing). */
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
  /** A block of `bytes` went out. */
  sent(bytes: number): void;
  /** The chunk `send` was given is done with: sent whole, or refused (its bytes are not the package's, or could not be read). */
  ended(chunk: number, outcome: UploadOutcome): void;
}

/**
 * Sends the chunks the UploadSession gives one connection, one at a time, as PIECE frames
 * of at most NET.blockSize bytes, read straight into one reused frame buffer. The next
 * block is read only when the socket has taken everything before it, so memory per
 * connection is one block and the socket's backpressure paces the disk. Which chunks, in
 * what order and when, is the session's (its queue, slots and flood rule).
 */
export class Uploader {
  private current: Sending | null = null;
  private frame: Uint8Array | null = null;
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
        // Stopped or closed meanwhile: nothing to send, and a frame to give back perhaps.
        if (this.closed || this.current !== current) return this.pump();
        if (!good) {
          this.current = null;
          return this.hooks.ended(chunk, "damaged");
        }
        current.proved = true;
        this.pump();
      });
  }

  /** Stops sending `chunk` (cancelled): a part-sent chunk stops at the next block boundary, and the peer discards what it got. */
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
    this.frame = null;
  }

  /** Sends the next block if the socket keeps up. Called on send, on drain and after each block. */
  pump(): void {
    if (this.closed || !this.conn.ready || this.conn.backlog > 0 || this.waitingForTokens || this.reading) return;
    if (!this.current) {
      // backlog is 0 (above): the connection holds no part of the frame.
      if (this.frame && idleFrames.length < NET.uploadSlots) idleFrames.push(this.frame);
      this.frame = null;
      return;
    }
    if (!this.current.proved) return;
    const size = Math.min(NET.blockSize, this.current.length - this.current.offset);
    const wait = this.uploadLimit?.take(size) ?? 0;
    if (wait > 0) {
      this.waitingForTokens = true;
      setTimeout(() => {
        this.waitingForTokens = false;
        this.pump();
      }, wait);
      return;
    }
    this.frame ??= idleFrames.pop() ?? new Uint8Array(FRAME_PREFIX + NET.blockSize);
    this.readBlock(this.current, this.frame, size);
  }

  /** Reads the current chunk's next block into the frame, then sends it and carries on. */
  private readBlock(current: Sending, frame: Uint8Array, size: number): void {
    this.reading = true;
    const { chunk, offset } = current;
    void diskReads
      .run(() => this.source.read(chunk, offset, frame.subarray(FRAME_PREFIX, FRAME_PREFIX + size)))
      .catch(() => -1)
      .then((got) => {
        this.reading = false;
        // Stopped or closed while reading: the block is dropped unsent.
        if (this.closed || this.current !== current) return this.pump();
        if (got !== size) {
          // The payload changed or vanished under us: say so rather than send a short chunk.
          this.current = null;
          return this.hooks.ended(chunk, "read-failed");
        }
        writePieceHeader(frame, chunk, offset, size);
        current.offset += size;
        this.conn.send(frame.subarray(0, FRAME_PREFIX + size));
        this.hooks.sent(size);
        if (current.offset < current.length) return this.pump();
        this.current = null;
        this.hooks.ended(chunk, "sent");
        // The session may have given the next chunk already; otherwise the frame goes back.
        this.pump();
      });
  }
}
