import type { Socket } from "bun";
import { randomBytes } from "node:crypto";
import { LIMITS, NET } from "../config.ts";
import { BtError } from "../errors.ts";
import { DIGEST_LENGTH, hasher } from "../hash/index.ts";
import { type CloseInfo, type ConnectionHandler, connectionSocketHandlers, PeerConnection } from "../peer/connection.ts";
import { equalBytes } from "../pkg/format.ts";
import type { Package } from "../pkg/model.ts";
import { WIRE_ERRORS, wireErrorName } from "../protocol/codes.ts";
import { type Message, PEER_ID_LENGTH } from "../protocol/messages.ts";
import type { Output } from "../storage/output.ts";
import { Bitset } from "../util/bitset.ts";
import { Limiter } from "../util/bounded.ts";
import { Histogram } from "../util/histogram.ts";
import type { Logger } from "../util/log.ts";
import { ChunkBuffers } from "./buffers.ts";
import { defaultSchedulerConfig, Scheduler } from "./scheduler.ts";

export interface PeerAddress {
  host: string;
  port: number;
}

export const peerLabel = (a: PeerAddress): string => (a.host.includes(":") ? `[${a.host}]:${a.port}` : `${a.host}:${a.port}`);

export interface DownloadOptions {
  pkg: Package;
  output: Output;
  peers: PeerAddress[];
  requestsPerPeer: number;
  /** With no usable peer, keep retrying this long before giving up. */
  retryForMs: number;
  logger: Logger;
  onProgress?: (verifiedBytes: number, connectedPeers: number) => void;
  /** Aborting stops the download; it then fails with BT_E_INTERRUPTED once writes in progress land. */
  signal?: AbortSignal;
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

type LinkState = "idle" | "connecting" | "connected" | "banned" | "gone";

/** One configured peer: its connection (if any), its partly received chunks, its history. */
interface PeerLink {
  label: string;
  address: PeerAddress;
  state: LinkState;
  conn: PeerConnection | null;
  failures: number;
  lastError: string;
  assemblies: Map<number, { buffer: Uint8Array; received: number }>;
  /** Chunks we cancelled: late PIECEs of them are expected and dropped. */
  cancelled: Set<number>;
  /** When each open request was sent. */
  requestedAt: Map<number, number>;
  verifiedBytes: number;
}

const REDIAL_DELAYS_MS = [250, 500, 1000, 2000];
const RECEIVE_BYTES_PER_COLLECTION = 4 * 1024 * 1024;
const COLLECTIONS_PER_FULL_COLLECTION = 8;

/**
 * Fetches every missing chunk of a package from a set of peers: pipelined requests picked
 * by the scheduler, each chunk verified off the JS thread before it is written, failed and
 * lost requests rescheduled, misbehaving peers dropped. All state changes happen in the
 * event handlers below, on the JS thread, through the one Scheduler.
 */
export function download(options: DownloadOptions): Promise<DownloadResult> {
  return new Promise((resolve, reject) => new Download(options, resolve, reject).start());
}

class Download {
  private readonly scheduler: Scheduler;
  private readonly buffers: ChunkBuffers;
  private readonly links = new Map<string, PeerLink>();
  private readonly verifyLimiter = new Limiter(LIMITS.hashJobsInFlight);
  private readonly landing = new Set<Promise<void>>();
  private readonly peerId = randomBytes(PEER_ID_LENGTH);
  private readonly started = performance.now();
  private watchdog: ReturnType<typeof setInterval> | null = null;
  private stuckSince: number | null = null;
  private lastBad: { chunk: number; peer: string } | null = null;
  private verifiedBytes = 0;
  private bytesSinceCollection = 0;
  private collections = 0;
  private readonly latency = new Histogram();
  private inFlightPeak = 0;
  private finished = false;

  constructor(
    private readonly options: DownloadOptions,
    private readonly resolve: (r: DownloadResult) => void,
    private readonly reject: (e: unknown) => void,
  ) {
    const { pkg, output, requestsPerPeer } = options;
    const chunkCount = pkg.chunkHashes.length / DIGEST_LENGTH;
    const maxChunksInMemory = Math.max(2, Math.floor(NET.maxBufferedChunkBytes / pkg.chunkSize));
    this.scheduler = new Scheduler(
      defaultSchedulerConfig(chunkCount, { requestsPerPeer, maxChunksInMemory, maxBadChunksPerPeer: NET.maxBadChunksPerPeer }),
      output.verified,
    );
    this.buffers = new ChunkBuffers(pkg.chunkSize, maxChunksInMemory);
    for (const c of output.verified.members()) this.verifiedBytes += output.files.chunkLength(c);
  }

  start(): void {
    if (this.scheduler.complete) return this.succeed();
    if (this.options.signal?.aborted) return this.fail(interrupted());
    this.options.signal?.addEventListener("abort", () => this.fail(interrupted()), { once: true });
    for (const address of this.options.peers) {
      const label = peerLabel(address);
      if (this.links.has(label)) continue;
      const link: PeerLink = { label, address, state: "idle", conn: null, failures: 0, lastError: "", assemblies: new Map(), cancelled: new Set(), requestedAt: new Map(), verifiedBytes: 0 };
      this.links.set(label, link);
      this.dial(link);
    }
    this.watchdog = setInterval(() => this.checkProgressPossible(), 250);
    this.report();
  }

  private dial(link: PeerLink): void {
    if (this.finished) return;
    link.state = "connecting";
    const conn = new PeerConnection(
      link.label,
      { role: "initiator", hello: { type: "HELLO", root: this.options.pkg.root, peerId: this.peerId, listenPort: 0, capabilities: 0 } },
      this.handlerFor(link),
    );
    let opened = false;
    const timer = setTimeout(() => !opened && this.onConnectFailed(link, `no connection within ${NET.connectTimeoutMs / 1000} s`), NET.connectTimeoutMs);
    Bun.connect<PeerConnection>({
      hostname: link.address.host,
      port: link.address.port,
      data: conn,
      socket: {
        ...connectionSocketHandlers,
        open: (socket) => {
          opened = true;
          clearTimeout(timer);
          if (this.finished || link.state !== "connecting") return void socket.terminate();
          link.conn = conn;
          conn.attach(socket as Socket<PeerConnection>);
        },
      },
    }).catch((err: Error) => {
      clearTimeout(timer);
      if (!opened) this.onConnectFailed(link, err.message);
    });
  }

  private onConnectFailed(link: PeerLink, reason: string): void {
    if (link.state !== "connecting") return;
    link.lastError = reason;
    this.options.logger.event("peer-unreachable", { peer: link.label, reason });
    this.redialLater(link);
  }

  private redialLater(link: PeerLink): void {
    link.state = "idle";
    if (this.finished) return;
    const delay = REDIAL_DELAYS_MS[Math.min(link.failures, REDIAL_DELAYS_MS.length - 1)]!;
    link.failures++;
    setTimeout(() => link.state === "idle" && this.dial(link), delay);
  }

  private handlerFor(link: PeerLink): ConnectionHandler {
    return {
      onReady: (conn) => {
        link.state = "connected";
        link.failures = 0;
        this.scheduler.addPeer(link.label);
        this.options.logger.event("peer-connected", { peer: conn.label });
      },
      onMessage: (conn, message) => this.onMessage(link, conn, message),
      onDrain: () => {},
      onClose: (conn, info) => this.onClose(link, conn, info),
    };
  }

  private onMessage(link: PeerLink, conn: PeerConnection, message: Message): void {
    const chunkCount = this.scheduler.config.chunkCount;
    switch (message.type) {
      case "BITFIELD": {
        const problem = Bitset.problem(chunkCount, message.bits);
        if (problem) return conn.fail(WIRE_ERRORS.BAD_FRAME, problem);
        this.scheduler.setBitfield(link.label, new Bitset(chunkCount, message.bits.slice()));
        return this.fill(link);
      }
      case "HAVE":
        if (message.index >= chunkCount) return conn.fail(WIRE_ERRORS.OUT_OF_RANGE, `HAVE for chunk ${message.index} of ${chunkCount}`);
        this.scheduler.peerHas(link.label, message.index);
        return this.fill(link);
      case "PIECE":
        return this.onPiece(link, conn, message);
      case "REJECT": {
        this.dropAssembly(link, message.index);
        link.requestedAt.delete(message.index);
        const gone = message.code === WIRE_ERRORS.NOT_AVAILABLE || message.code === WIRE_ERRORS.READ_FAILED;
        if (message.code === WIRE_ERRORS.READ_FAILED) this.options.logger.event("peer-read-failed", { peer: link.label, chunk: message.index });
        this.scheduler.rejected(link.label, message.index, !gone);
        return this.fillAll();
      }
      case "REQUEST":
        // This download does not serve (yet); say so instead of leaving the peer waiting.
        return conn.sendMessage({ type: "REJECT", index: message.index, code: WIRE_ERRORS.NOT_AVAILABLE });
      case "CANCEL":
        return;
    }
  }

  private onPiece(link: PeerLink, conn: PeerConnection, piece: Extract<Message, { type: "PIECE" }>): void {
    const { index, offset, data } = piece;
    if (!this.scheduler.isRequested(link.label, index)) {
      if (link.cancelled.has(index) || this.scheduler.have.has(index)) return;
      return conn.fail(WIRE_ERRORS.UNEXPECTED, `PIECE for chunk ${index}, which was not requested`);
    }
    const length = this.options.output.files.chunkLength(index);
    let a = link.assemblies.get(index);
    if (!a) link.assemblies.set(index, (a = { buffer: this.buffers.acquire(length), received: 0 }));
    if (offset !== a.received || a.received + data.length > length) {
      return conn.fail(WIRE_ERRORS.BAD_FRAME, `PIECE of chunk ${index} at offset ${offset} (+${data.length}), expected offset ${a.received} of ${length}`);
    }
    a.buffer.set(data, offset);
    a.received += data.length;
    if (a.received < length) return;
    link.assemblies.delete(index);
    const sentAt = link.requestedAt.get(index);
    link.requestedAt.delete(index);
    if (sentAt !== undefined) this.latency.add(performance.now() - sentAt);
    const wanted = this.scheduler.wanted(index);
    this.scheduler.received(link.label, index);
    if (wanted) this.land(link, index, a.buffer);
    else this.buffers.release(a.buffer);
    this.fill(link);
  }

  /** Verifies a received chunk off the JS thread, then writes and records it. */
  private land(link: PeerLink, chunk: number, buffer: Uint8Array): void {
    const expected = this.options.pkg.chunkHashes.subarray(chunk * DIGEST_LENGTH, (chunk + 1) * DIGEST_LENGTH);
    const task = this.verifyLimiter
      .run(() => hasher().hashChunksAsync(buffer, buffer.length))
      .then(async (digest) => {
        if (!equalBytes(digest, expected)) return this.onBadChunk(link, chunk);
        await this.options.output.commit(chunk, buffer, digest);
        this.onCommitted(link, chunk, buffer.length);
      })
      .catch((err) => {
        this.scheduler.abandoned(chunk);
        this.fail(err);
      });
    this.landing.add(task);
    void task.finally(() => {
      this.landing.delete(task);
      this.buffers.release(buffer);
    });
  }

  private onCommitted(link: PeerLink, chunk: number, length: number): void {
    for (const other of this.scheduler.committed(chunk)) {
      const o = this.links.get(other)!;
      o.cancelled.add(chunk);
      o.requestedAt.delete(chunk);
      this.dropAssembly(o, chunk);
      o.conn?.sendMessage({ type: "CANCEL", index: chunk });
    }
    link.verifiedBytes += length;
    this.verifiedBytes += length;
    this.collectReceiveGarbage(length);
    this.report();
    if (this.scheduler.complete) return this.succeed();
    this.fillAll();
  }

  /**
   * Every received block arrives in a fresh buffer from Bun, and the collector does not
   * count those bytes as pressure: at network speed they pile up to hundreds of MiB before
   * it runs. So every few MiB a cheap young-generation collection, and every so often a full
   * one (a full one every time would cost a third of the throughput).
   */
  private collectReceiveGarbage(bytes: number): void {
    this.bytesSinceCollection += bytes;
    if (this.bytesSinceCollection < RECEIVE_BYTES_PER_COLLECTION) return;
    this.bytesSinceCollection = 0;
    this.collections++;
    Bun.gc(this.collections % COLLECTIONS_PER_FULL_COLLECTION === 0);
  }

  private onBadChunk(link: PeerLink, chunk: number): void {
    const drop = this.scheduler.failed(link.label, chunk);
    this.lastBad = { chunk, peer: link.label };
    this.options.logger.event("chunk-error", { chunk, peer: link.label, reason: "failed verification", action: drop ? "dropping peer" : "re-requesting" });
    if (drop && link.conn) {
      link.state = "banned";
      link.lastError = `sent ${this.scheduler.config.maxBadChunksPerPeer} chunks that failed verification`;
      link.conn.fail(WIRE_ERRORS.BAD_DATA, `chunk ${chunk} failed verification; too many bad chunks`);
    }
    this.fillAll();
  }

  private onClose(link: PeerLink, conn: PeerConnection, info: CloseInfo): void {
    this.scheduler.removePeer(link.label);
    for (const chunk of [...link.assemblies.keys()]) this.dropAssembly(link, chunk);
    link.requestedAt.clear();
    link.conn = null;
    const code = info.code ? wireErrorName(info.code) : undefined;
    this.options.logger.event(link.state === "banned" ? "peer-banned" : "peer-disconnected", { peer: conn.label, code, reason: info.reason });
    if (this.finished) return;
    if (link.state !== "banned") {
      link.lastError = info.reason;
      if (info.code === WIRE_ERRORS.UNKNOWN_PACKAGE) link.state = "gone";
      else this.redialLater(link);
    }
    this.fillAll();
    this.checkProgressPossible();
  }

  private dropAssembly(link: PeerLink, chunk: number): void {
    const a = link.assemblies.get(chunk);
    if (!a) return;
    link.assemblies.delete(chunk);
    this.buffers.release(a.buffer);
  }

  private fill(link: PeerLink): void {
    if (this.finished || !link.conn?.ready) return;
    const now = performance.now();
    for (const chunk of this.scheduler.nextRequests(link.label)) {
      link.cancelled.delete(chunk);
      link.requestedAt.set(chunk, now);
      link.conn.sendMessage({ type: "REQUEST", index: chunk });
    }
    this.inFlightPeak = Math.max(this.inFlightPeak, this.scheduler.openRequestCount);
  }

  private fillAll(): void {
    for (const link of this.links.values()) this.fill(link);
  }

  /**
   * Gives up when nothing can move: no peer left worth dialling, or for retryForMs no peer
   * connected, or peers connected but nothing requested or landing.
   */
  private checkProgressPossible(): void {
    if (this.finished) return;
    const links = [...this.links.values()];
    if (links.every((l) => l.state === "banned" || l.state === "gone")) return this.fail(this.noPeersError());
    const moving = links.some((l) => l.state === "connected" && this.scheduler.requestsOf(l.label).size > 0) || this.landing.size > 0;
    if (moving) {
      this.stuckSince = null;
      return;
    }
    this.stuckSince ??= Date.now();
    if (Date.now() - this.stuckSince > this.options.retryForMs) this.fail(this.noPeersError());
  }

  private noPeersError(): BtError {
    const missing = this.scheduler.config.chunkCount - this.scheduler.have.count;
    const saved = `progress saved: ${this.scheduler.have.count} of ${this.scheduler.config.chunkCount} chunks verified`;
    if (this.lastBad) {
      return new BtError(
        "BT_E_VERIFY",
        `chunk ${this.lastBad.chunk} from peer ${this.lastBad.peer} failed verification and no other peer could supply it (${missing} chunks missing; ${saved})`,
      );
    }
    const reasons = [...this.links.values()].map((l) => `${l.label}: ${l.lastError || l.state}`).join("; ");
    return new BtError("BT_E_NO_PEERS", `no peer could supply the ${missing} missing chunks (${reasons}); ${saved}`);
  }

  private report(): void {
    const connected = [...this.links.values()].filter((l) => l.state === "connected").length;
    this.options.onProgress?.(this.verifiedBytes, connected);
  }

  private stop(): void {
    this.finished = true;
    if (this.watchdog) clearInterval(this.watchdog);
    for (const link of this.links.values()) link.conn?.bye(WIRE_ERRORS.NONE, "download finished");
  }

  private succeed(): void {
    if (this.finished) return;
    this.stop();
    const receivedFrom = new Map([...this.links.values()].map((l) => [l.label, l.verifiedBytes]));
    this.resolve({ receivedFrom, seconds: (performance.now() - this.started) / 1000, requestLatencyMs: this.latency, inFlightPeak: this.inFlightPeak });
  }

  /** Stops, lets chunks already being written land (so the state stays true), then rejects. */
  private fail(err: unknown): void {
    if (this.finished) return;
    this.stop();
    void Promise.allSettled([...this.landing]).then(() => this.reject(err));
  }
}

const interrupted = () => new BtError("BT_E_INTERRUPTED", "interrupted");
