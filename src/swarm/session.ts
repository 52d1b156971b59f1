import { BtError } from "../errors.ts";
import { WIRE_ERRORS } from "../protocol/codes.ts";
import type { Message } from "../protocol/messages.ts";
import { Bitset } from "../util/bitset.ts";
import { Histogram } from "../util/histogram.ts";
import { GiveUpRule } from "./give-up.ts";
import { Outbox } from "./outbox.ts";
import { Scheduler, type SchedulerConfig } from "./scheduler.ts";

/**
 * What the download session asks of its adapter. `peer` is the key the adapter gave with
 * `peerConnected`. Actions are returned from each event, in the order to carry them out.
 */
export type SessionAction =
  /** Send a message (BITFIELD, REQUEST, CANCEL, HAVE) to a peer. */
  | { type: "send"; peer: string; message: Message }
  /** Copy the PIECE just received into the peer's buffer for the chunk, at `offset`. */
  | { type: "assemble"; peer: string; chunk: number; offset: number }
  /** Drop whatever of the chunk was assembled from the peer: its request was taken back, or the chunk is no longer wanted. */
  | { type: "discard"; peer: string; chunk: number }
  /** The chunk is whole: hash it, then report `chunkVerified`. */
  | { type: "verify"; peer: string; chunk: number }
  /** The chunk verified: write it, then report `chunkWritten` (or `chunkLost`). */
  | { type: "write"; peer: string; chunk: number }
  /** Close the connection with ERROR(code). */
  | { type: "close"; peer: string; code: number; reason: string }
  /** Never dial the peer's address again. */
  | { type: "ban"; peer: string; reason: string }
  | { type: "log"; event: string; fields: Record<string, unknown> }
  /** Report `wake` after this long: a request becomes affordable under --max-download-rate. */
  | { type: "wake"; afterMs: number }
  /** Every chunk is verified and written. */
  | { type: "complete" }
  /** The download cannot go on. */
  | { type: "fail"; error: unknown };

/** --max-download-rate as the session sees it: a TokenBucket. */
export interface RequestBudget {
  /** Bytes per second. */
  readonly rate: number;
  affordable(unit: number): number;
  take(bytes: number): number;
}

/** What the session knows of the dialling, which stays with the adapter for now. */
export interface DialOutlook {
  /** Some known address may still lead to a peer. */
  anyDialable(): boolean;
  /** The known addresses and how each failed, for the give-up error. */
  describe(): string;
}

export interface SessionConfig {
  /** The scheduler's config; its `now` and `random` are the session's clock and randomness, its `chunkLength` the chunks' bytes. */
  scheduler: SchedulerConfig;
  /** --retry-for: with no progress possible, keep trying this long before failing. */
  retryForMs: number;
  downloadLimit: RequestBudget | null;
  /** get --log-requests: one `request` event per REQUEST sent. */
  logRequests: boolean;
  /** get --only: the chunks to fetch; the rest are neither requested nor offered. Default: all. */
  wanted?: Bitset;
  addresses: DialOutlook;
  /**
   * Whether a peer's connection is open for new requests: a closing one keeps its open
   * requests until it closes, but is asked for nothing more (the core's connection table).
   * Default: every peer connected is.
   */
  askable?: (peer: string) => boolean;
}

interface SessionPeer {
  /** How the peer is named in logs and the per-peer totals. */
  name: string;
}

/**
 * The download side of one package in the swarm, as a synchronous state machine: events
 * go in as method calls (a peer connected, a message, a chunk verified or written, a
 * tick), actions come out as values. It decides what to request from whom and when,
 * what a received, verified or written chunk leads to, and when the download completes or
 * gives up; the Scheduler beside it owns the request state and the policies (picker,
 * pipeline, stall, give-up) make the individual rules. No sockets, timers, files or
 * hashing: the clock and randomness come in through the scheduler's config.
 */
export class DownloadSession {
  readonly scheduler: Scheduler;
  /** Most requests open at once, across all peers. */
  inFlightPeak = 0;
  /** From REQUEST sent to the chunk's last byte received. */
  readonly latency = new Histogram();
  /** Bytes of verified chunks, by the name of the peer that sent them. */
  readonly receivedFrom = new Map<string, number>();
  /** Bytes of the chunks we hold, verified: those we had at the start and those fetched since. */
  verifiedBytes = 0;
  /** The chunks we hold, which BITFIELD offers: with --only, fewer than the scheduler counts as had. */
  private readonly held: Bitset;
  /** Bytes of chunks received and verified in this session. */
  bytesReceived = 0;
  verificationFailures = 0;
  private readonly peers = new Map<string, SessionPeer>();
  private readonly giveUp: GiveUpRule;
  private lastBad: { chunk: number; peer: string } | null = null;
  /** The last chunk a peer refused because its own copy is damaged: named if nobody else has it. */
  private lastDamaged: { chunk: number; peer: string } | null = null;
  private readonly out = new Outbox<SessionAction>();
  private wakePending = false;
  /**
   * A peer announced a chunk since the last tick. In a large swarm a node can sit for a
   * while among peers with nothing it lacks, while the package spreads towards it; their
   * HAVEs show the swarm still moves, which a dead one does not.
   */
  private heardOfChunks = false;
  /** When a peer last announced a chunk, on the scheduler's clock: a finished get lingers while its neighbours download (linger.ts). */
  lastHaveAt = -Infinity;
  /** No more requests: the download completed, failed or was stopped. */
  private stopped = false;
  private done = false;

  /** `have`: the chunks we hold (the store's bitset, which the adapter keeps up to date as it writes). */
  constructor(
    private readonly config: SessionConfig,
    have: Bitset,
  ) {
    this.held = have;
    this.scheduler = new Scheduler(config.scheduler, config.wanted ? withUnwanted(have, config.wanted) : have);
    this.giveUp = new GiveUpRule(config.retryForMs);
    for (const c of have.members()) this.verifiedBytes += config.scheduler.chunkLength(c);
  }

  get complete(): boolean {
    return this.scheduler.complete;
  }

  /** A node that already has everything is complete from the start. */
  start(): readonly SessionAction[] {
    if (this.complete) this.finish();
    return this.out.drain();
  }

  /** No more requests and no give-up: the adapter is closing the node. */
  stop(): void {
    this.stopped = true;
  }

  /**
   * A peer joined; `far` when it is in another zone (peers-session.ts), which limits what it
   * is asked for, and `rank` its share of what the zone brings in (scheduler.ts, shareRank).
   */
  peerConnected(peer: string, name: string, far = false, rank = 0): readonly SessionAction[] {
    this.peers.set(peer, { name });
    this.scheduler.addPeer(peer, far, rank);
    // A copy: the adapter may keep the message while more chunks arrive.
    this.out.push({ type: "send", peer, message: { type: "BITFIELD", bits: this.held.bytes.slice() } });
    return this.out.drain();
  }

  /** The connection is gone: its requests go to others. */
  peerClosed(peer: string): readonly SessionAction[] {
    this.peers.delete(peer);
    this.scheduler.removePeer(peer);
    this.fillAll();
    return this.out.drain();
  }

  bitfield(peer: string, bits: Uint8Array): readonly SessionAction[] {
    const { chunkCount } = this.scheduler.config;
    const problem = Bitset.problem(chunkCount, bits);
    if (problem) this.close(peer, WIRE_ERRORS.BAD_FRAME, problem);
    else {
      this.scheduler.setBitfield(peer, new Bitset(chunkCount, bits.slice()));
      this.fill(peer);
    }
    return this.out.drain();
  }

  have(peer: string, chunk: number): readonly SessionAction[] {
    const { chunkCount } = this.scheduler.config;
    if (chunk >= chunkCount) this.close(peer, WIRE_ERRORS.OUT_OF_RANGE, `HAVE for chunk ${chunk} of ${chunkCount}`);
    else {
      this.scheduler.peerHas(peer, chunk);
      this.heardOfChunks = true;
      this.lastHaveAt = this.config.scheduler.now();
      // The announced chunk is the only one new to ask this peer for: the rest were
      // considered at its last fill, and whatever frees a slot refills every peer.
      if (this.scheduler.askable(chunk)) this.fill(peer);
    }
    return this.out.drain();
  }

  /** A PIECE of `bytes` bytes at `offset` arrived; with the chunk's last block, it goes to be verified. */
  piece(peer: string, chunk: number, offset: number, bytes: number): readonly SessionAction[] {
    const p = this.peers.get(peer);
    if (!p) return [];
    if (!this.scheduler.isRequested(peer, chunk)) {
      // Blocks of a chunk we cancelled may still be on the way; anything else is a violation.
      if (!this.scheduler.isCancelled(peer, chunk)) this.close(peer, WIRE_ERRORS.UNEXPECTED, `PIECE for chunk ${chunk}, which was not requested`);
      return this.out.drain();
    }
    const length = this.config.scheduler.chunkLength(chunk);
    const received = this.scheduler.receivedOf(peer, chunk);
    if (offset !== received || received + bytes > length) {
      this.close(peer, WIRE_ERRORS.BAD_FRAME, `PIECE of chunk ${chunk} at offset ${offset} (+${bytes}), expected offset ${received} of ${length}`);
      return this.out.drain();
    }
    // The memory budget charges a peer one chunk arriving, however many are queued there.
    const unfinished = received === 0 ? this.scheduler.arrivingFrom(peer) : -1;
    if (unfinished >= 0) {
      this.close(peer, WIRE_ERRORS.UNEXPECTED, `PIECE of chunk ${chunk} began before chunk ${unfinished} was whole: a peer sends its chunks one at a time`);
      return this.out.drain();
    }
    this.out.push({ type: "assemble", peer, chunk, offset });
    this.scheduler.pieceArrived(peer, chunk, bytes);
    if (received + bytes < length) return this.out.drain();
    const wanted = this.scheduler.wanted(chunk);
    const latency = this.scheduler.received(peer, chunk, p.name);
    if (latency !== undefined) this.latency.add(latency);
    this.out.push({ type: wanted ? "verify" : "discard", peer, chunk });
    this.fill(peer);
    return this.out.drain();
  }

  /** The peer refused a request with REJECT(code). */
  rejected(peer: string, chunk: number, code: number): readonly SessionAction[] {
    const p = this.peers.get(peer);
    if (!p) return [];
    this.discard(peer, chunk);
    if (code === WIRE_ERRORS.ELSEWHERE) this.scheduler.deferred(peer, chunk);
    else {
      const gone = code === WIRE_ERRORS.NOT_AVAILABLE || code === WIRE_ERRORS.READ_FAILED || code === WIRE_ERRORS.DAMAGED;
      if (code === WIRE_ERRORS.READ_FAILED) this.log("peer-read-failed", { peer: p.name, chunk });
      if (code === WIRE_ERRORS.DAMAGED) {
        this.lastDamaged = { chunk, peer: p.name };
        this.log("chunk-error", { chunk, peer: p.name, reason: "the peer's copy is damaged (it does not match the package)", action: "asking other peers" });
      }
      this.scheduler.rejected(peer, chunk, !gone);
    }
    this.fillAll();
    return this.out.drain();
  }

  /** The hash of the chunk from `peer` matched (it is written next) or did not. */
  chunkVerified(peer: string, chunk: number, good: boolean): readonly SessionAction[] {
    if (good) {
      this.out.push({ type: "write", peer, chunk });
      return this.out.drain();
    }
    const name = this.scheduler.landedFrom(chunk)!;
    const drop = this.scheduler.failed(peer, chunk);
    this.verificationFailures++;
    this.lastBad = { chunk, peer: name };
    this.log("chunk-error", { chunk, peer: name, reason: "failed verification", action: drop ? "dropping peer" : "re-requesting" });
    if (drop) {
      this.out.push({ type: "ban", peer, reason: `sent ${this.scheduler.config.maxBadChunksPerPeer} chunks that failed verification` });
      this.close(peer, WIRE_ERRORS.BAD_DATA, `chunk ${chunk} failed verification; too many bad chunks`);
    }
    this.fillAll();
    return this.out.drain();
  }

  /** The chunk is on disk: duplicates are cancelled, every peer hears of it. */
  chunkWritten(chunk: number): readonly SessionAction[] {
    const name = this.scheduler.landedFrom(chunk)!;
    const duplicates = new Set(this.scheduler.committed(chunk));
    this.held.add(chunk);
    for (const peer of this.peers.keys()) {
      if (duplicates.has(peer)) this.cancel(peer, chunk);
      // Every peer hears of it, so it can ask us, and a seed can tell who has what.
      this.out.push({ type: "send", peer, message: { type: "HAVE", index: chunk } });
    }
    const length = this.config.scheduler.chunkLength(chunk);
    this.receivedFrom.set(name, (this.receivedFrom.get(name) ?? 0) + length);
    this.bytesReceived += length;
    this.verifiedBytes += length;
    if (this.complete) this.finish();
    else this.fillAll();
    return this.out.drain();
  }

  /** Hashing or writing the chunk failed for a reason that is not the peer's (a disk error): the download stops. */
  chunkLost(chunk: number, error: unknown): readonly SessionAction[] {
    this.scheduler.abandoned(chunk);
    this.fail(error);
    return this.out.drain();
  }

  /**
   * Every TICK_MS: each peer's depth follows its rate and a stalled peer's requests are
   * taken back and cancelled (Scheduler.tick); then the download may give up (give-up.ts).
   */
  tick(): readonly SessionAction[] {
    for (const [peer, p] of this.peers) {
      const released = this.scheduler.tick(peer);
      for (const chunk of released) this.cancel(peer, chunk);
      if (released.length > 0) this.log("peer-stalled", { peer: p.name, released: released.length });
    }
    this.fillAll();
    if (this.stopped || this.done || this.complete) return this.out.drain();
    const moving = this.scheduler.openRequestCount > 0 || this.scheduler.landingCount > 0 || this.heardOfChunks;
    this.heardOfChunks = false;
    const outlook = { peers: this.peers.size, dialable: this.config.addresses.anyDialable(), moving };
    if (this.giveUp.check(outlook, this.config.scheduler.now())) this.fail(this.noPeersError());
    return this.out.drain();
  }

  /** The time a `wake` action asked for has passed. */
  wake(): readonly SessionAction[] {
    this.wakePending = false;
    this.fillAll();
    return this.out.drain();
  }

  private fill(peer: string): void {
    const p = this.peers.get(peer);
    if (this.stopped || this.complete || !p || this.config.askable?.(peer) === false) return;
    const picks = this.scheduler.nextRequests(peer, this.affordableRequests());
    for (const chunk of picks) {
      this.config.downloadLimit?.take(this.config.scheduler.chunkLength(chunk));
      this.out.push({ type: "send", peer, message: { type: "REQUEST", index: chunk } });
      if (this.config.logRequests) this.log("request", { chunk, peer: p.name });
    }
    this.inFlightPeak = Math.max(this.inFlightPeak, this.scheduler.openRequestCount);
  }

  /** A slot that frees up goes to the fastest peer that can use it: the chunk arrives soonest there. */
  private fillAll(): void {
    for (const peer of this.scheduler.peersByRate()) this.fill(peer);
  }

  /**
   * With --max-download-rate, how many chunks may be requested now. Metering requests meters
   * the data they bring; when none is affordable, try again once one is.
   */
  private affordableRequests(): number {
    const limit = this.config.downloadLimit;
    if (!limit) return Infinity;
    const { chunkSize } = this.scheduler.config;
    const n = limit.affordable(chunkSize);
    if (n === 0 && !this.wakePending) {
      this.wakePending = true;
      this.out.push({ type: "wake", afterMs: Math.max(1, Math.ceil((chunkSize / limit.rate) * 1000)) });
    }
    return n;
  }

  /** Cancels a request the scheduler already took back (and marked cancelled, so its late PIECEs are dropped). */
  private cancel(peer: string, chunk: number): void {
    this.discard(peer, chunk);
    this.out.push({ type: "send", peer, message: { type: "CANCEL", index: chunk } });
  }

  /** The scheduler took the request back: the adapter drops what arrived of it. */
  private discard(peer: string, chunk: number): void {
    this.out.push({ type: "discard", peer, chunk });
  }

  private close(peer: string, code: number, reason: string): void {
    this.out.push({ type: "close", peer, code, reason });
  }

  private noPeersError(): BtError {
    const { chunkCount } = this.scheduler.config;
    const have = this.scheduler.have.count;
    const missing = chunkCount - have;
    const saved = have > 0 ? `progress saved: ${have} of ${chunkCount} chunks verified` : `no chunk verified yet, nothing to keep`;
    if (this.lastDamaged && !this.scheduler.have.has(this.lastDamaged.chunk)) {
      const { chunk, peer } = this.lastDamaged;
      return new BtError("BT_E_NO_PEERS", `chunk ${chunk}: peer ${peer} refused it, its copy being damaged (it does not match the package), and no other peer could supply it (${missing} chunks missing; ${saved})`);
    }
    if (this.lastBad) {
      return new BtError(
        "BT_E_VERIFY",
        `chunk ${this.lastBad.chunk} from peer ${this.lastBad.peer} failed verification and no other peer could supply it (${missing} chunks missing; ${saved})`,
      );
    }
    return new BtError("BT_E_NO_PEERS", `no peer could supply the ${missing} missing chunks (${this.config.addresses.describe() || "no peers known"}); ${saved}`);
  }

  private finish(): void {
    if (this.done) return;
    this.done = true;
    this.out.push({ type: "complete" });
  }

  private fail(error: unknown): void {
    this.stopped = true;
    if (this.done) return;
    this.done = true;
    this.out.push({ type: "fail", error });
  }

  private log(event: string, fields: Record<string, unknown>): void {
    this.out.push({ type: "log", event, fields });
  }
}

/**
 * What the scheduler is told we have: the chunks we hold, and those we do not want, so it
 * never requests them and completes with the selection. Peers are told only what we hold
 * (`held`, in BITFIELD; HAVE only for chunks written).
 */
function withUnwanted(have: Bitset, wanted: Bitset): Bitset {
  const scheduled = new Bitset(have.size, have.bytes.slice());
  for (let c = 0; c < have.size; c++) if (!wanted.has(c)) scheduled.add(c);
  return scheduled;
}
