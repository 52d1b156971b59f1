import { NET } from "../config.ts";
import type { DownloadSession } from "./session.ts";
import { shouldServe, UploadLedger } from "./superseed.ts";

/** How a REQUEST is answered: the chunk is served, or REJECT(NOT_AVAILABLE) or REJECT(ELSEWHERE). */
export type UploadAnswer = "serve" | "not-available" | "elsewhere";

/** Peers listed by name in the per-peer upload totals. */
export const MAX_UPLOAD_ROWS = 1024;

/**
 * Upload slots that peers in other zones may hold at once. Their transfers cross a rack's
 * uplink, shared by the whole rack and slower than our NIC, so each holds its slot long,
 * and the zone of the seed is asked by every other at first: with more slots theirs, its
 * own nodes waited. 1, 2, 4 and 8 gave p99 1.41, 1.33, 1.42 and 1.43 (docs/performance.md, "Zones").
 */
export const FAR_UPLOAD_SLOTS = NET.uploadSlots / 4;

interface UploadPeer {
  /** How the peer is named in the per-peer totals. */
  name: string;
  /** How often we told this peer to fetch each chunk elsewhere. */
  sentElsewhere: Map<number, number>;
  /** Chunks granted to it and not yet ended: queued or being sent. */
  outstanding: number;
  /** In another zone (peers-session.ts). */
  far: boolean;
}

/**
 * The serving side of one package in the swarm, as a synchronous state machine beside the
 * DownloadSession: events go in (a peer connected or closed, a REQUEST, an upload granted,
 * ended or served, bytes sent), answers come out. It decides whether a REQUEST is served
 * or sent elsewhere (super-seeding, superseed.ts), how many chunks are sent at once (the
 * upload slots), and keeps the upload counters. It reads
 * the download session for what the swarm has (whether we seed, who announced a chunk) and
 * takes its clock from the download's scheduler. Queues, reads, frames and the flood rule
 * stay per connection, in the Uploader.
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
  /** Chunks granted and not yet ended, all peers together: queued or being sent. */
  private outstanding = 0;
  /** Peers whose connections found no slot free when they had a chunk to send, and still have one. */
  private readonly waitingForSlot = new Set<string>();
  /** Where the next freed slot starts its round of the connections (inTurn). */
  private turn = 0;
  private readonly peers = new Map<string, UploadPeer>();
  private readonly ledger: UploadLedger;
  /**
   * The uploads to peers of our zone alone, from the first far peer on. To a near asker,
   * "elsewhere" means in our zone: a copy that went to another zone is not one it may fetch.
   */
  private nearLedger: UploadLedger | null = null;

  constructor(
    private readonly download: DownloadSession,
    /**
     * Whether, once complete, it super-seeds (superseed.ts): `serve`, the origin of a
     * package, does; a `get` that finished shares freely, as it did while downloading. When
     * every holder super-seeds and each sends askers to the others, nobody is served.
     */
    private readonly superSeeding: boolean,
  ) {
    this.ledger = new UploadLedger(download.scheduler.config.chunkCount);
  }

  peerConnected(peer: string, name: string, far = false): void {
    this.peers.set(peer, { name, sentElsewhere: new Map(), outstanding: 0, far });
    if (far) this.nearLedger ??= new UploadLedger(this.download.scheduler.config.chunkCount);
  }

  peerClosed(peer: string): void {
    this.peers.delete(peer);
    this.waitingForSlot.delete(peer);
  }

  /** A REQUEST arrived from `peer` for a chunk we have (`available`) or not. */
  requested(peer: string, chunk: number, available: boolean): UploadAnswer {
    this.lastRequestAt = this.now();
    if (!available) return "not-available";
    const { sentElsewhere, far } = this.peers.get(peer)!;
    const asked = sentElsewhere.get(chunk) ?? 0;
    const inZone = !far && this.nearLedger !== null;
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
    sentElsewhere.set(chunk, asked + 1);
    return "elsewhere";
  }

  /** A chunk served to `peer` was queued for sending. */
  granted(peer: string, chunk: number): void {
    this.ledger.granted(chunk);
    this.outstanding++;
    const p = this.peers.get(peer);
    if (p) p.outstanding++;
    if (p && !p.far) this.nearLedger?.granted(chunk);
  }

  /** A granted chunk is done: fully sent, or dropped (cancelled, read failure, closed). */
  ended(peer: string, chunk: number): void {
    this.ledger.ended(chunk, this.now());
    this.outstanding--;
    const p = this.peers.get(peer);
    if (p && !p.far) this.nearLedger?.ended(chunk, this.now());
    // Nothing left to send: it waits for no slot, and must not hold back those that do.
    if (p && --p.outstanding === 0) this.waitingForSlot.delete(peer);
  }

  /**
   * The connection to `peer` would start sending its next chunk: it may while fewer than
   * NET.uploadSlots are being sent, unless others are waiting and it is not among them. A
   * connection that just finished a chunk so goes behind those that waited, and a peer
   * with a long queue cannot keep a slot for ever. A far peer also waits while far peers
   * hold FAR_UPLOAD_SLOTS, without holding back the near ones.
   */
  takeSlot(peer: string): boolean {
    const far = this.peers.get(peer)?.far ?? false;
    if (far && this.sendingFar >= FAR_UPLOAD_SLOTS) return false;
    const waited = this.waitingForSlot.delete(peer);
    if (this.sending < NET.uploadSlots && (waited || this.waitingForSlot.size === 0)) {
      this.sending++;
      if (far) this.sendingFar++;
      return true;
    }
    this.waitingForSlot.add(peer);
    return false;
  }

  /** The chunk `peer` was being sent is done with (sent, cancelled, cut off): the adapter offers the slot to the connections, inTurn. */
  releaseSlot(peer: string): void {
    this.sending--;
    if (this.peers.get(peer)?.far) this.sendingFar--;
  }

  get slotFree(): boolean {
    return this.sending < NET.uploadSlots;
  }

  /** The connections in the order a freed slot is offered to them: each round starts one further along, so none waits for ever. */
  inTurn<T>(connections: T[]): T[] {
    const start = this.turn++ % Math.max(1, connections.length);
    return [...connections.slice(start), ...connections.slice(0, start)];
  }

  /** A chunk was sent whole. */
  served(): void {
    this.chunksServed++;
  }

  /** A block of `bytes` went to `peer`. */
  sent(peer: string, bytes: number): void {
    this.uploadedBytes += bytes;
    // A seed runs for days and meets peers without end: past a bound, the rest share a row.
    const { name } = this.peers.get(peer)!;
    const row = this.uploadedTo.has(name) || this.uploadedTo.size < MAX_UPLOAD_ROWS ? name : "others";
    this.uploadedTo.set(row, (this.uploadedTo.get(row) ?? 0) + bytes);
  }

  private now(): number {
    return this.download.scheduler.config.now();
  }
}
