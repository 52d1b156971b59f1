import { LIMITS, NET } from "../config.ts";
import { WIRE_ERRORS } from "../protocol/codes.ts";
import { type Message, PEER_ID_LENGTH } from "../protocol/messages.ts";
import { AddressBook, type PeerAddress, peerLabel } from "../swarm/address-book.ts";
import { lingerOver } from "../swarm/linger.ts";
import { type PeersAction, PeersSession } from "../swarm/peers-session.ts";
import { TICK_MS } from "../swarm/pipeline.ts";
import { nodeSchedulerConfig, shareRank } from "../swarm/scheduler.ts";
import { DownloadSession, type SessionAction } from "../swarm/session.ts";
import { UploadSession } from "../swarm/upload-session.ts";
import { Bitset } from "../util/bitset.ts";
import type { EventQueue } from "./event-queue.ts";
import type { Flow, FluidNetwork, Port } from "./network.ts";

/** What a simulated node needs of the world around it. */
export interface World {
  readonly clock: EventQueue;
  readonly network: FluidNetwork;
  /** One-way delay of every message, milliseconds. */
  readonly latencyMs: number;
  /** Opens a connection from `node` to `address`: `handshaken` on both sides, or `dialFailed`. */
  dial(node: SimNode, address: PeerAddress): void;
  /** Flows changed rate: their finish events move. */
  reschedule(): void;
  completed(node: SimNode): void;
  departed(node: SimNode): void;
}

export interface SimNodeOptions {
  index: number;
  chunkCount: number;
  chunkSize: number;
  packageBytes: number;
  /** Has every chunk from the start, serves until the end, never leaves. */
  seed: boolean;
  /** NIC capacity each way, bytes per second. */
  up: Port;
  down: Port;
  /** The rack the node sits in, if the network has racks: a transfer to another rack crosses both racks' uplinks. */
  rack: Rack | null;
  /** Whether the node is told its rack as its zone (get --zone). */
  zones: boolean;
  random: () => number;
}

/** A rack's uplink to the spine, one port each way. */
export interface Rack {
  index: number;
  up: Port;
  down: Port;
}

/**
 * One side of a connection. The sending half of a node's uploads to the remote lives here:
 * the chunks it asked for, in order, the head one being sent as a flow.
 */
export class End {
  /** The session key, once the peers session admitted the connection. */
  key: string | null = null;
  open = true;
  remote!: End;
  readonly queue: number[] = [];
  sending: Flow | null = null;
  sendingChunk = -1;
  /** Bytes of the chunk being sent that the remote has already been handed as PIECEs. */
  delivered = 0;

  constructor(
    readonly node: SimNode,
    /** The address-book label we dialled, when this side dialled. */
    readonly dialled: string | undefined,
    /** How the connection is named before it has a listening address. */
    readonly label: string,
  ) {}
}

const LISTEN_PORT = NET.defaultListenPort;
/**
 * Each transfer's weight on shared links is drawn from this range (network.ts): TCP flows
 * on one link get unequal shares. Half to one and a half times an equal share is what
 * calibrates the simulator against the lab (docs/performance.md).
 */
const TCP_SHARE_MIN = 0.5;
const TCP_SHARE_MAX = 1.5;
/**
 * SHA-256 of a chunk, per lane (one core): 4 MiB in 2.7 ms with the native hasher on this
 * project's 2-core machine (1.5 GB/s). A chunk can be passed on only once it is verified.
 */
const HASH_BYTES_PER_MS = 1_500_000;
/** Writing a verified chunk and its progress record: the page cache takes about 4 GB/s. */
const WRITE_BYTES_PER_MS = 4_000_000;
/** The sender hands the receiver whole PIECE frames: progress is seen in blocks. */
const BLOCK = NET.blockSize;

/**
 * One simulated node: the same DownloadSession, UploadSession and PeersSession a real node
 * runs, on the simulator's clock, with this class as their adapter in place of SwarmNode.
 * Messages become events one latency later; a chunk being sent is a flow in the fluid
 * network; hashing takes the time the native hasher takes, writing the page cache's.
 */
export class SimNode {
  readonly address: PeerAddress;
  readonly label: string;
  readonly peerId = new Uint8Array(PEER_ID_LENGTH);
  readonly download: DownloadSession;
  readonly upload: UploadSession;
  readonly peers: PeersSession;
  online = false;
  completedAt = Number.NaN;
  failure: unknown = null;
  /** How often each log event came, for the report. */
  readonly logged = new Map<string, number>();
  private readonly ends = new Map<string, End>();
  /** Connections not (or no longer) admitted, so that leaving closes them too. */
  private readonly pending = new Set<End>();
  /** When each hashing lane comes free. */
  private readonly hashLanes = new Array<number>(LIMITS.hashJobsInFlight).fill(0);
  private applying = 0;
  private nextEphemeralPort = 40_000;
  /** HAVEs of this action list, by chunk, sent together when it ends (batchHave). */
  private readonly haves = new Map<number, End[]>();
  private readonly chunkLength: (chunk: number) => number;

  constructor(
    private readonly world: World,
    readonly options: SimNodeOptions,
  ) {
    const { index, chunkCount, chunkSize, packageBytes, random } = options;
    this.address = { host: hostOf(index), port: LISTEN_PORT };
    this.label = peerLabel(this.address);
    for (let i = 0; i < PEER_ID_LENGTH; i++) this.peerId[i] = Math.floor(random() * 256);
    const have = new Bitset(chunkCount);
    if (options.seed) for (let c = 0; c < chunkCount; c++) have.add(c);
    const book = new AddressBook(NET.maxKnownPeers);
    const lastLength = packageBytes - (chunkCount - 1) * chunkSize;
    const now = () => world.clock.now;
    this.chunkLength = (c) => (c === chunkCount - 1 ? lastLength : chunkSize);
    this.download = new DownloadSession(
      {
        scheduler: nodeSchedulerConfig(chunkCount, chunkSize, this.chunkLength, NET.defaultRequestsPerPeer, { now, random, ourRank: shareRank(this.peerId) }),
        retryForMs: NET.defaultRetryForMs,
        downloadLimit: null,
        logRequests: false,
        addresses: book,
      },
      have,
    );
    this.upload = new UploadSession(this.download, options.seed);
    this.peers = new PeersSession(this.download, book, { maxPeers: NET.maxConnectionsPerPackage, ourId: this.peerId, zone: this.zone });
  }

  get complete(): boolean {
    return this.download.complete;
  }

  /** The zone the node was given, as its ZONE tells it: its rack, or "" for none. */
  get zone(): string {
    return this.options.zones && this.options.rack ? `rack-${this.options.rack.index}` : "";
  }

  /** The node starts, told of `bootstrap` (get --peer); a seed is told of nobody. */
  join(bootstrap: PeerAddress[]): void {
    this.online = true;
    this.applyPeers(this.peers.start(bootstrap));
    this.apply(this.download.start());
    this.world.clock.after(TICK_MS, () => this.tick());
  }

  /** The node goes away: every connection ends with BYE(SHUTTING_DOWN). */
  leave(): void {
    if (!this.online) return;
    this.online = false;
    this.peers.stop();
    this.download.stop();
    for (const end of [...this.ends.values(), ...this.pending]) this.close(end, WIRE_ERRORS.SHUTTING_DOWN, "shutting down");
    this.world.departed(this);
  }

  dialFailed(label: string, reason: string): void {
    if (this.online) this.applyPeers(this.peers.dialFailed(label, reason));
  }

  /** A connection finished its handshake; `other` is the node at the far end. */
  handshaken(end: End, other: SimNode): void {
    this.pending.add(end);
    const arrival = { peerId: other.peerId, dialled: end.dialled, host: other.address.host, listenPort: other.address.port, label: end.label, zone: other.zone };
    this.applyPeers(this.peers.arrived(arrival), end);
  }

  /** Names an accepted connection by the dialler's address and a fresh ephemeral port. */
  ephemeralLabel(): string {
    return `${this.address.host}:${this.nextEphemeralPort++}`;
  }

  /** A message from the remote end of `end` arrives. */
  receive(end: End, message: Message): void {
    const key = end.key;
    if (!end.open || key === null) return;
    switch (message.type) {
      case "BITFIELD":
        return this.apply(this.download.bitfield(key, message.bits));
      case "HAVE":
        return this.apply(this.download.have(key, message.index));
      case "REJECT":
        return this.apply(this.download.rejected(key, message.index, message.code));
      case "REQUEST":
        return this.requested(end, key, message.index);
      case "CANCEL":
        return this.cancelled(end, message.index);
      case "PEERS":
        return this.applyPeers(this.peers.peersReceived(key, message.peers));
    }
  }

  /** Bytes of a chunk the remote sends arrive, as PIECE frames. */
  receivePiece(end: End, chunk: number, offset: number, bytes: number): void {
    if (end.open && end.key !== null && bytes > 0) this.apply(this.download.piece(end.key, chunk, offset, bytes));
  }

  /** The flow carrying `end`'s head chunk is done: the rest reaches the remote one latency later. */
  sent(end: End, flow: Flow): void {
    const chunk = end.sendingChunk;
    const offset = end.delivered;
    this.endSending(end, flow.bytes);
    this.upload.served();
    const { remote } = end;
    this.world.clock.after(this.world.latencyMs, () => remote.node.receivePiece(remote, chunk, offset, flow.bytes - offset));
    this.pump(end);
  }

  /** The connection is gone, at this end: whatever was being sent stops, the sessions hear of it. */
  closed(end: End, code: number, reason: string): void {
    if (!end.open) return;
    end.open = false;
    this.pending.delete(end);
    if (end.sending) this.endSending(end, end.sending.sentBy(this.world.clock.now));
    for (const chunk of end.queue.splice(0)) this.upload.ended(end.key!, chunk);
    const key = end.key;
    const departure = { peer: key, dialled: end.dialled, label: end.label, code, reason };
    if (key === null) return this.applyPeers(this.peers.closed(departure));
    this.ends.delete(key);
    this.upload.peerClosed(key);
    const actions = this.download.peerClosed(key);
    this.applyPeers(this.peers.closed(departure));
    this.apply(actions);
  }

  /**
   * Every TICK_MS: blocks received since the last tick reach the session (its rate meter and
   * stall rule see data as it comes, not a chunk at a time), then the sessions tick.
   */
  private tick(): void {
    if (!this.online) return;
    const now = this.world.clock.now;
    for (const end of this.ends.values()) {
      const source = end.remote;
      if (!source.sending) continue;
      const whole = Math.floor(source.sending.sentBy(now) / BLOCK) * BLOCK;
      if (whole <= source.delivered || whole >= source.sending.bytes) continue;
      const offset = source.delivered;
      source.delivered = whole;
      this.receivePiece(end, source.sendingChunk, offset, whole - offset);
    }
    this.apply(this.download.tick());
    this.applyPeers(this.peers.tick());
    if (this.lingeredEnough(now)) return this.leave();
    this.world.clock.after(TICK_MS, () => this.tick());
  }

  /** `get` after VERIFY OK, at the default --linger (linger.ts). */
  private lingeredEnough(now: number): boolean {
    if (this.options.seed || !this.complete) return false;
    return lingerOver({
      now,
      completedAt: this.completedAt,
      maxMs: NET.defaultLingerMs,
      lastRequestAt: this.upload.lastRequestAt,
      lastHaveAt: this.download.lastHaveAt,
      uploading: [...this.ends.values()].some((e) => e.sending || e.queue.length > 0),
    });
  }

  private requested(end: End, key: string, chunk: number): void {
    const answer = this.upload.requested(key, chunk, this.download.scheduler.have.has(chunk));
    if (answer === "serve") {
      this.upload.granted(key, chunk);
      end.queue.push(chunk);
      return this.pump(end);
    }
    const code = answer === "elsewhere" ? WIRE_ERRORS.ELSEWHERE : WIRE_ERRORS.NOT_AVAILABLE;
    this.send(end, { type: "REJECT", index: chunk, code });
  }

  private cancelled(end: End, chunk: number): void {
    const at = end.queue.indexOf(chunk);
    if (at >= 0) {
      end.queue.splice(at, 1);
      this.upload.ended(end.key!, chunk);
    }
    if (end.sending && end.sendingChunk === chunk) {
      this.endSending(end, end.sending.sentBy(this.world.clock.now));
      this.pump(end);
    }
  }

  /** Starts sending the next chunk the remote asked for, if the link is idle. */
  private pump(end: End): void {
    if (!end.open || end.sending || end.queue.length === 0 || end.key === null || !this.upload.takeSlot(end.key)) return;
    const chunk = end.queue.shift()!;
    end.sendingChunk = chunk;
    end.delivered = 0;
    const weight = TCP_SHARE_MIN + (TCP_SHARE_MAX - TCP_SHARE_MIN) * this.options.random();
    const receiver = end.remote.node;
    end.sending = this.world.network.start(this.options.up, receiver.options.down, this.chunkLength(chunk), weight, this.world.clock.now, this.racksTo(receiver));
    end.sending.tag = end;
    this.world.reschedule();
  }

  /** The rack uplinks a transfer to `receiver` crosses besides the two NICs: none within a rack. */
  private racksTo(receiver: SimNode): Port[] | undefined {
    const ours = this.options.rack;
    const theirs = receiver.options.rack;
    return ours && theirs && ours !== theirs ? [ours.up, theirs.down] : undefined;
  }

  /** The head chunk is done with (sent, cancelled or cut off) after `bytes` left. */
  private endSending(end: End, bytes: number): void {
    const flow = end.sending!;
    end.sending = null;
    this.world.network.stop(flow, this.world.clock.now);
    this.world.reschedule();
    const key = end.key!;
    this.upload.sent(key, bytes);
    this.upload.ended(key, end.sendingChunk);
    this.upload.releaseSlot(key);
    for (const other of this.upload.inTurn([...this.ends.values()])) {
      if (!this.upload.slotFree) return;
      this.pump(other);
    }
  }

  /**
   * A message shares its connection's byte stream with the PIECEs: while a chunk is being
   * sent, it goes after the block already handed to the socket.
   */
  private send(end: End, message: Message): void {
    const { remote } = end;
    this.world.clock.after(this.world.latencyMs + this.blockAhead(end), () => remote.node.receive(remote, message));
  }

  /** Milliseconds until the block being sent on `end` is out. */
  private blockAhead(end: End): number {
    const flow = end.sending;
    if (!flow || flow.rate <= 0) return 0;
    const sent = flow.sentBy(this.world.clock.now);
    const blockEnd = Math.min(flow.bytes, (Math.floor(sent / BLOCK) + 1) * BLOCK);
    return ((blockEnd - sent) * 1000) / flow.rate;
  }

  /** Ends the connection here at once, and at the far end one latency later. */
  private close(end: End, code: number, reason: string): void {
    if (!end.open) return;
    const { remote } = end;
    this.closed(end, code, reason);
    this.world.clock.after(this.world.latencyMs, () => remote.node.closed(remote, code, reason));
  }

  /** Carries out the download session's actions in order; verification and writes report back after the list. */
  private apply(actions: readonly SessionAction[]): void {
    this.applying++;
    for (const action of actions) {
      switch (action.type) {
        case "send": {
          const end = this.ends.get(action.peer);
          if (end && action.message.type === "HAVE" && this.blockAhead(end) === 0) this.batchHave(action.message.index, end);
          else if (end) this.send(end, action.message);
          break;
        }
        case "verify":
          this.afterHashing(this.chunkLength(action.chunk), () => this.download.chunkVerified(action.peer, action.chunk, true));
          break;
        case "write":
          this.world.clock.after(this.chunkLength(action.chunk) / WRITE_BYTES_PER_MS, () => this.landed(() => this.download.chunkWritten(action.chunk)));
          break;
        case "close": {
          const end = this.ends.get(action.peer);
          if (end) this.close(end, action.code, action.reason);
          break;
        }
        case "ban":
          this.peers.banned(action.peer, action.reason);
          break;
        case "log":
          this.count(action.event);
          break;
        case "wake":
          this.world.clock.after(action.afterMs, () => this.apply(this.download.wake()));
          break;
        case "complete":
          this.completedAt = this.world.clock.now;
          this.peers.finished();
          this.world.completed(this);
          break;
        case "fail":
          this.failure = action.error;
          this.world.clock.after(0, () => this.leave());
          break;
        default:
          // assemble and discard: the simulator moves no bytes.
          break;
      }
    }
    this.applying--;
    if (this.applying === 0) this.flushHaves();
  }

  /**
   * Hashes a chunk on the first of the node's hashing lanes to come free (LIMITS.hashJobsInFlight,
   * one per core, as SwarmNode's Limiter), then reports it.
   */
  private afterHashing(bytes: number, report: () => readonly SessionAction[]): void {
    const now = this.world.clock.now;
    let lane = 0;
    for (let i = 1; i < this.hashLanes.length; i++) if (this.hashLanes[i]! < this.hashLanes[lane]!) lane = i;
    const done = Math.max(now, this.hashLanes[lane]!) + bytes / HASH_BYTES_PER_MS;
    this.hashLanes[lane] = done;
    this.world.clock.at(done, () => this.landed(report));
  }

  /** A hash or write finished: the session hears of it, unless the node has gone. */
  private landed(report: () => readonly SessionAction[]): void {
    if (this.online) this.apply(report());
  }

  /**
   * A written chunk's HAVE goes to every peer at once: on idle connections they all arrive
   * together, so one event carries them (the simulator's cost per chunk would otherwise
   * grow with the number of peers times the heap's depth).
   */
  private batchHave(chunk: number, end: End): void {
    let ends = this.haves.get(chunk);
    if (!ends) this.haves.set(chunk, (ends = []));
    ends.push(end);
  }

  private flushHaves(): void {
    if (this.haves.size === 0) return;
    for (const [chunk, ends] of this.haves) {
      const message: Message = { type: "HAVE", index: chunk };
      this.world.clock.after(this.world.latencyMs, () => {
        for (const { remote } of ends) remote.node.receive(remote, message);
      });
    }
    this.haves.clear();
  }

  private applyPeers(actions: readonly PeersAction[], arriving?: End): void {
    for (const action of actions) {
      switch (action.type) {
        case "log":
          this.count(action.event);
          break;
        case "dial":
          this.world.dial(this, action.address);
          break;
        case "admit":
          this.admit(arriving!, action);
          break;
        case "refuse":
          if (action.peers.length > 0) this.send(arriving!, { type: "PEERS", peers: action.peers });
          this.close(arriving!, action.code, action.reason);
          break;
        case "send": {
          const end = this.ends.get(action.peer);
          if (end) this.send(end, action.message);
          break;
        }
        case "bye": {
          const end = this.ends.get(action.peer);
          if (end) this.close(end, action.code, action.reason);
          break;
        }
      }
    }
  }

  private admit(end: End, { key, name, far, rank }: Extract<PeersAction, { type: "admit" }>): void {
    end.key = key;
    this.pending.delete(end);
    this.ends.set(key, end);
    const bitfield = this.download.peerConnected(key, name, far, rank);
    this.upload.peerConnected(key, name, far);
    this.apply(bitfield);
  }

  private count(event: string): void {
    this.logged.set(event, (this.logged.get(event) ?? 0) + 1);
  }
}

/** Node i's address: 10.x.y.z, one per node, as a flat cluster network hands them out. */
export const hostOf = (index: number): string => {
  const n = index + 1;
  return `10.${(n >> 16) & 255}.${(n >> 8) & 255}.${n & 255}`;
};
