import { LIMITS, type NetworkPolicy } from "../config.ts";
import { BtError } from "../errors.ts";
import { DIGEST_LENGTH, hasher } from "../hash/index.ts";
import { type CloseInfo, type ConnectionHandler, PeerConnection } from "../peer/connection.ts";
import { dial } from "../peer/dial.ts";
import { Uploader } from "../peer/uploader.ts";
import { equalBytes } from "../pkg/format.ts";
import type { Package } from "../pkg/model.ts";
import { WIRE_ERRORS } from "../protocol/codes.ts";
import { CAPABILITIES, type Hello, type Message, NONCE_LENGTH } from "../protocol/messages.ts";
import type { NodeReport, NodeState } from "../protocol/status.ts";
import type { ChunkStore } from "../storage/store.ts";
import { Bitset } from "../util/bitset.ts";
import { Limiter } from "../util/bounded.ts";
import type { Histogram } from "../util/histogram.ts";
import type { Logger } from "../util/log.ts";
import { type Clock, systemClock } from "../util/clock.ts";
import type { TokenBucket } from "../util/token-bucket.ts";
import { toHex } from "../util/units.ts";
import { ChunkBuffers } from "./buffers.ts";
import { type PeerAddress, peerLabel } from "./address-book.ts";
import { type SwarmAction, SwarmCore, type SwarmEvent, unhandled } from "./core.ts";
import { TICK_MS } from "./pipeline.ts";
import { maxBytesInMemory, nodeSchedulerConfig, shareRank } from "./scheduler.ts";
import type { DownloadSession } from "./session.ts";
import type { UploadSession } from "./upload-session.ts";

export interface SwarmNodeOptions {
  pkg: Package;
  /** The package id (format.ts packageId): the caller has it already, a get by id from its URL. */
  id: Uint8Array;
  store: ChunkStore;
  peerId: Uint8Array;
  /** Peers to start from (get --peer); more are learned from PEERS messages. */
  bootstrap: PeerAddress[];
  requestsPerPeer: number;
  /** With no progress possible, keep trying this long before failing. */
  retryForMs: number;
  /** Bounds (maxPeers per package), shared secret and TLS for every connection. */
  network: NetworkPolicy;
  logger: Logger;
  uploadLimit: TokenBucket | null;
  /** Super-seed once complete (superseed.ts): `serve` does, `get` does not. */
  superSeeding: boolean;
  /** --max-download-rate: requests are issued no faster than this many bytes per second. */
  downloadLimit: TokenBucket | null;
  onProgress?: (verifiedBytes: number, connectedPeers: number) => void;
  /** get --log-requests: one `request` event per REQUEST sent, to show the picker's order. */
  logRequests?: boolean;
  /** Bytes found on this node before the swarm started (get --reuse), for --metrics. */
  reusedBytes?: number;
  /** get --only: the chunks to fetch; the rest are neither requested nor offered. Default: all. */
  wanted?: Bitset;
  /** The node's one clock: its sessions, connections and uploads all read it (default: the system's). */
  clock?: Clock;
  /** --linger: how long a finished get serves at most (linger.ts); Infinity, the default, never goes (serve, get --seed). */
  lingerMs?: number;
  /** get: who this node is in its STATUS reports (statusReport). */
  reportAs?: { name: string; version: string; totalBytes: number };
}

export interface DownloadResult {
  /** Bytes of verified chunks, by the peer that sent them. */
  receivedFrom: Map<string, number>;
  seconds: number;
  /** From REQUEST sent to the chunk's last byte received. */
  requestLatencyMs: Histogram;
  /** Most requests open at once, across all peers. */
  inFlightPeak: number;
}

/** What the node holds for one admitted peer's connection, whichever side opened it: the bytes going out and coming in. */
interface Link {
  conn: PeerConnection;
  uploader: Uploader;
  /** Chunks being assembled from this peer's PIECEs; the session says where each block goes. */
  assemblies: Map<number, Uint8Array>;
}

/** The core's actions on one peer's connection. */
type LinkAction = Extract<SwarmAction<PeerConnection>, { type: "send" | "assemble" | "discard" | "verify" | "close" | "bye" | "upload" | "stop-upload" | "check" }>;

const RECEIVE_BYTES_PER_COLLECTION = 4 * 1024 * 1024;
/**
 * Bun's allocator hands memory freed 100 ms ago back to the system (mimalloc's purge
 * delay), and the next reads fault it in afresh: at a slow link's rate, 4 MiB takes longer
 * than that to arrive, so garbage is collected by age too, once there is enough of it.
 */
const RECEIVE_GARBAGE_MAX_AGE_MS = 50;
const RECEIVE_GARBAGE_MIN_BYTES = 512 * 1024;
const RESIDENT_GROWTH_PER_FULL_COLLECTION = 24 * 1024 * 1024;

/**
 * One package's place in the swarm: the peers it is connected to (dialled or accepted),
 * what it downloads from them and what it serves them. It is the adapter of the SwarmCore
 * (core.ts), which holds the download, upload and peers sessions and decides: the node
 * turns socket messages, hash results, writes and timer ticks into the core's events, and
 * carries out its actions as socket writes, uploads, hash jobs, disk writes, dials and
 * timers. A seed is a node whose store is already complete.
 */
export class SwarmNode {
  readonly rootHex: string;
  /** The package id, as make, ls and serve print it: what metrics and logs name the package by. */
  readonly idHex: string;
  readonly id: Uint8Array;
  readonly core: SwarmCore<PeerConnection>;
  readonly handler: ConnectionHandler;
  /** Resolves when every chunk is verified and stored; rejects when the download cannot go on. */
  readonly completion: Promise<DownloadResult>;
  /** Resolves once a finished get has served long enough (linger.ts): with the default --linger, never. */
  readonly lingered: Promise<void>;
  listenPort = 0;
  private store: ChunkStore;
  /** Admitted connections' uploads and assemblies; where each connection stands is the core's (core.connections). */
  private readonly links = new Map<PeerConnection, Link>();
  private readonly buffers: ChunkBuffers;
  private readonly verifyLimiter = new Limiter(LIMITS.hashJobsInFlight);
  /** Hash and write jobs in progress: a failing download waits for them, so the state stays true. */
  private readonly landing = new Set<Promise<void>>();
  /** Verified chunks the session has yet to have written; a placed one (already on disk) keeps no buffer. */
  private readonly verified = new Map<number, { buffer: Uint8Array | null; digest: Uint8Array }>();
  private readonly clock: Clock;
  private readonly started: number;
  private resolveCompletion!: (r: DownloadResult) => void;
  private rejectCompletion!: (e: unknown) => void;
  private resolveLingered!: () => void;
  private settled = false;
  private closed = false;
  private ticker: ReturnType<typeof setInterval> | null = null;
  private bytesSinceCollection = 0;
  private lastCollectionAt = 0;
  /** Resident bytes just after the last full collection (at first, at start). */
  private residentAfterFullCollection = process.memoryUsage.rss();
  private refillTimer: ReturnType<typeof setTimeout> | null = null;
  /** Why the download stopped (its failure, or the signal that closed it), for the last report. */
  private ending: unknown = null;
  /** get: its output is verified and in place (markDone). */
  private done = false;
  /** The last chunk that failed, or the last refusal, as the reports name it. */
  private lastError: { code: string; message: string } | null = null;
  /** When the last report was made, and the verified bytes it gave: the next one's rate. */
  private lastReport = { at: 0, bytes: 0 };

  constructor(private readonly options: SwarmNodeOptions) {
    const { pkg, store } = options;
    this.store = store;
    this.clock = options.clock ?? systemClock;
    this.started = this.clock();
    this.rootHex = toHex(pkg.root);
    this.id = options.id;
    this.idHex = toHex(options.id);
    const chunkCount = pkg.chunkHashes.length / DIGEST_LENGTH;
    this.core = new SwarmCore({
      scheduler: nodeSchedulerConfig(chunkCount, pkg.chunkSize, (c) => store.chunkLength(c), options.requestsPerPeer, { ourRank: shareRank(options.peerId), now: this.clock }),
      have: store.have,
      wanted: options.wanted,
      retryForMs: options.retryForMs,
      downloadLimit: options.downloadLimit,
      logRequests: options.logRequests ?? false,
      maxPeers: options.network.maxPeers,
      ourId: options.peerId,
      zone: options.network.zone,
      superSeeding: options.superSeeding,
      // The store of the moment: a finished download serves from its final location (useStore).
      available: (c) => this.store.has(c),
      lingerMs: options.lingerMs ?? Infinity,
    });
    this.buffers = new ChunkBuffers(pkg.chunkSize, maxBytesInMemory(pkg.chunkSize));
    this.completion = new Promise((resolve, reject) => {
      this.resolveCompletion = resolve;
      this.rejectCompletion = reject;
    });
    // A failure nobody awaits yet must not crash the process; callers await `completion`.
    this.completion.catch(() => {});
    this.lingered = new Promise((resolve) => (this.resolveLingered = resolve));
    this.handler = {
      onReady: (conn) => this.onReady(conn),
      onMessage: (conn, message) => this.onMessage(conn, message),
      onDrain: (conn) => this.links.get(conn)?.uploader.pump(),
      onClosing: (conn) => this.perform({ type: "leaving", connection: conn }),
      onClose: (conn, info) => this.onClose(conn, info),
    };
  }

  /** The download: what was received and verified. */
  get session(): DownloadSession {
    return this.core.download;
  }

  /** What is served and how much: `lastRequestAt`, `uploadedBytes`, `uploadedTo`. */
  get upload(): UploadSession {
    return this.core.upload;
  }

  get complete(): boolean {
    return this.session.complete;
  }

  /** Counters for --metrics. */
  get counters(): { chunksServed: number; bytesReceived: number; bytesReused: number; verificationFailures: number } {
    const { bytesReceived, verificationFailures } = this.session;
    return { chunksServed: this.upload.chunksServed, bytesReceived, bytesReused: this.options.reusedBytes ?? 0, verificationFailures };
  }

  /** Chunks this node holds and offers (a selection's only, with get --only). */
  get verifiedChunks(): number {
    return this.store.have.count;
  }

  get connectedPeers(): number {
    return this.core.connections.peerCount;
  }

  get knownPeers(): number {
    return this.core.book.size;
  }

  /** Our HELLO for one connection: a fresh nonce each time. */
  get pkg(): Package {
    return this.options.pkg;
  }

  hello(): Hello {
    return {
      type: "HELLO",
      root: this.options.pkg.root,
      peerId: this.options.peerId,
      listenPort: this.listenPort,
      capabilities: (this.options.network.secret ? CAPABILITIES.AUTH : 0) | CAPABILITIES.ZONES,
      nonce: crypto.getRandomValues(new Uint8Array(NONCE_LENGTH)),
    };
  }

  /** After a download is finalized, serve from the final location instead of the .part. */
  useStore(store: ChunkStore): void {
    this.store = store;
  }

  /**
   * Proves again, when next asked, every chunk found damaged (serve's SIGHUP), and offers
   * them anew to the peers connected: those it refused had stopped asking. Returns how many.
   */
  recheck(): number {
    const chunks = this.store.recheck?.() ?? [];
    for (const link of this.links.values()) for (const index of chunks) link.conn.sendMessage({ type: "HAVE", index });
    return chunks.length;
  }

  /** What every Uploader reads: the store of the moment (useStore). */
  private readonly currentStore = {
    chunkLength: (c: number) => this.store.chunkLength(c),
    read: (c: number, offset: number, into: readonly Uint8Array[]) => this.store.read(c, offset, into),
    prepare: (c: number) => this.store.prepare?.(c) ?? true,
  };

  start(): void {
    // The core's tick: pipeline depth, the stall rule, the give-up rule, redials, linger.
    this.ticker = setInterval(() => {
      this.perform({ type: "tick" });
      // The progress line follows the peers too, not only arriving chunks: a get that waits
      // on one missing chunk must not go on showing the peer count of its last chunk.
      if (!this.complete) this.report();
    }, TICK_MS);
    this.perform({ type: "start", bootstrap: this.options.bootstrap });
    if (!this.complete) this.report();
  }

  /** Stops everything: says BYE to every peer, stops dialling; a pending download fails with `reason`. */
  close(reason: unknown = new BtError("BT_E_INTERRUPTED", "interrupted")): void {
    if (this.closed) return;
    this.closed = true;
    if (!this.settled) this.ending = reason;
    if (this.ticker) clearInterval(this.ticker);
    if (this.refillTimer) clearTimeout(this.refillTimer);
    this.perform({ type: "stop" });
    this.fail(reason);
  }

  /** get: finishing the output failed after the download (its final check or rename); the last report says so. */
  markFailed(err: unknown): void {
    this.ending ??= err;
  }

  /** get: the output is verified and in place. */
  markDone(): void {
    this.done = true;
  }

  /** What this get says of itself in a STATUS report now (options.reportAs names it); its rate is over the time since the last one. */
  statusReport(): NodeReport {
    const now = this.clock();
    const verifiedBytes = this.session.verifiedBytes;
    const seconds = (now - this.lastReport.at) / 1000;
    const rate = this.lastReport.at > 0 && seconds > 0 ? Math.max(0, verifiedBytes - this.lastReport.bytes) / seconds : 0;
    this.lastReport = { at: now, bytes: verifiedBytes };
    const ending = this.ending as { code?: string; message?: string } | null;
    const stopped = ending?.code === "BT_E_INTERRUPTED" || ending?.code === "BT_E_TERMINATED";
    const state: NodeState =
      ending ? (stopped ? "stopping" : "failed")
      : this.done ? "done"
      : this.complete ? "verifying"
      : this.session.bytesReceived === 0 ? "starting"
      : "downloading";
    const error = ending && !stopped ? { code: ending.code ?? "BT_E_INTERNAL", message: ending.message ?? String(ending) } : this.lastError;
    return {
      ...this.options.reportAs!,
      zone: this.options.network.zone,
      state,
      verifiedBytes,
      rateBytesPerSecond: state === "downloading" ? rate : 0,
      peers: this.connectedPeers,
      errorCode: error?.code ?? "",
      errorMessage: error?.message ?? "",
    };
  }

  // ---- connections ------------------------------------------------------------------

  private dial(address: PeerAddress): void {
    const label = peerLabel(address);
    dial(address, this.options.network, {
      connection: () => {
        const conn = new PeerConnection(label, { role: "initiator", hello: this.hello(), secret: this.options.network.secret, zone: this.options.network.zone }, this.handler, this.options.network.limits, this.clock);
        conn.context = { address: label };
        return conn;
      },
      opened: (conn) => this.perform({ type: "opened", connection: conn }),
      failed: (reason) => this.perform({ type: "dial-failed", label, reason }),
      cancelled: () => this.closed,
    });
  }

  private onReady(conn: PeerConnection): void {
    // Closed while it shook hands: it must not live on (its keepalives would hold the process open).
    if (this.closed) return conn.bye(WIRE_ERRORS.SHUTTING_DOWN, "shutting down");
    const remote = conn.remoteHello!;
    const context = (conn.context ?? {}) as { address?: string };
    const host = normalizeHost(conn.remoteAddress ?? "");
    const arrival = { peerId: remote.peerId, dialled: context.address, host, listenPort: remote.listenPort, label: conn.label, zone: conn.remoteZone };
    this.perform({ type: "arrived", connection: conn, arrival });
    this.report();
  }

  /** The arriving connection becomes a peer, with its Uploader. */
  private admit(conn: PeerConnection, key: string): void {
    const link: Link = {
      conn,
      uploader: new Uploader(conn, this.currentStore, this.options.uploadLimit, {
        sent: (bytes) => this.perform({ type: "upload-sent", peer: key, bytes }),
        ended: (chunk, outcome) => this.perform({ type: "upload-ended", peer: key, chunk, outcome }),
      }),
      assemblies: new Map(),
    };
    this.links.set(conn, link);
  }

  private onClose(conn: PeerConnection, info: CloseInfo): void {
    const link = this.links.get(conn);
    const context = (conn.context ?? {}) as { address?: string };
    const departure = { dialled: context.address, label: conn.label, code: info.code, reason: info.reason };
    if (link) {
      this.links.delete(conn);
      link.uploader.close();
      for (const chunk of [...link.assemblies.keys()]) this.dropAssembly(link, chunk);
    }
    this.perform({ type: "closed", connection: conn, departure });
    if (link) this.report();
  }

  // ---- events and the core's actions ------------------------------------------------

  private onMessage(conn: PeerConnection, message: Message): void {
    this.perform({ type: "message", connection: conn, message }, message.type === "PIECE" ? message.data : undefined);
  }

  /** Hands the core an event and carries out its actions in order; `block` is the PIECE data an `assemble` places. */
  private perform(event: SwarmEvent<PeerConnection>, block?: Uint8Array): void {
    for (const action of this.core.handle(event)) this.carryOut(action, block);
  }

  private carryOut(action: SwarmAction<PeerConnection>, block?: Uint8Array): void {
    switch (action.type) {
      case "log":
        if (action.event === "chunk-error") this.lastError = { code: "BT_E_VERIFY", message: chunkErrorLine(action.fields) };
        return this.options.logger.event(action.event, action.fields);
      case "wake":
        return this.wakeAfter(action.afterMs);
      case "write":
        return this.write(action.chunk);
      case "complete":
        return this.succeed();
      case "fail":
        return this.fail(action.error);
      case "linger-over":
        return this.resolveLingered();
      case "bye-all":
        return this.byeAll(action.code, action.reason);
      case "dial":
        return this.dial(action.address);
      case "admit":
        return this.admit(action.connection, action.key);
      case "refuse":
        if (action.peers.length > 0) action.connection.sendMessage({ type: "PEERS", peers: action.peers });
        return action.connection.bye(action.code, action.reason);
      case "send":
      case "assemble":
      case "discard":
      case "verify":
      case "close":
      case "bye":
      case "upload":
      case "stop-upload":
      case "check": {
        const conn = this.core.connections.get(action.peer);
        const link = conn && this.links.get(conn);
        if (link) this.carryOutOn(link, action, block);
        return;
      }
      default:
        unhandled(action);
    }
  }

  /** An action on one peer's connection. */
  private carryOutOn(link: Link, action: LinkAction, block?: Uint8Array): void {
    switch (action.type) {
      case "send":
        return link.conn.sendMessage(action.message);
      case "assemble":
        return this.assemble(link, action.chunk, action.offset, block!);
      case "discard":
        return this.dropAssembly(link, action.chunk);
      case "verify":
        return this.verify(link, action.peer, action.chunk);
      case "close":
        return link.conn.fail(action.code, action.reason);
      case "bye":
        return link.conn.bye(action.code, action.reason);
      case "upload":
        return link.uploader.send(action.chunk);
      case "stop-upload":
        return link.uploader.stop(action.chunk);
      case "check":
        return link.uploader.check(action.chunk);
      default:
        unhandled(action);
    }
  }

  /** Says BYE to every connection, those still shaking hands included. */
  private byeAll(code: number, reason: string): void {
    for (const conn of [...this.core.connections.all()]) conn.bye(code, reason);
  }

  private assemble(link: Link, chunk: number, offset: number, block: Uint8Array): void {
    let buffer = link.assemblies.get(chunk);
    if (!buffer) link.assemblies.set(chunk, (buffer = this.buffers.acquire(this.store.chunkLength(chunk))));
    buffer.set(block, offset);
  }

  private dropAssembly(link: Link, chunk: number): void {
    const buffer = link.assemblies.get(chunk);
    if (!buffer) return;
    link.assemblies.delete(chunk);
    this.buffers.release(buffer);
  }

  /**
   * Hashes a whole chunk and tells the session whether it matched. A short one is hashed
   * here, and written when the session says so: a trip to the pool and back costs more than
   * its bytes. A longer one is hashed and, when it matches, written on the pool in one trip
   * (ChunkStore.place), which leaves the event loop to the sockets.
   */
  private verify(link: Link, peer: string, chunk: number): void {
    const buffer = link.assemblies.get(chunk)!;
    link.assemblies.delete(chunk);
    const expected = this.options.pkg.chunkHashes.subarray(chunk * DIGEST_LENGTH, (chunk + 1) * DIGEST_LENGTH);
    const placed = buffer.length > LIMITS.inlineVerifyBytes;
    const hashed = placed
      ? this.verifyLimiter.run(() => this.store.place(chunk, buffer, expected)).finally(() => this.buffers.release(buffer))
      : Promise.resolve(hasher().hashChunks(buffer, buffer.length));
    this.track(
      chunk,
      hashed.then((digest) => {
        const good = equalBytes(digest, expected);
        if (good) this.verified.set(chunk, { buffer: placed ? null : buffer, digest });
        else if (!placed) this.buffers.release(buffer);
        this.perform({ type: "verified", peer, chunk, good });
      }),
    );
  }

  /** Writes a verified chunk (and the progress file), or records one already placed, then tells the session. */
  private write(chunk: number): void {
    const { buffer, digest } = this.verified.get(chunk)!;
    this.verified.delete(chunk);
    const stored = buffer ? this.store.commit(chunk, buffer, digest) : Promise.resolve().then(() => this.store.record(chunk, digest));
    const written = stored.then(() => {
      this.perform({ type: "written", chunk });
      this.collectReceiveGarbage(this.store.chunkLength(chunk));
      this.report();
    });
    this.track(chunk, buffer ? written.finally(() => this.buffers.release(buffer)) : written);
  }

  /** A hash or write job: a failing download waits for it; its error is the session's `chunkLost`. */
  private track(chunk: number, job: Promise<void>): void {
    const task = job.catch((error) => this.perform({ type: "lost", chunk, error }));
    this.landing.add(task);
    void task.finally(() => this.landing.delete(task));
  }

  /**
   * Every received block arrives in a fresh buffer from Bun, and the collector does not
   * count those bytes as pressure: at network speed they pile up to hundreds of MiB before
   * it runs. So every few MiB, or every 50 ms on a slow link, a cheap young-generation
   * collection; a full one only once the process has grown well past its size after the
   * last. A full collection also hands all free memory back to the system, and faulting it
   * in again cost more than the collection (one every 32 MiB took 115,000 page faults and
   * 40% of a 1 GiB get's time).
   */
  private collectReceiveGarbage(bytes: number): void {
    this.bytesSinceCollection += bytes;
    const now = this.clock();
    const due =
      this.bytesSinceCollection >= RECEIVE_BYTES_PER_COLLECTION ||
      (this.bytesSinceCollection >= RECEIVE_GARBAGE_MIN_BYTES && now - this.lastCollectionAt >= RECEIVE_GARBAGE_MAX_AGE_MS);
    if (!due) return;
    this.bytesSinceCollection = 0;
    this.lastCollectionAt = now;
    Bun.gc(false);
    if (process.memoryUsage.rss() < this.residentAfterFullCollection + RESIDENT_GROWTH_PER_FULL_COLLECTION) return;
    Bun.gc(true);
    this.residentAfterFullCollection = process.memoryUsage.rss();
  }

  // ---- timers -----------------------------------------------------------------------

  /** --max-download-rate: the session asks to be woken once a request is affordable again. */
  private wakeAfter(ms: number): void {
    this.refillTimer = setTimeout(() => {
      this.refillTimer = null;
      this.perform({ type: "wake" });
    }, ms);
  }

  private report(): void {
    this.options.onProgress?.(this.session.verifiedBytes, this.links.size);
  }

  private succeed(): void {
    if (this.settled) return;
    this.settled = true;
    this.resolveCompletion({
      receivedFrom: this.session.receivedFrom,
      seconds: (this.clock() - this.started) / 1000,
      requestLatencyMs: this.session.latency,
      inFlightPeak: this.session.inFlightPeak,
    });
  }

  /** The download stopped (the core said BYE to its peers): chunks already being written land, so the state stays true, then it rejects. */
  private fail(err: unknown): void {
    if (this.settled) return;
    this.ending ??= err;
    this.settled = true;
    this.closed = true;
    if (this.ticker) clearInterval(this.ticker);
    void Promise.allSettled([...this.landing]).then(() => this.rejectCompletion(err));
  }
}

/** A chunk-error event as one line: "chunk 3 from peer seed:7654: failed verification". */
function chunkErrorLine(fields: Record<string, unknown>): string {
  const from = fields.peer !== undefined ? ` from peer ${fields.peer}` : fields.file !== undefined ? ` of ${fields.file}` : "";
  return `chunk ${fields.chunk}${from}: ${fields.reason}`;
}

/** "::ffff:10.0.0.1" (an IPv4 peer on a dual-stack socket) -> "10.0.0.1". */
export function normalizeHost(host: string): string {
  return host.startsWith("::ffff:") && host.includes(".") ? host.slice(7) : host;
}
