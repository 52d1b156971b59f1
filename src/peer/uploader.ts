import { LIMITS, NET } from "../config.ts";
import { Limiter } from "../util/bounded.ts";
import { WIRE_ERRORS } from "../protocol/codes.ts";
import { HEADER_LENGTH } from "../protocol/frame.ts";
import { PIECE_PREFIX_LENGTH, writePieceHeader } from "../protocol/messages.ts";
import type { TokenBucket } from "../util/token-bucket.ts";
import type { PeerConnection } from "./connection.ts";
import { type Clock, systemClock } from "../util/clock.ts";
import type { UploadAnswer } from "../swarm/upload-session.ts";

/** What a connection serves chunks from: a seed's payload, or a download in progress. */
export interface ChunkSource {
  readonly chunkCount: number;
  has(chunk: number): boolean;
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

/**
 * Queued chunks whose checks (a seed proving its data, a file's stamp looked at again) are
 * started while the chunk before them is checked or sent: one at a time, each small file
 * cost a trip to the thread pool during which the connection sent nothing.
 */
const PREPARE_AHEAD = 4;


/** What the owner of an uploader (the node's UploadSession) decides and hears about. */
export interface UploadHooks {
  /** A REQUEST arrived for a chunk we have (`available`) or not: serve it, or which REJECT to answer. */
  requested(chunk: number, available: boolean): UploadAnswer;
  /** The chunk was accepted for sending (queued). */
  granted(chunk: number): void;
  /** A granted chunk is done: fully sent, or dropped (cancelled, read failure, closed). */
  ended(chunk: number): void;
  /** May this connection start sending its next chunk now (an upload slot is free)? Takes the slot when it may. */
  takeSlot(): boolean;
  /** The chunk this connection was sending is done with: its slot is free for another. */
  releaseSlot(): void;
  /** A chunk was sent whole. */
  served(chunk: number): void;
  sent(bytes: number): void;
}

const NO_HOOKS: UploadHooks = {
  requested: (_, available) => (available ? "serve" : "not-available"),
  granted() {},
  ended() {},
  takeSlot: () => true,
  releaseSlot() {},
  served() {},
  sent() {},
};

const REJECT_CODES = { "not-available": WIRE_ERRORS.NOT_AVAILABLE, elsewhere: WIRE_ERRORS.ELSEWHERE } as const;

/**
 * Answers one peer's REQUESTs: a bounded queue, streamed as PIECE frames of at most
 * NET.blockSize bytes, read straight into one reused frame buffer. The
 * next block is read only when the socket has taken everything before it, so memory per
 * connection is one block and the socket's backpressure paces the disk. Requests that
 * arrive while a block is being read wait in the queue, which is what the flood rule counts.
 */
export class Uploader {
  private readonly queue: number[] = [];
  private current: { chunk: number; offset: number; length: number } | null = null;
  private frame: Uint8Array | null = null;
  private waitingForTokens = false;
  private preparing = false;
  private reading = false;
  private closed = false;
  /** Requests declined (not here, or get it elsewhere) in the current one-second window. */
  private declined = 0;
  private declineWindowStart = 0;

  constructor(
    private readonly conn: PeerConnection,
    private readonly source: ChunkSource,
    /** Shared by every connection of a process: --max-upload-rate. */
    private readonly uploadLimit: TokenBucket | null = null,
    private readonly hooks: UploadHooks = NO_HOOKS,
    private readonly now: Clock = systemClock,
  ) {}

  get queued(): number {
    return this.queue.length + (this.current ? 1 : 0);
  }

  request(chunk: number): void {
    if (chunk >= this.source.chunkCount) {
      return this.conn.fail(WIRE_ERRORS.OUT_OF_RANGE, `REQUEST for chunk ${chunk} of a ${this.source.chunkCount}-chunk package`);
    }
    // Queued plus declined in the last second: a flood shows in one or the other, or split
    // between them; a well-behaved peer stays far below (its pipeline depth is at most 64).
    if (this.queued + this.recentlyDeclined() >= NET.maxQueuedRequestsPerPeer) {
      return this.conn.fail(WIRE_ERRORS.TOO_MANY_REQUESTS, `more than ${NET.maxQueuedRequestsPerPeer} requests queued or declined within a second`);
    }
    const answer = this.hooks.requested(chunk, this.source.has(chunk));
    if (answer !== "serve") return this.decline(chunk, REJECT_CODES[answer]);
    this.queue.push(chunk);
    this.hooks.granted(chunk);
    this.prepareAhead();
    this.pump();
  }

  /**
   * Answers REJECT. A well-behaved peer asks for what we announced and backs off when sent
   * elsewhere, so it is declined at most about its pipeline depth per second; hundreds in
   * a second count as a flood (see request), however cheap each answer.
   */
  private decline(chunk: number, code: number): void {
    this.recentlyDeclined();
    this.declined++;
    this.conn.sendMessage({ type: "REJECT", index: chunk, code });
  }

  /** Requests declined in the current one-second window. */
  private recentlyDeclined(): number {
    const now = this.now();
    if (now - this.declineWindowStart > 1000) {
      this.declineWindowStart = now;
      this.declined = 0;
    }
    return this.declined;
  }

  cancel(chunk: number): void {
    const at = this.queue.indexOf(chunk);
    if (at >= 0) {
      this.queue.splice(at, 1);
      this.hooks.ended(chunk);
    }
    // A chunk part-sent stops at the next block boundary; the peer discards what it got.
    if (this.current?.chunk === chunk) this.endCurrent();
  }

  /** Waits for the source to vouch for a chunk; a chunk that fails is refused, not sent. */
  private awaitCheck(chunk: number, check: Promise<boolean>): void {
    this.preparing = true;
    void check
      .catch(() => false)
      .then((good) => {
        this.preparing = false;
        if (!good) {
          const at = this.queue.indexOf(chunk);
          if (at >= 0) {
            this.queue.splice(at, 1);
            this.hooks.ended(chunk);
            this.conn.sendMessage({ type: "REJECT", index: chunk, code: WIRE_ERRORS.DAMAGED });
          }
        }
        this.pump();
      });
  }

  /** Starts the checks of the chunks queued behind the next one; their results are awaited when their turn comes. */
  private prepareAhead(): void {
    if (!this.source.prepare) return;
    for (let i = 1; i <= PREPARE_AHEAD && i < this.queue.length; i++) {
      const ready = this.source.prepare(this.queue[i]!);
      if (ready !== true) void ready.catch(() => false);
    }
  }

  /** The connection is gone: a chunk part-sent will never finish. */
  close(): void {
    this.closed = true;
    for (const chunk of this.queue.splice(0)) this.hooks.ended(chunk);
    if (this.current) this.endCurrent();
    // Not given back: a closing connection may still be flushing part of it.
    this.frame = null;
  }

  private endCurrent(): void {
    const chunk = this.current!.chunk;
    this.current = null;
    this.hooks.ended(chunk);
    this.hooks.releaseSlot();
  }

  /** Sends the next block if the socket keeps up. Called on request, on drain and after each block. */
  pump(): void {
    if (this.closed || !this.conn.ready || this.conn.backlog > 0 || this.waitingForTokens || this.preparing || this.reading) return;
    if (!this.current) {
      const chunk = this.queue[0];
      if (chunk === undefined) {
        // backlog is 0 (above): the connection holds no part of the frame.
        if (this.frame && idleFrames.length < NET.uploadSlots) idleFrames.push(this.frame);
        this.frame = null;
        return;
      }
      const ready = this.source.prepare?.(chunk) ?? true;
      this.prepareAhead();
      if (ready !== true) return this.awaitCheck(chunk, ready);
      // Waits for a free slot; the owner pumps again when one frees.
      if (!this.hooks.takeSlot()) return;
      this.queue.shift();
      this.current = { chunk, offset: 0, length: this.source.chunkLength(chunk) };
    }
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
  private readBlock(current: { chunk: number; offset: number; length: number }, frame: Uint8Array, size: number): void {
    this.reading = true;
    const { chunk, offset } = current;
    void diskReads
      .run(() => this.source.read(chunk, offset, frame.subarray(FRAME_PREFIX, FRAME_PREFIX + size)))
      .catch(() => -1)
      .then((got) => {
        this.reading = false;
        // Cancelled or closed while reading: the block is dropped unsent.
        if (this.closed || this.current !== current) return this.pump();
        if (got !== size) {
          // The payload changed or vanished under us: say so rather than send a short chunk.
          this.endCurrent();
          this.conn.sendMessage({ type: "REJECT", index: chunk, code: WIRE_ERRORS.READ_FAILED });
          return this.pump();
        }
        writePieceHeader(frame, chunk, offset, size);
        current.offset += size;
        if (current.offset === current.length) {
          this.endCurrent();
          this.hooks.served(chunk);
        }
        this.hooks.sent(size);
        this.conn.send(frame.subarray(0, FRAME_PREFIX + size));
        this.pump();
      });
  }
}
