import { LIMITS, NET } from "../config.ts";
import { type Message, PEER_ID_LENGTH } from "../protocol/messages.ts";
import { type PeerAddress, peerLabel } from "../swarm/address-book.ts";
import { type SwarmAction, SwarmCore, type SwarmCoreConfig, type SwarmEvent, unhandled } from "../swarm/core.ts";
import { TICK_MS } from "../swarm/pipeline.ts";
import { nodeSchedulerConfig, shareRank } from "../swarm/scheduler.ts";
import { Bitset } from "../util/bitset.ts";
import { seededRandom } from "../util/random.ts";
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

/** One side of a connection: the chunk this node is sending the remote, as a flow, when it sends one. */
export class End {
  open = true;
  remote!: End;
  sending: Flow | null = null;
  sendingChunk = -1;
  /** What a cancelled chunk had written ahead still going out (WRITTEN_AHEAD), and the chunk to start after it. */
  draining: Flow | null = null;
  nextChunk = -1;
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
 * A CANCEL stops an upload only at what its connection had not yet queued for the socket:
 * up to NET.maxWriteBacklog is queued ahead of the network (more in the kernel's buffers,
 * left out), and goes out all the same; the next chunk follows it on the stream. At chunks
 * of 2 MiB or less, a chunk begun is sent whole.
 */
const WRITTEN_AHEAD = NET.maxWriteBacklog;

/**
 * One simulated node: the same SwarmCore a real node runs (core.ts, with its download,
 * upload and peers sessions), on the simulator's clock, with this class as its adapter in
 * place of SwarmNode. Messages become events one latency later; a chunk being sent is a
 * flow in the fluid network; hashing takes the time the native hasher takes, writing the
 * page cache's.
 */
export class SimNode {
  readonly address: PeerAddress;
  readonly label: string;
  readonly peerId = new Uint8Array(PEER_ID_LENGTH);
  readonly core: SwarmCore<End>;
  online = false;
  completedAt = Number.NaN;
  failure: unknown = null;
  /** How often each log event came, for the report. */
  readonly logged = new Map<string, number>();
  /** Each event the core was handed and the actions it returned, when a test asks (recordCore). */
  recording: { at: number; event: SwarmEvent<End>; actions: readonly SwarmAction<End>[] }[] | null = null;
  /** When each hashing lane comes free. */
  private readonly hashLanes = new Array<number>(LIMITS.hashJobsInFlight).fill(0);
  private performing = 0;
  private nextEphemeralPort = 40_000;
  /** HAVEs of this action list, by chunk, sent together when it ends (batchHave). */
  private readonly haves = new Map<number, End[]>();
  private readonly chunkLength: (chunk: number) => number;
  /** The TCP shares of its transfers: a stream of its own, so the core's randomness is the node's alone. */
  private readonly shares: () => number;
  /** The seed of the core's randomness: the same events on the same clock give the same actions (simCoreConfig). */
  readonly coreSeed: number;

  constructor(
    private readonly world: World,
    readonly options: SimNodeOptions,
  ) {
    const { index, random } = options;
    this.address = { host: hostOf(index), port: LISTEN_PORT };
    this.label = peerLabel(this.address);
    for (let i = 0; i < PEER_ID_LENGTH; i++) this.peerId[i] = Math.floor(random() * 256);
    this.shares = seededRandom(Math.floor(random() * 2 ** 32));
    this.coreSeed = Math.floor(random() * 2 ** 32);
    this.core = new SwarmCore(simCoreConfig(options, this.peerId, () => world.clock.now, seededRandom(this.coreSeed)));
    this.chunkLength = this.core.download.scheduler.config.chunkLength;
  }

  get complete(): boolean {
    return this.core.complete;
  }

  /** The zone the node was given, as its ZONE tells it: its rack, or "" for none. */
  get zone(): string {
    return zoneOf(this.options);
  }

  /** The node starts, told of `bootstrap` (get --peer); a seed is told of nobody. */
  join(bootstrap: PeerAddress[]): void {
    this.online = true;
    this.perform({ type: "start", bootstrap });
    this.world.clock.after(TICK_MS, () => this.tick());
  }

  /** The node goes away: every connection ends with BYE(SHUTTING_DOWN). */
  leave(): void {
    if (!this.online) return;
    this.perform({ type: "stop" });
    this.online = false;
    this.world.departed(this);
  }

  dialFailed(label: string, reason: string): void {
    if (this.online) this.perform({ type: "dial-failed", label, reason });
  }

  /** A connection finished its handshake; `other` is the node at the far end. */
  handshaken(end: End, other: SimNode): void {
    const arrival = { peerId: other.peerId, dialled: end.dialled, host: other.address.host, listenPort: other.address.port, label: end.label, zone: other.zone };
    this.perform({ type: "arrived", connection: end, arrival });
  }

  /** Names an accepted connection by the dialler's address and a fresh ephemeral port. */
  ephemeralLabel(): string {
    return `${this.address.host}:${this.nextEphemeralPort++}`;
  }

  /** A message from the remote end of `end` arrives. */
  receive(end: End, message: Message): void {
    if (end.open) this.perform({ type: "message", connection: end, message });
  }

  /** Bytes of a chunk the remote sends arrive, as PIECE frames. */
  receivePiece(end: End, chunk: number, offset: number, bytes: number): void {
    if (end.open && bytes > 0) this.perform({ type: "piece", connection: end, chunk, offset, bytes });
  }

  /** The flow carrying `end`'s chunk is done: the rest reaches the remote one latency later. */
  sent(end: End, flow: Flow): void {
    if (flow === end.draining) return this.drained(end);
    const chunk = end.sendingChunk;
    const offset = end.delivered;
    this.stopFlow(end);
    const { remote } = end;
    this.world.clock.after(this.world.latencyMs, () => remote.node.receivePiece(remote, chunk, offset, flow.bytes - offset));
    const peer = this.core.connections.keyOf(end)!;
    this.perform({ type: "upload-sent", peer, bytes: flow.bytes });
    this.perform({ type: "upload-ended", peer, chunk, outcome: "sent" });
  }

  /** The connection is gone, at this end: whatever was being sent stops, the sessions hear of it. */
  closed(end: End, code: number, reason: string): void {
    if (!end.open) return;
    end.open = false;
    if (end.sending) this.cutOff(end);
    if (end.draining) this.drained(end);
    this.perform({ type: "closed", connection: end, departure: { dialled: end.dialled, label: end.label, code, reason } });
  }

  /**
   * Every TICK_MS: blocks received since the last tick reach the session (its rate meter and
   * stall rule see data as it comes, not a chunk at a time), then the core ticks.
   */
  private tick(): void {
    if (!this.online) return;
    const now = this.world.clock.now;
    for (const end of this.core.connections.peers()) {
      const source = end.remote;
      if (!source.sending) continue;
      const whole = Math.floor(source.sending.sentBy(now) / BLOCK) * BLOCK;
      if (whole <= source.delivered || whole >= source.sending.bytes) continue;
      const offset = source.delivered;
      source.delivered = whole;
      this.receivePiece(end, source.sendingChunk, offset, whole - offset);
    }
    this.perform({ type: "tick" });
    if (this.online) this.world.clock.after(TICK_MS, () => this.tick());
  }

  /** Starts sending a chunk the session gave this connection, as a flow through both NICs (and the racks' uplinks between). */
  private startUpload(end: End, chunk: number): void {
    if (end.draining) {
      end.nextChunk = chunk;
      return;
    }
    end.sendingChunk = chunk;
    end.delivered = 0;
    const weight = TCP_SHARE_MIN + (TCP_SHARE_MAX - TCP_SHARE_MIN) * this.shares();
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

  /** The chunk being sent is cancelled: what was written ahead still goes (WRITTEN_AHEAD), to be discarded at the far end. */
  private stopUpload(end: End): void {
    const flow = end.sending!;
    const tail = Math.min(flow.bytes - flow.sentBy(this.world.clock.now), WRITTEN_AHEAD);
    this.cutOff(end);
    if (tail <= 0) return;
    end.draining = this.world.network.start(this.options.up, end.remote.node.options.down, tail, flow.weight, this.world.clock.now, this.racksTo(end.remote.node));
    end.draining.tag = end;
    this.world.reschedule();
  }

  /** What a cancelled chunk had written ahead is out (or its connection closed): it counts as sent, and the next chunk starts. */
  private drained(end: End): void {
    const flow = end.draining!;
    const bytes = flow.sentBy(this.world.clock.now);
    end.draining = null;
    this.world.network.stop(flow, this.world.clock.now);
    this.world.reschedule();
    const peer = this.core.connections.keyOf(end);
    if (peer !== null) this.perform({ type: "upload-sent", peer, bytes });
    const next = end.nextChunk;
    end.nextChunk = -1;
    if (next >= 0 && end.open) this.startUpload(end, next);
  }

  /** The chunk being sent on `end` stops part-way (cancelled, or the connection closed): what went out is counted. */
  private cutOff(end: End): void {
    const bytes = end.sending!.sentBy(this.world.clock.now);
    this.stopFlow(end);
    const peer = this.core.connections.keyOf(end);
    if (peer !== null) this.perform({ type: "upload-sent", peer, bytes });
  }

  private stopFlow(end: End): void {
    const flow = end.sending!;
    end.sending = null;
    this.world.network.stop(flow, this.world.clock.now);
    this.world.reschedule();
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

  /** Hands the core an event and carries out its actions in order; HAVEs go out when the outermost list is done. */
  private perform(event: SwarmEvent<End>): void {
    const actions = this.core.handle(event);
    this.recording?.push({ at: this.world.clock.now, event, actions });
    this.performing++;
    for (const action of actions) this.carryOut(action);
    this.performing--;
    if (this.performing === 0) this.flushHaves();
  }

  private carryOut(action: SwarmAction<End>): void {
    switch (action.type) {
      case "send": {
        const end = this.core.connections.get(action.peer);
        if (end && action.message.type === "HAVE" && this.blockAhead(end) === 0) this.batchHave(action.message.index, end);
        else if (end) this.send(end, action.message);
        return;
      }
      case "verify":
        return this.afterHashing(this.chunkLength(action.chunk), { type: "verified", peer: action.peer, chunk: action.chunk, good: true });
      case "write":
        return this.world.clock.after(this.chunkLength(action.chunk) / WRITE_BYTES_PER_MS, () => this.landed({ type: "written", chunk: action.chunk }));
      case "close":
      case "bye": {
        const end = this.core.connections.get(action.peer);
        if (end) this.close(end, action.code, action.reason);
        return;
      }
      case "bye-all":
        for (const end of [...this.core.connections.all()]) this.close(end, action.code, action.reason);
        return;
      case "log":
        return this.count(action.event);
      case "wake":
        return this.world.clock.after(action.afterMs, () => this.perform({ type: "wake" }));
      case "complete":
        this.completedAt = this.world.clock.now;
        return this.world.completed(this);
      case "fail":
        this.failure = action.error;
        return this.world.clock.after(0, () => this.leave());
      case "linger-over":
        return this.leave();
      case "dial":
        return this.world.dial(this, action.address);
      case "admit":
        // Where the connection stands is the core's; the simulator holds nothing more for a peer.
        return;
      case "refuse":
        if (action.peers.length > 0) this.send(action.connection, { type: "PEERS", peers: action.peers });
        return this.close(action.connection, action.code, action.reason);
      case "upload": {
        const end = this.core.connections.get(action.peer);
        if (end) this.startUpload(end, action.chunk);
        return;
      }
      case "stop-upload": {
        const end = this.core.connections.get(action.peer);
        if (end?.sending && end.sendingChunk === action.chunk) this.stopUpload(end);
        else if (end?.nextChunk === action.chunk) end.nextChunk = -1;
        return;
      }
      case "assemble":
      case "discard":
      case "check":
        // The simulator moves no bytes and its chunks need no proving.
        return;
      default:
        unhandled(action);
    }
  }

  /**
   * Hashes a chunk on the first of the node's hashing lanes to come free (LIMITS.hashJobsInFlight,
   * one per core, as SwarmNode's Limiter), then reports it.
   */
  private afterHashing(bytes: number, report: SwarmEvent<End>): void {
    const now = this.world.clock.now;
    let lane = 0;
    for (let i = 1; i < this.hashLanes.length; i++) if (this.hashLanes[i]! < this.hashLanes[lane]!) lane = i;
    const done = Math.max(now, this.hashLanes[lane]!) + bytes / HASH_BYTES_PER_MS;
    this.hashLanes[lane] = done;
    this.world.clock.at(done, () => this.landed(report));
  }

  /** A hash or write finished: the core hears of it, unless the node has gone. */
  private landed(report: SwarmEvent<End>): void {
    if (this.online) this.perform(report);
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

  private count(event: string): void {
    this.logged.set(event, (this.logged.get(event) ?? 0) + 1);
  }
}

/** A simulated node's rack as its zone (get --zone), or "" for none. */
const zoneOf = (o: SimNodeOptions): string => (o.zones && o.rack ? `rack-${o.rack.index}` : "");

/** The core of a simulated node: a get, or a seed that serves, at the defaults a user gets. */
export function simCoreConfig(options: SimNodeOptions, peerId: Uint8Array, now: () => number, random: () => number): SwarmCoreConfig {
  const { chunkCount, chunkSize, packageBytes, seed } = options;
  const have = new Bitset(chunkCount);
  if (seed) for (let c = 0; c < chunkCount; c++) have.add(c);
  const lastLength = packageBytes - (chunkCount - 1) * chunkSize;
  const chunkLength = (c: number) => (c === chunkCount - 1 ? lastLength : chunkSize);
  return {
    scheduler: nodeSchedulerConfig(chunkCount, chunkSize, chunkLength, NET.defaultRequestsPerPeer, { now, random, ourRank: shareRank(peerId) }),
    have,
    retryForMs: NET.defaultRetryForMs,
    downloadLimit: null,
    logRequests: false,
    maxPeers: NET.maxConnectionsPerPackage,
    ourId: peerId,
    zone: zoneOf(options),
    superSeeding: seed,
    available: (c) => have.has(c),
    // A seed serves until the end; a get lingers as `get` does by default.
    lingerMs: seed ? Infinity : NET.defaultLingerMs,
  };
}

/** Node i's address: 10.x.y.z, one per node, as a flat cluster network hands them out. */
export const hostOf = (index: number): string => {
  const n = index + 1;
  return `10.${(n >> 16) & 255}.${(n >> 8) & 255}.${n & 255}`;
};
