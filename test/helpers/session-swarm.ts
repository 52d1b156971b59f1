/**
 * Sessions driven in-process, on a fake clock. SessionSwarm: a DownloadSession with
 * scripted peers and instant hashing and writing; each peer sends its open requests in
 * order, `bytesPerTick` bytes every TICK_MS, and a dishonest one sends chunks that fail
 * verification. SeedSession: a seed's UploadSession answering requests. No socket, no
 * timer: a run of minutes of swarm time takes milliseconds, and the same seed gives the
 * same run.
 */
import { seededRandom } from "../../src/util/random.ts";
import { TICK_MS } from "../../src/swarm/pipeline.ts";
import { defaultSchedulerConfig } from "../../src/swarm/scheduler.ts";
import { DownloadSession, type SessionAction } from "../../src/swarm/session.ts";
import type { UploadAnswer, UploadSession } from "../../src/swarm/upload-session.ts";
import { type SwarmAction, SwarmCore, type SwarmEvent } from "../../src/swarm/core.ts";
import { WIRE_ERRORS } from "../../src/protocol/codes.ts";
import { type Message, PEER_ID_LENGTH } from "../../src/protocol/messages.ts";
import { Bitset } from "../../src/util/bitset.ts";

/** A repeatable stand-in for Math.random, for any integer seed (fast-check hands out negative ones too). */
export { seededRandom };

export const CHUNK = 1024;
export const BLOCK = 256;


export interface PeerScript {
  /** The chunks it has: all of them by default. */
  has?: number[];
  /** Its data fails verification. */
  lies?: boolean;
  /** Bytes it sends every tick; 0 for a peer that takes requests and never answers. */
  bytesPerTick?: number;
}

export interface SwarmOptions {
  chunks: number;
  /** Chunks we have at the start. */
  have?: number[];
  requestsPerPeer?: number;
  retryForMs?: number;
  /** Whether the address book still has an address to (re)dial. */
  dialable?: boolean;
  seed?: number;
  /** Hash results and writes wait for `settle()` instead of coming back at once. */
  deferLanding?: boolean;
}

/** Something the session did, with when and what it was checked against. */
export type Observer = (action: SessionAction, swarm: SessionSwarm) => void;

/** A session's config on a fake clock, with chunks of CHUNK bytes and no random first picks. */
export function sessionConfig(chunks: number, now: () => number, dialable: () => boolean, options: Omit<SwarmOptions, "chunks"> = {}) {
  return {
    scheduler: defaultSchedulerConfig(chunks, {
      chunkSize: CHUNK,
      requestsPerPeer: options.requestsPerPeer ?? 8,
      maxBytesInMemory: 64 * CHUNK,
      randomFirstPicks: 0,
      random: seededRandom(options.seed ?? 1),
      now,
    }),
    retryForMs: options.retryForMs ?? 60_000,
    downloadLimit: null,
    logRequests: false,
    addresses: { anyDialable: dialable, describe: () => "scripted peers" },
  };
}

/** How a list of upload actions answered a REQUEST: served (queued or started), or which REJECT. */
export function answerOf(actions: readonly { type: string; message?: Message }[]): UploadAnswer {
  const reject = actions.find((a) => a.type === "send" && a.message?.type === "REJECT")?.message;
  if (reject?.type !== "REJECT") return "serve";
  return reject.code === WIRE_ERRORS.ELSEWHERE ? "elsewhere" : "not-available";
}

/**
 * A seed's SwarmCore driven in-process, on a fake clock: it has every chunk, its peers
 * announce nothing at first, and each REQUEST is answered as a real seed answers it. An
 * upload the seed starts is in progress until `deliver`.
 */
export class SeedSession {
  now = 0;
  readonly core: SwarmCore<string>;
  /** Every answer, in order. */
  readonly answers: { at: number; peer: string; chunk: number; answer: UploadAnswer }[] = [];
  /** What the seed did about uploads, in order: chunks started, stopped and checked ahead, and connections closed, by peer name. */
  readonly uploads: { type: "upload" | "stop-upload" | "check" | "close"; peer: string; chunk?: number; code?: number }[] = [];

  constructor(readonly chunks: number) {
    const have = new Bitset(chunks);
    for (let c = 0; c < chunks; c++) have.add(c);
    const { scheduler, retryForMs } = sessionConfig(chunks, () => this.now, () => true);
    this.core = new SwarmCore({
      scheduler,
      have,
      retryForMs,
      downloadLimit: null,
      logRequests: false,
      maxPeers: 1_000_000,
      ourId: peerIdOf("the seed"),
      zone: "here",
      superSeeding: true,
      available: (c) => have.has(c),
      lingerMs: Infinity,
    });
    this.core.handle({ type: "start", bootstrap: [] });
  }

  get download(): DownloadSession {
    return this.core.download;
  }

  get upload(): UploadSession {
    return this.core.upload;
  }

  /** A peer with nothing connects; `far` when it is in another zone. */
  connect(peer: string, far = false): void {
    const arrival = { peerId: peerIdOf(peer), host: "", listenPort: 0, label: peer, zone: far ? "there" : "here" };
    const admitted = this.core.handle({ type: "arrived", connection: peer, arrival }).find((a) => a.type === "admit");
    if (admitted?.type !== "admit") throw new Error(`SeedSession: ${peer} was not admitted`);
    this.handle({ type: "message", connection: peer, message: { type: "BITFIELD", bits: new Bitset(this.chunks).bytes } });
  }

  /** The peer's connection is gone. */
  disconnect(peer: string): void {
    this.handle({ type: "closed", connection: peer, departure: { label: peer, code: 0, reason: "gone" } });
  }

  /** The peer takes back a request (CANCEL). */
  cancel(peer: string, chunk: number): void {
    this.handle({ type: "message", connection: peer, message: { type: "CANCEL", index: chunk } });
  }

  /** The chunk being sent to `peer` turned out damaged on disk. */
  damaged(peer: string, chunk: number): readonly SwarmAction<string>[] {
    return this.handle({ type: "upload-ended", peer: this.key(peer), chunk, outcome: "damaged" });
  }

  /** Hands the core an event, noting what it did about uploads. */
  handle(event: SwarmEvent<string>): readonly SwarmAction<string>[] {
    const actions = this.core.handle(event);
    for (const a of actions) {
      if (a.type === "upload" || a.type === "stop-upload" || a.type === "check") this.uploads.push({ type: a.type, peer: this.core.connections.get(a.peer)!, chunk: a.chunk });
      else if (a.type === "close") this.uploads.push({ type: a.type, peer: this.core.connections.get(a.peer)!, code: a.code });
    }
    return actions;
  }

  /** Names of the peers whose chunks were started, in order. */
  started(): string[] {
    return this.uploads.flatMap((u) => (u.type === "upload" ? [u.peer] : []));
  }

  /** The peer asks for a chunk; a served one is in progress until `deliver`. */
  ask(peer: string, chunk: number): UploadAnswer {
    const answer = answerOf(this.handle({ type: "message", connection: peer, message: { type: "REQUEST", index: chunk } }));
    this.answers.push({ at: this.now, peer, chunk, answer });
    return answer;
  }

  /**
   * A peer that connects and is granted `chunk`, which never finishes: the seed's uplink is
   * busy from now on, as in a swarm, where an idle one serves whatever it is asked.
   */
  keepBusy(chunk: number): void {
    this.connect("busy");
    if (this.ask("busy", chunk) !== "serve") throw new Error(`keepBusy: chunk ${chunk} was not served`);
  }

  /** The chunk being sent to `peer` is sent whole. */
  deliver(peer: string, chunk: number): void {
    const key = this.key(peer);
    this.handle({ type: "upload-sent", peer: key, bytes: CHUNK });
    this.handle({ type: "upload-ended", peer: key, chunk, outcome: "sent" });
  }

  /** The peer announces a chunk (HAVE). */
  announce(peer: string, chunk: number): void {
    this.handle({ type: "message", connection: peer, message: { type: "HAVE", index: chunk } });
  }

  /** The peer sends its BITFIELD. */
  bitfield(peer: string, bits: Bitset): void {
    this.handle({ type: "message", connection: peer, message: { type: "BITFIELD", bits: bits.bytes } });
  }

  /** The core's key for the peer's connection, which upload events name. */
  private key(peer: string): string {
    const key = this.core.connections.keyOf(peer);
    if (key === null) throw new Error(`SeedSession: ${peer} is not connected`);
    return key;
  }
}

/** A distinct peer id for each name: the admission rule compares ids. */
function peerIdOf(name: string): Uint8Array {
  return new Uint8Array(new Bun.CryptoHasher("sha256").update(name).digest()).subarray(0, PEER_ID_LENGTH);
}

export class SessionSwarm {
  now = 0;
  readonly session: DownloadSession;
  /** Every action, in order, with the time it came. */
  readonly actions: { at: number; action: SessionAction }[] = [];
  /** Per peer, the requests it was sent and has not finished or had cancelled, in order. */
  readonly open = new Map<string, number[]>();
  /** Chunks handed to be verified or written and not yet back. */
  readonly landing = new Set<number>();
  readonly closed = new Set<string>();
  readonly banned = new Set<string>();
  outcome: { complete: true } | { error: unknown } | null = null;
  dialable: boolean;
  private readonly scripts = new Map<string, PeerScript>();
  private readonly liars = new Set<string>();
  /** Peers the session closed: they send nothing more. */
  private readonly closing = new Set<string>();
  /** Bytes of the head request a peer has sent. */
  private readonly sent = new Map<string, number>();
  private readonly toVerify: { peer: string; chunk: number }[] = [];
  private readonly toWrite: number[] = [];
  private readonly toClose: string[] = [];
  private observers: Observer[] = [];

  constructor(private readonly options: SwarmOptions) {
    const have = new Bitset(options.chunks);
    for (const c of options.have ?? []) have.add(c);
    this.dialable = options.dialable ?? true;
    // As the core's connection table does: a connection being closed is asked for nothing more.
    const config = { ...sessionConfig(options.chunks, () => this.now, () => this.dialable, options), askable: (peer: string) => !this.closing.has(peer) };
    this.session = new DownloadSession(config, have);
  }

  observe(observer: Observer): this {
    this.observers.push(observer);
    return this;
  }

  start(): void {
    this.apply(this.session.start());
  }

  /** A peer connects and sends its BITFIELD. */
  connect(peer: string, script: PeerScript = {}): void {
    this.scripts.set(peer, script);
    if (script.lies) this.liars.add(peer);
    else this.liars.delete(peer);
    this.open.set(peer, []);
    this.sent.set(peer, 0);
    this.closed.delete(peer);
    this.closing.delete(peer);
    this.session.peerConnected(peer, peer);
    const bits = new Bitset(this.options.chunks);
    for (const c of script.has ?? Array.from({ length: this.options.chunks }, (_, i) => i)) bits.add(c);
    this.apply(this.session.bitfield(peer, bits.bytes));
  }

  /** The peer's connection is gone. */
  disconnect(peer: string): void {
    if (!this.open.has(peer)) return;
    this.open.delete(peer);
    this.scripts.delete(peer);
    this.closed.add(peer);
    this.apply(this.session.peerClosed(peer));
  }

  /** The peer sends up to `bytes` of its open requests, in order, in blocks of BLOCK. */
  send(peer: string, bytes: number): void {
    let budget = bytes;
    while (budget > 0 && this.open.has(peer) && !this.closing.has(peer)) {
      const queue = this.open.get(peer);
      const chunk = queue?.[0];
      if (chunk === undefined) return;
      const offset = this.sent.get(peer)!;
      const n = Math.min(budget, BLOCK, CHUNK - offset);
      budget -= n;
      if (offset + n === CHUNK) {
        queue!.shift();
        this.sent.set(peer, 0);
      } else this.sent.set(peer, offset + n);
      this.apply(this.session.piece(peer, chunk, offset, n));
    }
  }

  /** Hash results and writes come back (with `deferLanding`). */
  settle(): void {
    while (this.toVerify.length > 0 || this.toWrite.length > 0) {
      const v = this.toVerify.shift();
      if (v) this.verified(v.peer, v.chunk);
      const w = this.toWrite.shift();
      if (w !== undefined) {
        this.landing.delete(w);
        this.apply(this.session.chunkWritten(w));
      }
    }
  }

  /** One TICK_MS: every peer sends its share, connections being closed finish closing, the session ticks. */
  step(): void {
    this.now += TICK_MS;
    for (const [peer, script] of [...this.scripts]) this.send(peer, script.bytesPerTick ?? 4 * CHUNK);
    if (!this.options.deferLanding) this.settle();
    for (const peer of this.toClose.splice(0)) this.disconnect(peer);
    this.apply(this.session.tick());
  }

  /** Steps until the download completes or fails, or `ms` of swarm time pass. */
  run(ms: number): void {
    const until = this.now + ms;
    while (this.outcome === null && this.now < until) this.step();
  }

  /** REQUESTs sent to `peer`, in order. */
  requestsTo(peer: string): { at: number; chunk: number }[] {
    return this.sent_("REQUEST", peer);
  }

  cancelsTo(peer: string): { at: number; chunk: number }[] {
    return this.sent_("CANCEL", peer);
  }

  logged(event: string): { at: number; fields: Record<string, unknown> }[] {
    return this.actions.flatMap(({ at, action }) => (action.type === "log" && action.event === event ? [{ at, fields: action.fields }] : []));
  }

  private sent_(type: "REQUEST" | "CANCEL", peer: string): { at: number; chunk: number }[] {
    return this.actions.flatMap(({ at, action }) =>
      action.type === "send" && action.peer === peer && action.message.type === type ? [{ at, chunk: action.message.index }] : [],
    );
  }

  /** The hash of the chunk from `peer` comes back: good unless the peer lies. */
  private verified(peer: string, chunk: number): void {
    const good = !this.liars.has(peer);
    if (!good) this.landing.delete(chunk);
    this.apply(this.session.chunkVerified(peer, chunk, good));
  }

  apply(actions: readonly SessionAction[]): void {
    for (const action of actions) {
      this.actions.push({ at: this.now, action });
      for (const o of this.observers) o(action, this);
      this.carryOut(action);
    }
  }

  private carryOut(action: SessionAction): void {
    switch (action.type) {
      case "send": {
        const queue = this.open.get(action.peer);
        const { message } = action;
        if (!queue) return;
        if (message.type === "REQUEST") queue.push(message.index);
        else if (message.type === "CANCEL") {
          const at = queue.indexOf(message.index);
          if (at === 0) this.sent.set(action.peer, 0);
          if (at >= 0) queue.splice(at, 1);
        }
        return;
      }
      case "verify":
        this.landing.add(action.chunk);
        if (this.options.deferLanding) this.toVerify.push(action);
        else this.verified(action.peer, action.chunk);
        return;
      case "write":
        if (this.options.deferLanding) this.toWrite.push(action.chunk);
        else {
          this.landing.delete(action.chunk);
          this.apply(this.session.chunkWritten(action.chunk));
        }
        return;
      case "close":
        // Nothing more is read from it; the socket closes at the next step.
        this.closing.add(action.peer);
        this.toClose.push(action.peer);
        return;
      case "ban":
        this.banned.add(action.peer);
        return;
      case "complete":
        this.outcome = { complete: true };
        return;
      case "fail":
        this.outcome = { error: action.error };
        return;
      default:
        return;
    }
  }
}
