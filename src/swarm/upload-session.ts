import { NET } from "../config.ts";
import { WIRE_ERRORS } from "../protocol/codes.ts";
import type { Message } from "../protocol/messages.ts";
import { Outbox } from "./outbox.ts";
import type { DownloadSession } from "./session.ts";
import { shouldServe, UploadLedger } from "./superseed.ts";

/** How a REQUEST is answered: the chunk is served, or REJECT(NOT_AVAILABLE) or REJECT(ELSEWHERE). */
export type UploadAnswer = "serve" | "not-available" | "elsewhere";

/** How the sending of a chunk ended, as the adapter reports it. */
export type UploadOutcome = "sent" | "damaged" | "read-failed";

/**
 * What the upload session asks of its adapter. `peer` is the key given with peerConnected.
 * A connection sends one chunk at a time, and only those `upload` names.
 */
export type UploadAction =
  /** Start sending the chunk to the peer (it holds an upload slot); report `uploadEnded`. */
  | { type: "upload"; peer: string; chunk: number }
  /** Stop sending the chunk, at the next block boundary (it was cancelled): report nothing. */
  | { type: "stop-upload"; peer: string; chunk: number }
  /** A queued chunk will be sent soon: start proving it now (ChunkSource.prepare), so the connection does not wait for its check. */
  | { type: "check"; peer: string; chunk: number }
  /** Send a REJECT. */
  | { type: "send"; peer: string; message: Message }
  /** Close the connection with ERROR(code): a flood, or a request out of range. */
  | { type: "close"; peer: string; code: number; reason: string };

/** Peers listed by name in the per-peer upload totals. */
export const MAX_UPLOAD_ROWS = 1024;

/**
 * Upload slots that peers in other zones may hold at once. Their transfers cross a rack's
 * uplink, shared by the whole rack and slower than our NIC, so each holds its slot long,
 * and the zone of the seed is asked by every other at first: with more slots theirs, its
 * own nodes waited. 1, 2, 4 and 8 gave p99 1.41, 1.33, 1.42 and 1.43 (docs/performance.md, "Zones").
 */
export const FAR_UPLOAD_SLOTS = NET.uploadSlots / 4;

/**
 * Queued chunks whose checks (a seed proving its data, a file's stamp looked at again) are
 * started while the chunk before them is checked or sent: one at a time, each small file
 * cost a trip to the thread pool during which the connection sent nothing.
 */
export const CHECK_AHEAD = 4;

const REJECT_CODES = { "not-available": WIRE_ERRORS.NOT_AVAILABLE, elsewhere: WIRE_ERRORS.ELSEWHERE, damaged: WIRE_ERRORS.DAMAGED, "read-failed": WIRE_ERRORS.READ_FAILED } as const;

interface UploadPeer {
  /** How the peer is named in the per-peer totals. */
  name: string;
  /** How often we told this peer to fetch each chunk elsewhere. */
  sentElsewhere: Map<number, number>;
  /** Chunks served and waiting their turn, in the order asked. */
  queue: number[];
  /** The chunk being sent, or -1. */
  current: number;
  /** In another zone (peers-session.ts). */
  far: boolean;
  /** Requests declined (not here, or get it elsewhere) in the one-second window from `declineWindowStart`. */
  declined: number;
  declineWindowStart: number;
}

/**
 * The serving side of one package in the swarm, as a synchronous state machine beside the
 * DownloadSession: events go in (a peer connected or closed, a REQUEST or CANCEL, a chunk
 * sent or given up, bytes sent), actions come out (upload, stop, check ahead, REJECT,
 * close). It decides whether a REQUEST is served or sent elsewhere (super-seeding,
 * superseed.ts), keeps each peer's queue, hands out the upload slots, catches a flood of
 * requests and keeps the upload counters, on the download's clock. Reading, framing and
 * sending the bytes stay with the adapter (the Uploader, or the simulator's flows).
 */
export class UploadSession {
  /** When the last REQUEST arrived, on the scheduler's clock: lingering ends when this grows old. */
  lastRequestAt = 0;
  uploadedBytes = 0;
  /** Bytes sent, by peer name; past MAX_UPLOAD_ROWS names the rest share the row "others". */
  readonly uploadedTo = new Map<string, number>();
  chunksServed = 0;
  /** Chunks being sent now, at most NET.uploadSlots. */
  sending = 0;
  /** Of those, chunks being sent to far peers, at most FAR_UPLOAD_SLOTS. */
  private sendingFar = 0;
  /** Chunks served and not yet ended, all peers together: queued or being sent. */
  private outstanding = 0;
  /** Peers with a chunk to send and no slot. A connection that just finished a chunk goes behind them, so a long queue cannot keep a slot. */
  private readonly waiting = new Set<string>();
  /** Where the next round of offerSlots starts among the connections. */
  private turn = 0;
  private readonly peers = new Map<string, UploadPeer>();
  private readonly ledger: UploadLedger;
  /**
   * The uploads to peers of our zone alone, from the first far peer on. To a near asker,
   * "elsewhere" means in our zone: a copy that went to another zone is not one it may fetch.
   */
  private nearLedger: UploadLedger | null = null;
  private readonly out = new Outbox<UploadAction>();

  constructor(
    private readonly download: DownloadSession,
    /**
     * Whether, once complete, it super-seeds (superseed.ts): `serve`, the origin of a
     * package, does; a `get` that finished shares freely, as it did while downloading. When
     * every holder super-seeds and each sends askers to the others, nobody is served.
     */
    private readonly superSeeding: boolean,
    /** Whether we can serve the chunk now (the store has it, and it is not known damaged). */
    private readonly available: (chunk: number) => boolean,
  ) {
    this.ledger = new UploadLedger(download.scheduler.config.chunkCount);
  }

  /** Something is queued or being sent. */
  get busy(): boolean {
    return this.outstanding > 0;
  }

  peerConnected(peer: string, name: string, far = false): void {
    this.peers.set(peer, { name, sentElsewhere: new Map(), queue: [], current: -1, far, declined: 0, declineWindowStart: -Infinity });
    if (far) this.nearLedger ??= new UploadLedger(this.download.scheduler.config.chunkCount);
  }

  /** The connection is gone: what it had queued or was being sent is dropped, and its slot goes to another. */
  peerClosed(peer: string): readonly UploadAction[] {
    const p = this.peers.get(peer);
    if (!p) return this.out.drain();
    for (const chunk of p.queue.splice(0)) this.ended(p, chunk);
    if (p.current >= 0) this.release(p);
    this.peers.delete(peer);
    this.waiting.delete(peer);
    this.offerSlots();
    return this.out.drain();
  }

  /** A REQUEST arrived from `peer`. */
  requested(peer: string, chunk: number): readonly UploadAction[] {
    const p = this.peers.get(peer);
    if (!p) return this.out.drain();
    this.lastRequestAt = this.now();
    const { chunkCount } = this.download.scheduler.config;
    if (chunk >= chunkCount) this.out.push({ type: "close", peer, code: WIRE_ERRORS.OUT_OF_RANGE, reason: `REQUEST for chunk ${chunk} of a ${chunkCount}-chunk package` });
    // Queued plus declined in the last second: a flood shows in one or the other, or split
    // between them; a well-behaved peer stays far below (its pipeline depth is at most 64).
    else if (this.queued(p) + this.recentlyDeclined(p) >= NET.maxQueuedRequestsPerPeer) {
      this.out.push({ type: "close", peer, code: WIRE_ERRORS.TOO_MANY_REQUESTS, reason: `more than ${NET.maxQueuedRequestsPerPeer} requests queued or declined within a second` });
    } else {
      const answer = this.answer(p, chunk);
      if (answer === "serve") this.serve(peer, p, chunk);
      else this.decline(peer, p, chunk, answer);
    }
    return this.out.drain();
  }

  /** The peer took back a request: dropped from its queue, or, being sent, stopped. */
  cancelled(peer: string, chunk: number): readonly UploadAction[] {
    const p = this.peers.get(peer);
    if (!p) return this.out.drain();
    const at = p.queue.indexOf(chunk);
    if (at >= 0) {
      p.queue.splice(at, 1);
      this.ended(p, chunk);
      this.checkAheadFrom(peer, p, at);
      if (p.queue.length === 0) this.waiting.delete(peer);
    }
    // A chunk part-sent stops at the next block boundary; the peer discards what it got.
    if (p.current === chunk) {
      this.out.push({ type: "stop-upload", peer, chunk });
      this.release(p);
      this.next(peer, p);
    }
    return this.out.drain();
  }

  /** The chunk `upload` asked for is done with: sent whole, or refused because its bytes are not the package's. */
  uploadEnded(peer: string, chunk: number, outcome: UploadOutcome): readonly UploadAction[] {
    const p = this.peers.get(peer);
    if (!p || p.current !== chunk) return this.out.drain();
    this.release(p);
    if (outcome === "sent") this.chunksServed++;
    // Damaged: so the asker can say why it cannot finish. Read failed: the payload changed or vanished under us.
    else this.out.push({ type: "send", peer, message: { type: "REJECT", index: chunk, code: REJECT_CODES[outcome] } });
    this.next(peer, p);
    return this.out.drain();
  }

  /** A block of `bytes` went to `peer`. */
  sent(peer: string, bytes: number): void {
    this.uploadedBytes += bytes;
    const p = this.peers.get(peer);
    if (!p) return;
    // A seed runs for days and meets peers without end: past a bound, the rest share a row.
    const row = this.uploadedTo.has(p.name) || this.uploadedTo.size < MAX_UPLOAD_ROWS ? p.name : "others";
    this.uploadedTo.set(row, (this.uploadedTo.get(row) ?? 0) + bytes);
  }

  private answer(p: UploadPeer, chunk: number): UploadAnswer {
    if (!this.available(chunk)) return "not-available";
    const asked = p.sentElsewhere.get(chunk) ?? 0;
    const inZone = !p.far && this.nearLedger !== null;
    const serve = shouldServe({
      seeding: this.superSeeding && this.download.complete,
      ...(inZone ? this.nearLedger! : this.ledger).of(chunk, this.now()),
      downloaderHasIt: this.download.scheduler.downloaderHas(chunk, inZone),
      timesSentElsewhere: asked,
      otherPeers: this.peers.size - 1,
      // A seed that sends askers elsewhere while its uplink idles only slows the swarm: at
      // 10 Gbit/s it sat idle for most of a run answering ELSEWHERE (docs/performance.md).
      uplinkIdle: this.outstanding === 0,
    });
    if (serve) return "serve";
    p.sentElsewhere.set(chunk, asked + 1);
    return "elsewhere";
  }

  private serve(peer: string, p: UploadPeer, chunk: number): void {
    p.queue.push(chunk);
    this.outstanding++;
    this.ledger.granted(chunk);
    if (!p.far) this.nearLedger?.granted(chunk);
    if (p.current < 0 && !this.waiting.has(peer)) {
      this.waiting.add(peer);
      this.offerSlots();
    }
    // Not started at once: proved while it waits, if it is among the next few.
    const position = p.queue.lastIndexOf(chunk);
    if (position >= 0 && position < CHECK_AHEAD) this.out.push({ type: "check", peer, chunk });
  }

  /**
   * Answers REJECT. A well-behaved peer asks for what we announced and backs off when sent
   * elsewhere, so it is declined at most about its pipeline depth per second; hundreds in
   * a second count as a flood (see requested), however cheap each answer.
   */
  private decline(peer: string, p: UploadPeer, chunk: number, answer: Exclude<UploadAnswer, "serve">): void {
    p.declined++;
    this.out.push({ type: "send", peer, message: { type: "REJECT", index: chunk, code: REJECT_CODES[answer] } });
  }

  private recentlyDeclined(p: UploadPeer): number {
    const now = this.now();
    if (now - p.declineWindowStart > 1000) {
      p.declineWindowStart = now;
      p.declined = 0;
    }
    return p.declined;
  }

  private queued(p: UploadPeer): number {
    return p.queue.length + (p.current >= 0 ? 1 : 0);
  }

  /** The peer's chunk is done with: its slot is free. */
  private release(p: UploadPeer): void {
    this.ended(p, p.current);
    p.current = -1;
    this.sending--;
    if (p.far) this.sendingFar--;
  }

  /** After a chunk: the freed slot goes to those waiting, and the peer, if it has more to send, waits again behind them. */
  private next(peer: string, p: UploadPeer): void {
    this.offerSlots();
    if (p.queue.length === 0) return;
    this.waiting.add(peer);
    this.offerSlots();
  }

  /**
   * Free slots go to the waiting peers, looked for in turn among all the connections, each
   * round starting one further along so that none waits for ever; a far peer waits while
   * far peers hold FAR_UPLOAD_SLOTS, without holding back the near ones. Taken in the order
   * they began to wait, the oldest requests went first, and the swarm finished later:
   * p99 2.29 against 2.13 at 200 x 1 Gbit/s x 64 MiB (docs/performance.md, "One core").
   */
  private offerSlots(): void {
    if (this.waiting.size === 0 || this.sending >= NET.uploadSlots) return;
    // From the connection at `start` to the last, then from the first: no copy of the table
    // on a path every chunk sent takes.
    const start = this.turn++ % this.peers.size;
    let i = 0;
    for (const [peer, p] of this.peers) if (i++ >= start && !this.startIfWaiting(peer, p)) return;
    i = 0;
    for (const [peer, p] of this.peers) if (i++ < start && !this.startIfWaiting(peer, p)) return;
  }

  /** Starts the peer's next chunk if it waits and may have a slot; false once no slot or no waiter is left. */
  private startIfWaiting(peer: string, p: UploadPeer): boolean {
    if (this.waiting.has(peer) && !(p.far && this.sendingFar >= FAR_UPLOAD_SLOTS)) {
      this.waiting.delete(peer);
      p.current = p.queue.shift()!;
      this.sending++;
      if (p.far) this.sendingFar++;
      this.out.push({ type: "upload", peer, chunk: p.current });
      this.checkAheadFrom(peer, p, 0);
    }
    return this.sending < NET.uploadSlots && this.waiting.size > 0;
  }

  /** The queue moved up from position `from`: the chunk that came into the check-ahead window is checked. */
  private checkAheadFrom(peer: string, p: UploadPeer, from: number): void {
    if (from >= CHECK_AHEAD) return;
    const chunk = p.queue[CHECK_AHEAD - 1];
    if (chunk !== undefined) this.out.push({ type: "check", peer, chunk });
  }


  /** A served chunk is done: fully sent, or dropped (cancelled, refused, closed). */
  private ended(p: UploadPeer, chunk: number): void {
    this.outstanding--;
    this.ledger.ended(chunk, this.now());
    if (!p.far) this.nearLedger?.ended(chunk, this.now());
  }

  private now(): number {
    return this.download.scheduler.config.now();
  }
}
