import { LIMITS, NET } from "../config.ts";
import { Bitset } from "../util/bitset.ts";
import { type Clock, systemClock } from "../util/clock.ts";
import { Availability } from "./availability.ts";
import { type PiecePolicy, randomFirst, rarestFirst } from "./picker.ts";
import { pipelineDepth, RateMeter } from "./pipeline.ts";
import { DEPTH_AFTER_STALL, StallWatch } from "./stall.ts";

export interface SchedulerConfig {
  chunkCount: number;
  /** Bytes in a full chunk: a peer's rate in bytes becomes its depth in chunks (pipeline.ts). */
  chunkSize: number;
  /** Bytes in each chunk: a file's last chunk is short, and a small file is one short chunk. */
  chunkLength: (chunk: number) => number;
  /** Full chunks' worth of bytes in flight to one peer (--concurrency). */
  requestsPerPeer: number;
  /**
   * Bytes of received chunks held in memory: those being verified and written, and for
   * each peer asked, the one chunk it can be sending (see `Scheduler.bytesHeld`).
   */
  maxBytesInMemory: number;
  /**
   * Bytes of landed chunks (received whole, being verified and written) past which no peer
   * is asked for more, whatever the budget has left (see maxLandingBytes).
   */
  maxLandingBytes: number;
  /** Chunks failing verification before a peer is dropped. */
  maxBadChunksPerPeer: number;
  /** Until this many chunks are ours, pick at random rather than rarest first. */
  randomFirstPicks: number;
  /** In endgame, open requests allowed for the same chunk. */
  maxEndgameCopies: number;
  /** How long to leave a chunk alone at a peer that said "get it elsewhere" (see `deferred`). */
  elsewhereBackoffMs: number;
  policy: PiecePolicy;
  random: () => number;
  /** Milliseconds; injected so tests control time, and the simulator runs on its own. */
  now: Clock;
  /** Our peer id as a number (shareRank): with zones, which chunks are ours to bring in (see inOurShare). */
  ourRank: number;
}

export const defaultSchedulerConfig = (chunkCount: number, overrides: Partial<SchedulerConfig> = {}): SchedulerConfig => {
  // Only tests leave the sizes out; a node passes its package's (nodeSchedulerConfig).
  const chunkSize = overrides.chunkSize ?? 4 * 1024 * 1024;
  return {
    chunkCount,
    chunkSize,
    chunkLength: () => chunkSize,
    requestsPerPeer: 8,
    maxBytesInMemory: 16 * chunkSize,
    maxLandingBytes: 16 * chunkSize,
    maxBadChunksPerPeer: 3,
    randomFirstPicks: 4,
    maxEndgameCopies: 2,
    // Meanwhile the other holders are asked. Short, because a peer that cannot reach any
    // holder is served only after asking the seed 8 times (MAX_TIMES_ELSEWHERE, superseed.ts).
    elsewhereBackoffMs: 1_000,
    policy: rarestFirst,
    random: Math.random,
    now: systemClock,
    ourRank: 0,
    ...overrides,
  };
};

/**
 * A node's scheduler as `get` and `serve` run it: bytes held in memory bounded by
 * maxBytesInMemory(chunkSize). The simulator builds its nodes with
 * the same call, so both run the same numbers.
 */
export const nodeSchedulerConfig = (
  chunkCount: number,
  chunkSize: number,
  chunkLength: (chunk: number) => number,
  requestsPerPeer: number,
  overrides: Partial<SchedulerConfig> = {},
): SchedulerConfig =>
  defaultSchedulerConfig(chunkCount, {
    chunkSize,
    chunkLength,
    requestsPerPeer,
    maxBytesInMemory: maxBytesInMemory(chunkSize),
    maxLandingBytes: maxLandingBytes(chunkSize),
    maxBadChunksPerPeer: NET.maxBadChunksPerPeer,
    ...overrides,
  });

/**
 * Bytes of received chunks a node holds at once (being assembled, verified or written):
 * NET.bufferedChunks chunks within NET's floor and cap, and two chunks at least. It bounds
 * how many peers send to the node at once; it grows with the chunk size, never the package.
 */
export const maxBytesInMemory = (chunkSize: number): number =>
  Math.max(2 * chunkSize, Math.min(Math.max(NET.bufferedChunks * chunkSize, NET.minBufferedChunkBytes), NET.maxBufferedChunkBytes));

/**
 * Two landed chunks per hashing job in flight keep the pool busy. More only wait in memory
 * while the hashing or the disk is behind the network: from one loopback seed, a 4 GiB get
 * (2 MiB chunks) held its whole 64 MiB budget in chunks waiting for the pool.
 */
export const maxLandingBytes = (chunkSize: number): number => Math.max(4, 2 * LIMITS.hashJobsInFlight) * chunkSize;

/**
 * Open requests to one peer, whatever their bytes: a package of small files has chunks of a
 * few bytes, and a peer refuses more than NET.maxQueuedRequestsPerPeer queued at once.
 */
const MAX_REQUESTS_PER_PEER = NET.maxQueuedRequestsPerPeer / 2;

/**
 * ELSEWHERE answers from one peer within elsewhereBackoffMs before it is left alone for the
 * rest of it (see refusing): with the requests open there, well below the queued-or-declined
 * count a serving peer takes for a flood (NET.maxQueuedRequestsPerPeer a second).
 */
const MAX_ELSEWHERE_PER_BACKOFF = NET.maxQueuedRequestsPerPeer / 4;

/** A peer id as a number, for the share rule (Scheduler.inOurShare): its first four bytes. */
export const shareRank = (peerId: Uint8Array): number => ((peerId[0]! | (peerId[1]! << 8) | (peerId[2]! << 16) | (peerId[3]! << 24)) >>> 0);

/** How strongly `rank` claims `chunk` (lowest wins): a hash, so each node of a zone claims its own random share. */
function shareScore(rank: number, chunk: number): number {
  let h = (rank ^ Math.imul(chunk + 1, 0x9e3779b1)) >>> 0;
  h = Math.imul(h ^ (h >>> 16), 0x85ebca6b);
  h = Math.imul(h ^ (h >>> 13), 0xc2b2ae35);
  return (h ^ (h >>> 16)) >>> 0;
}

/** A peer's bits are listed rather than looked up when it has at most 1/FEW_BITS as many chunks as are open to pick. */
const FEW_BITS = 8;

/**
 * Full chunks' worth of bytes asked at once of a peer in another zone: the one it sends.
 * A request queued behind it waits there while the chunk may reach the zone another way,
 * and then crosses the uplink again: 100 nodes in 5 racks took 2.26 copies into each rack at
 * a depth of 2, 2.05 at 1 (before the share rule, inOurShare).
 */
const FAR_DEPTH = 1;

/** One request to one peer: when it was sent (for the request latency), and how much of the chunk has arrived. */
interface Request {
  sentAt: number;
  received: number;
}

interface PeerSlot {
  bits: Bitset;
  /** In another zone than ours (peers-session.ts): asked only for chunks no peer of our zone has. */
  far: boolean;
  /** Its peer id as a number (shareRank): a near peer's share is its own to bring in. */
  rank: number;
  /** How many of the chunks it has are still missing here: at 0 there is nothing to ask it for. */
  interesting: number;
  /**
   * How many of the chunks it has are open to pick (missing, asked of nobody): at 0 a pick
   * outside endgame finds nothing, and a pick stops at the last. Nine picks in ten found
   * nothing, each after looking through every open chunk, when only `interesting` was kept.
   */
  openHeld: number;
  /** Open requests to this peer. */
  requests: Map<number, Request>;
  /** The chunk it is sending us, part of which has arrived, or -1: a peer sends its chunks one at a time. */
  arriving: number;
  /** Bytes of those requests. */
  requestedBytes: number;
  /** Chunks cancelled at this peer: late PIECEs of them are expected and dropped. */
  cancelled: Set<number>;
  /** Full chunks' worth of bytes to keep requested from this peer: follows its rate (see setDepth). */
  depth: number;
  meter: RateMeter;
  stall: StallWatch;
  badChunks: number;
  /** Chunks this peer sent bad copies of: asked again only when nobody else has them. */
  failedChunks: Set<number>;
  /** Chunks this peer asked us to fetch elsewhere, and until when. */
  deferredUntil: Map<number, number>;
  /** Times it sent us elsewhere in the back-off window that began at `elsewhereWindowStart`. */
  elsewhereInWindow: number;
  elsewhereWindowStart: number;
}

/**
 * The download's state: which chunks we have, which are requested from whom, since when
 * and how much of each has arrived, which were cancelled (their late PIECEs expected),
 * which are landing (received, being verified and written) and from whom, and what each
 * peer has, sends and earns: its rate, pipeline depth and stall clock. The adapter holds
 * only the bytes (a buffer per chunk arriving or landing).
 * Pure bookkeeping driven by events; the caller does the I/O and sends what it returns.
 * Invariant outside endgame: no chunk is requested from two peers at once.
 */
export class Scheduler {
  /** Who has what, and the chunks open to pick (missing, asked of nobody) rarest first: what the picker looks through. */
  private readonly availability: Availability;
  private readonly requesters = new Map<number, Set<string>>();
  /** Chunks received whole and being verified and written, and the name of the peer that sent each. */
  private readonly landing = new Map<number, string>();
  private readonly peers = new Map<string, PeerSlot>();
  private openRequests = 0;
  /**
   * What the memory budget counts: the landing chunks, and for each peer asked the chunk it
   * may be sending, which is at most a chunk and at most what was asked of it. A peer sends
   * its chunks one at a time (docs/protocol.md) and a chunk's buffer is taken at its first
   * PIECE, so the requests queued behind it cost no memory. Counted as arriving, they filled
   * the budget while most of them waited at busy uplinks and the node's own link sat idle
   * (docs/performance.md, "Scale").
   */
  private bytesHeld = 0;
  /** The landing chunks' share of bytesHeld. */
  private landingBytes = 0;
  /** peersByRate's answer until a rate or the set of peers changes. */
  private byRate: string[] | null = null;
  /** Holders of each chunk that are far peers; allocated with the first far peer, as most nodes have no zone. */
  private farHolders: Uint16Array | null = null;
  /** Open requests to far peers. */
  private farRequests = 0;
  /** Per chunk, the lowest shareScore of the near peers; null until the first far peer, or after a near peer left. */
  private nearShareScores: Uint32Array | null = null;

  constructor(
    readonly config: SchedulerConfig,
    readonly have: Bitset,
  ) {
    this.availability = new Availability(config.chunkCount, (c) => !have.has(c), config.random);
  }

  get complete(): boolean {
    return this.have.complete;
  }

  /** Whether any connected peer has a chunk still missing here. */
  get anyPeerInteresting(): boolean {
    for (const peer of this.peers.values()) if (peer.interesting > 0) return true;
    return false;
  }

  get openRequestCount(): number {
    return this.openRequests;
  }

  get inEndgame(): boolean {
    return !this.complete && this.availability.openCount === 0;
  }

  /** A peer connected; `far` when it is in another zone than ours; `rank` its shareRank. */
  addPeer(key: string, far = false, rank = 0): void {
    this.byRate = null;
    if (far) this.farHolders ??= new Uint16Array(this.config.chunkCount);
    if (!far && this.nearShareScores) this.lowerShareScores(this.nearShareScores, rank);
    this.peers.set(key, {
      bits: new Bitset(this.config.chunkCount),
      far,
      rank,
      interesting: 0,
      openHeld: 0,
      requests: new Map(),
      arriving: -1,
      requestedBytes: 0,
      cancelled: new Set(),
      depth: this.config.requestsPerPeer,
      meter: new RateMeter(),
      stall: new StallWatch(this.config.now()),
      badChunks: 0,
      failedChunks: new Set(),
      deferredUntil: new Map(),
      elsewhereInWindow: 0,
      elsewhereWindowStart: -Infinity,
    });
  }

  setBitfield(key: string, bits: Bitset): void {
    const peer = this.peers.get(key);
    if (!peer) return;
    for (const c of peer.bits.members()) this.countHolder(peer, c, -1);
    peer.bits = bits;
    peer.interesting = 0;
    for (const c of bits.members()) {
      this.countHolder(peer, c, 1);
      if (!this.have.has(c)) peer.interesting++;
    }
  }

  peerHas(key: string, chunk: number): void {
    const peer = this.peers.get(key);
    if (!peer || peer.bits.has(chunk)) return;
    peer.bits.add(chunk);
    this.countHolder(peer, chunk, 1);
    if (!this.have.has(chunk)) peer.interesting++;
  }

  /** One more (+1) or one fewer (-1) peer holds the chunk. */
  private countHolder(peer: PeerSlot, chunk: number, change: 1 | -1): void {
    if (change > 0) this.availability.increment(chunk);
    else this.availability.decrement(chunk);
    if (peer.far) this.farHolders![chunk]! += change;
    if (this.availability.isOpen(chunk)) peer.openHeld += change;
  }

  /** The chunk leaves the chunks open to pick (requested, or ours): its holders hold one fewer. */
  private closeChunk(chunk: number): void {
    if (!this.availability.isOpen(chunk)) return;
    this.availability.remove(chunk);
    this.countOpenHeld(chunk, -1);
  }

  /** The chunk is open to pick again: its holders hold one more. */
  private openChunk(chunk: number): void {
    if (this.availability.isOpen(chunk)) return;
    this.availability.add(chunk);
    this.countOpenHeld(chunk, 1);
  }

  private countOpenHeld(chunk: number, change: 1 | -1): void {
    if (this.availability.of(chunk) === 0) return;
    for (const peer of this.peers.values()) if (peer.bits.has(chunk)) peer.openHeld += change;
  }

  /** The peer is gone: its requests become unrequested again. */
  removePeer(key: string): void {
    const peer = this.peers.get(key);
    if (!peer) return;
    for (const c of peer.requests.keys()) this.dropRequest(key, c);
    for (const c of peer.bits.members()) this.countHolder(peer, c, -1);
    this.peers.delete(key);
    if (!peer.far) this.nearShareScores = null;
    this.byRate = null;
  }

  /** Is a PIECE of this chunk from this peer still wanted? */
  isRequested(key: string, chunk: number): boolean {
    return this.peers.get(key)?.requests.has(chunk) ?? false;
  }

  /** Was the chunk cancelled at this peer (and not asked again since)? Its late PIECEs are then expected. */
  isCancelled(key: string, chunk: number): boolean {
    return this.peers.get(key)?.cancelled.has(chunk) ?? false;
  }

  /**
   * Picks what to request from `key` now (at most `maxNew`) and records the requests. The
   * pipeline and the memory budget count bytes, so short chunks (small files, file tails)
   * keep as much in flight as full ones: requests are added while there is room, the last
   * one may overshoot by less than a chunk.
   */
  nextRequests(key: string, maxNew = Infinity): number[] {
    const peer = this.peers.get(key);
    // A peer found sending bad chunks too often is being closed: it is asked for nothing more.
    if (!peer || peer.interesting === 0 || (peer.openHeld === 0 && !this.inEndgame) || this.refusing(peer) || peer.badChunks >= this.config.maxBadChunksPerPeer) return [];
    const { chunkSize, chunkLength } = this.config;
    // Once the peer is charged a whole chunk, more queued behind it cost the budget nothing,
    // as long as the chunks landed (being hashed and written) keep within it and within
    // maxLandingBytes: when the disk or the hashing falls behind the network, they are what
    // fills memory.
    const memoryRoom = () => {
      if (this.landingBytes >= this.config.maxLandingBytes) return 0;
      const left = this.config.maxBytesInMemory - this.bytesHeld;
      return left >= 0 && this.memoryCharge(peer) >= chunkSize ? Infinity : left;
    };
    const depth = peer.far ? Math.min(peer.depth, FAR_DEPTH) : peer.depth;
    const room = () => Math.min(depth * chunkSize - peer.requestedBytes, memoryRoom());
    const openBefore = peer.requests.size;
    const picks: number[] = [];
    for (;;) {
      // As many full chunks as fit; short ones leave room for another round.
      const slots = Math.min(Math.ceil(room() / chunkSize), maxNew - picks.length, MAX_REQUESTS_PER_PEER - peer.requests.size);
      if (slots <= 0) break;
      const batch = this.pick(key, peer, slots);
      let added = 0;
      for (const c of batch) {
        if (room() <= 0) break;
        this.addRequest(key, peer, c, chunkLength(c));
        picks.push(c);
        added++;
      }
      if (added < slots) break;
    }
    if (picks.length > 0) peer.stall.opened(openBefore, this.config.now());
    return picks;
  }

  /** Up to `limit` chunks to ask `key` for: the policy's picks, then endgame copies. */
  private pick(key: string, peer: PeerSlot, limit: number): number[] {
    const policy = this.have.count < this.config.randomFirstPicks ? randomFirst : this.config.policy;
    const picks = policy(limit, {
      ...this.candidatesFor(peer),
      holds: (c) => peer.bits.has(c),
      random: this.config.random,
      eligible: (c) => this.wanted(c) && !this.requesters.has(c) && this.mayAsk(peer, c),
    });
    // Endgame: every missing chunk is already requested. Ask this peer too, so one slow
    // peer cannot hold up the end; the first copy to arrive wins and the rest are cancelled.
    if (picks.length < limit && this.inEndgame) {
      for (const [c, who] of this.requesters) {
        if (picks.length >= limit) break;
        if (!who.has(key) && who.size < this.config.maxEndgameCopies && this.wanted(c) && this.mayAsk(peer, c)) picks.push(c);
      }
    }
    return picks;
  }

  /**
   * All of the chunk arrived from `key`; it is verified and written next. Returns the
   * milliseconds since it was requested from `key`, or undefined if it was not. `from`
   * names the sender for landedFrom.
   */
  received(key: string, chunk: number, from = key): number | undefined {
    const request = this.peers.get(key)?.requests.get(chunk);
    // Landing before the request goes, so the chunk does not reopen in between.
    if (this.wanted(chunk)) this.land(chunk, from);
    this.dropRequest(key, chunk);
    return request === undefined ? undefined : this.config.now() - request.sentAt;
  }

  /** Bytes of the chunk requested from `key` that have arrived (0 when it is not requested there). */
  receivedOf(key: string, chunk: number): number {
    return this.peers.get(key)?.requests.get(chunk)?.received ?? 0;
  }

  /** The chunk `key` is part-way through sending us, or -1. */
  arrivingFrom(key: string): number {
    return this.peers.get(key)?.arriving ?? -1;
  }

  /** A block of a requested chunk arrived from `key`. */
  pieceArrived(key: string, chunk: number, bytes: number): void {
    const peer = this.peers.get(key);
    const request = peer?.requests.get(chunk);
    if (!peer || !request) return;
    request.received += bytes;
    peer.arriving = chunk;
    this.progressed(key, bytes);
  }

  /** Who sent a chunk that is landing. */
  landedFrom(chunk: number): string | undefined {
    return this.landing.get(chunk);
  }

  /** Chunks being verified or written. */
  get landingCount(): number {
    return this.landing.size;
  }

  /** Could some peer be asked for the chunk now: wanted, and not yet requested (or endgame copies allowed)? */
  askable(chunk: number): boolean {
    return this.wanted(chunk) && (!this.requesters.has(chunk) || this.inEndgame);
  }

  /** Is the chunk neither ours nor already landing? (A second endgame copy is not needed.) */
  wanted(chunk: number): boolean {
    return !this.have.has(chunk) && !this.landing.has(chunk);
  }

  /** The chunk verified and reached the disk. Returns the peers whose duplicate requests to CANCEL (marked cancelled). */
  committed(chunk: number): string[] {
    this.unland(chunk);
    this.have.add(chunk);
    this.closeChunk(chunk);
    for (const peer of this.peers.values()) if (peer.bits.has(chunk)) peer.interesting--;
    const others = [...(this.requesters.get(chunk) ?? [])];
    for (const key of others) this.cancel(key, chunk);
    return others;
  }

  /** The chunk did not reach the disk for a reason that is not the peer's fault (a write error). */
  abandoned(chunk: number): void {
    this.unland(chunk);
    this.reopenIfFree(chunk);
  }

  /** The copy from `key` failed verification. Returns true when the peer should be dropped. */
  failed(key: string, chunk: number): boolean {
    this.unland(chunk);
    this.reopenIfFree(chunk);
    const peer = this.peers.get(key);
    if (!peer) return false;
    peer.badChunks++;
    peer.failedChunks.add(chunk);
    return peer.badChunks >= this.config.maxBadChunksPerPeer;
  }

  /** The peer refused the request; without the chunk, it is not asked for it again. */
  rejected(key: string, chunk: number, peerStillHasIt: boolean): void {
    this.dropRequest(key, chunk);
    const peer = this.peers.get(key);
    if (peer && !peerStillHasIt && peer.bits.has(chunk)) {
      peer.bits.delete(chunk);
      this.countHolder(peer, chunk, -1);
      if (!this.have.has(chunk)) peer.interesting--;
    }
  }

  /** `bytes` of a PIECE arrived from the peer: they count toward its rate, and it has not stalled. */
  progressed(key: string, bytes: number): void {
    const peer = this.peers.get(key);
    if (!peer) return;
    peer.meter.add(bytes);
    peer.stall.progressed(this.config.now());
  }

  /**
   * Called every TICK_MS for each peer: its depth follows its rate (pipeline.ts). A peer that
   * stalled (stall.ts) loses its open requests, returned to CANCEL, and keeps DEPTH_AFTER_STALL.
   */
  tick(key: string): number[] {
    const peer = this.peers.get(key);
    if (!peer) return [];
    this.byRate = null;
    this.setDepth(key, pipelineDepth(peer.meter.tick(), this.config.chunkSize));
    if (!peer.stall.stalled(peer.requests.size, this.config.now())) return [];
    this.setDepth(key, DEPTH_AFTER_STALL);
    return this.releaseRequests(key);
  }

  /** Sets how many requests to keep open to a peer, within 1..requestsPerPeer. */
  setDepth(key: string, depth: number): void {
    const peer = this.peers.get(key);
    if (peer) peer.depth = Math.max(1, Math.min(this.config.requestsPerPeer, Math.round(depth)));
  }

  /** The peers, fastest first by their measured rate: who gets a request slot that frees up. */
  peersByRate(): string[] {
    // Rates change only on ticks: sorted once per tick, not on every event.
    this.byRate ??= [...this.peers].sort((a, b) => b[1].meter.rate - a[1].meter.rate).map(([key]) => key);
    return this.byRate;
  }

  /**
   * Whether a connected peer still downloading has the chunk (`nearOnly`: a peer of our
   * zone). Such a peer shares freely; a complete one may be another `serve`, super-seeding
   * and sending askers elsewhere too.
   */
  downloaderHas(chunk: number, nearOnly = false): boolean {
    if (this.availability.of(chunk) === 0) return false;
    for (const peer of this.peers.values()) if (peer.bits.has(chunk) && !peer.bits.complete && !(nearOnly && peer.far)) return true;
    return false;
  }

  /** The peer has the chunk but asked us to get it elsewhere: not from it for `elsewhereBackoffMs`. */
  deferred(key: string, chunk: number): void {
    this.dropRequest(key, chunk);
    const peer = this.peers.get(key);
    if (!peer) return;
    const now = this.config.now();
    peer.deferredUntil.set(chunk, now + this.config.elsewhereBackoffMs);
    if (now - peer.elsewhereWindowStart >= this.config.elsewhereBackoffMs) {
      peer.elsewhereWindowStart = now;
      peer.elsewhereInWindow = 0;
    }
    peer.elsewhereInWindow++;
  }

  /**
   * The peer sent us elsewhere MAX_ELSEWHERE_PER_BACKOFF times within a back-off: it is
   * asked for nothing new until the back-off ends. Each answer takes a round trip, so a
   * super-seed holding many chunks others have was otherwise asked for one after another
   * by every downloader, hundreds a second on a LAN, and closed them as flooding it.
   */
  private refusing(peer: PeerSlot): boolean {
    return peer.elsewhereInWindow >= MAX_ELSEWHERE_PER_BACKOFF && this.config.now() - peer.elsewhereWindowStart < this.config.elsewhereBackoffMs;
  }

  /** Takes back every open request to a peer (it stalled); returns them, to CANCEL (marked cancelled). */
  private releaseRequests(key: string): number[] {
    const peer = this.peers.get(key);
    if (!peer) return [];
    const released = [...peer.requests.keys()];
    for (const c of released) this.cancel(key, c);
    return released;
  }

  /**
   * What to look through for this peer, rarest first. A peer with few chunks at all has its
   * bits listed; otherwise every open chunk, and the look stops at the last the peer holds
   * (`openHeld`).
   */
  private candidatesFor(peer: PeerSlot): { candidates: ArrayLike<number>; held: number } {
    const open = this.availability.rarestFirst();
    if (peer.bits.count * FEW_BITS > open.length) return { candidates: open, held: peer.openHeld };
    const found: number[] = [];
    for (const c of peer.bits.members()) {
      if (this.have.has(c)) continue;
      // Shuffled as it grows (inside out), so the stable sort below leaves ties in random order.
      const j = Math.floor(this.config.random() * (found.length + 1));
      found.push(found[j]!);
      found[j] = c;
    }
    found.sort((a, b) => this.availability.of(a) - this.availability.of(b));
    return { candidates: found, held: found.length };
  }

  private mayAsk(peer: PeerSlot, chunk: number): boolean {
    if (!peer.bits.has(chunk) || peer.requests.has(chunk)) return false;
    if (this.isDeferring(peer, chunk)) return false;
    // Across zones only what our zone cannot supply, and of that our share, unless nothing
    // else is coming: a chunk crosses into the zone about once, then spreads inside it.
    if (peer.far && (this.nearSourceOf(chunk) || (this.openRequests > this.farRequests && !this.inOurShare(chunk)))) return false;
    // A peer that sent a bad copy is asked again only when it is the only source.
    return !peer.failedChunks.has(chunk) || this.availability.of(chunk) === 1;
  }

  /** Did the peer tell us to get the chunk elsewhere, a back-off ago at most? */
  private isDeferring(peer: PeerSlot, chunk: number): boolean {
    if (peer.deferredUntil.size === 0) return false;
    const until = peer.deferredUntil.get(chunk);
    if (until === undefined) return false;
    if (this.config.now() < until) return true;
    peer.deferredUntil.delete(chunk);
    return false;
  }

  /**
   * Whether the chunk is ours to bring into the zone: our shareScore for it is below every
   * near peer's. Each node of a zone that sees the whole zone claims a different share, so
   * each chunk crosses the uplink once, where without it every node that lacked a chunk
   * fetched it across at once (docs/performance.md, "Zones"); a node that sees part of the
   * zone claims a little more.
   */
  private inOurShare(chunk: number): boolean {
    if (!this.nearShareScores) {
      this.nearShareScores = new Uint32Array(this.config.chunkCount).fill(0xffffffff);
      for (const peer of this.peers.values()) if (!peer.far) this.lowerShareScores(this.nearShareScores, peer.rank);
    }
    return shareScore(this.config.ourRank, chunk) < this.nearShareScores[chunk]!;
  }

  private lowerShareScores(scores: Uint32Array, rank: number): void {
    for (let c = 0; c < scores.length; c++) scores[c] = Math.min(scores[c]!, shareScore(rank, c));
  }

  /**
   * Whether a near peer has the chunk and may be asked for it. One that sent us elsewhere
   * for it (a super-seeding seed of our zone) does not count: else a zone whose seed holds
   * everything would ask no other zone, and wait out every back-off.
   */
  private nearSourceOf(chunk: number): boolean {
    if (this.availability.of(chunk) === this.farHolders![chunk]) return false;
    for (const peer of this.peers.values()) if (!peer.far && peer.bits.has(chunk) && !this.isDeferring(peer, chunk) && !peer.failedChunks.has(chunk)) return true;
    return false;
  }

  private land(chunk: number, from: string): void {
    this.landing.set(chunk, from);
    this.bytesHeld += this.config.chunkLength(chunk);
    this.landingBytes += this.config.chunkLength(chunk);
  }

  private unland(chunk: number): void {
    if (!this.landing.delete(chunk)) return;
    this.bytesHeld -= this.config.chunkLength(chunk);
    this.landingBytes -= this.config.chunkLength(chunk);
  }

  private addRequest(key: string, peer: PeerSlot, chunk: number, bytes: number): void {
    // Asked again: from now on its PIECEs are wanted, not late copies to drop.
    peer.cancelled.delete(chunk);
    peer.requests.set(chunk, { sentAt: this.config.now(), received: 0 });
    this.setRequestedBytes(peer, peer.requestedBytes + bytes);
    let who = this.requesters.get(chunk);
    if (!who) {
      this.requesters.set(chunk, (who = new Set()));
      this.closeChunk(chunk);
    }
    who.add(key);
    this.openRequests++;
    if (peer.far) this.farRequests++;
  }

  /** The budget's share of a peer's requests (see bytesHeld). */
  private memoryCharge(peer: PeerSlot): number {
    return Math.min(peer.requestedBytes, this.config.chunkSize);
  }

  private setRequestedBytes(peer: PeerSlot, bytes: number): void {
    this.bytesHeld -= this.memoryCharge(peer);
    peer.requestedBytes = bytes;
    this.bytesHeld += this.memoryCharge(peer);
  }

  /** Takes back a request the caller will CANCEL: PIECEs already on the way are then expected. */
  private cancel(key: string, chunk: number): void {
    this.dropRequest(key, chunk);
    this.peers.get(key)?.cancelled.add(chunk);
  }

  private dropRequest(key: string, chunk: number): void {
    const peer = this.peers.get(key);
    if (!peer?.requests.delete(chunk)) return;
    if (peer.arriving === chunk) peer.arriving = -1;
    this.openRequests--;
    if (peer.far) this.farRequests--;
    this.setRequestedBytes(peer, peer.requestedBytes - this.config.chunkLength(chunk));
    const who = this.requesters.get(chunk);
    who?.delete(key);
    if (who?.size === 0) {
      this.requesters.delete(chunk);
      this.reopenIfFree(chunk);
    }
  }

  /** A chunk still wanted and asked of nobody is open to pick again. */
  private reopenIfFree(chunk: number): void {
    if (this.wanted(chunk) && !this.requesters.has(chunk)) this.openChunk(chunk);
  }
}
