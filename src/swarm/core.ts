import { NET } from "../config.ts";
import { WIRE_ERRORS } from "../protocol/codes.ts";
import type { Message } from "../protocol/messages.ts";
import type { Bitset } from "../util/bitset.ts";
import { AddressBook, type PeerAddress } from "./address-book.ts";
import { ConnectionTable } from "./connections.ts";
import { lingerOver } from "./linger.ts";
import { Outbox } from "./outbox.ts";
import { type PeerArrival, type PeerDeparture, type PeersAction, PeersSession } from "./peers-session.ts";
import type { SchedulerConfig } from "./scheduler.ts";
import { DownloadSession, type RequestBudget, type SessionAction } from "./session.ts";
import { type UploadAction, type UploadOutcome, UploadSession } from "./upload-session.ts";

/**
 * What happens to a node, as its adapter reports it. What a connection does names the
 * adapter's own handle (`connection`), which the core looks up in its table; what answers
 * an action names the action's `peer` key, which outlives the connection.
 */
export type SwarmEvent<C> =
  /** The node starts, told of these addresses (get --peer). */
  | { type: "start"; bootstrap: PeerAddress[] }
  /** Every TICK_MS. */
  | { type: "tick" }
  /** The time a `wake` action asked for has passed. */
  | { type: "wake" }
  /** The node is closing: no more requests or dialling. */
  | { type: "stop" }
  | { type: "dial-failed"; label: string; reason: string }
  /** A connection we dialled began its handshake (one that arrives is known from `arrived`). */
  | { type: "opened"; connection: C }
  /** A connection finished its handshake. */
  | { type: "arrived"; connection: C; arrival: PeerArrival }
  /** A message on a connection (PIECE with its data). */
  | { type: "message"; connection: C; message: Message }
  /** PIECE bytes on a connection, when the adapter moves no data (the simulator). */
  | { type: "piece"; connection: C; chunk: number; offset: number; bytes: number }
  /** The connection started closing: nothing it sends from now on is read. */
  | { type: "leaving"; connection: C }
  /** The connection is gone, whether or not it had been admitted. */
  | { type: "closed"; connection: C; departure: Omit<PeerDeparture, "peer"> }
  /** The hash of a chunk that `verify` named matched or did not. */
  | { type: "verified"; peer: string; chunk: number; good: boolean }
  /** A chunk that `write` named is on disk. */
  | { type: "written"; chunk: number }
  /** Hashing or writing the chunk failed for a reason that is not the peer's. */
  | { type: "lost"; chunk: number; error: unknown }
  /** A block of a chunk that `upload` named went out. */
  | { type: "upload-sent"; peer: string; bytes: number }
  /** A chunk that `upload` named is done with. */
  | { type: "upload-ended"; peer: string; chunk: number; outcome: UploadOutcome };

/** What the node's adapter carries out, in order: the three sessions' actions, and the core's own. */
export type SwarmAction<C> =
  | Exclude<SessionAction, { type: "ban" }>
  | Exclude<PeersAction, { type: "admit" | "refuse" }>
  | UploadAction
  /** The arriving connection is a peer from now on, under this key. */
  | { type: "admit"; connection: C; key: string }
  /** Send PEERS (when `peers` lists any) and then BYE(code) to the arriving connection: it does not become a peer. */
  | ({ connection: C } & Extract<PeersAction, { type: "refuse" }>)
  /** Say BYE(code) to every connection in the core's table (`connections`), those still shaking hands too. */
  | { type: "bye-all"; code: number; reason: string }
  /** A finished get has served long enough (linger.ts): the node may go. */
  | { type: "linger-over" };

export interface SwarmCoreConfig {
  /** The scheduler's config: its `now` and `random` are the node's clock and randomness. */
  scheduler: SchedulerConfig;
  /** The chunks held at the start (the store's bitset, which the adapter keeps up to date as it writes). */
  have: Bitset;
  /** get --only: the chunks to fetch; the rest are neither requested nor offered. Default: all. */
  wanted?: Bitset;
  /** --retry-for: with no progress possible, keep trying this long before failing. */
  retryForMs: number;
  /** --max-download-rate. */
  downloadLimit: RequestBudget | null;
  /** get --log-requests. */
  logRequests: boolean;
  /** --max-peers for the package. */
  maxPeers: number;
  ourId: Uint8Array;
  /** --zone: "" for none. */
  zone: string;
  /** Super-seed once complete (superseed.ts): `serve` does, `get` does not. */
  superSeeding: boolean;
  /** Whether a chunk can be served now: held, and not known to be damaged. */
  available: (chunk: number) => boolean;
  /** --linger: how long a finished get serves at most (linger.ts); Infinity never goes (serve). */
  lingerMs: number;
}

/**
 * One node's place in one package's swarm, as one synchronous state machine: it builds the
 * download, upload and peers sessions, takes every event the node's adapter reports and
 * returns what to do, routing each event to the session whose rule it is and carrying out
 * what the sessions ask of one another (a ban, an admission, completion, a failure). The
 * real node (node.ts), the simulator's node (sim-node.ts) and the tests' adapters each
 * keep only an exhaustive perform() of these actions, so they all run the same rules.
 */
export class SwarmCore<C> {
  readonly book = new AddressBook(NET.maxKnownPeers);
  /** Every connection and where it stands: the adapter finds here the connection a keyed action is for. */
  readonly connections = new ConnectionTable<C>();
  readonly download: DownloadSession;
  readonly upload: UploadSession;
  readonly peers: PeersSession;
  /** When the download completed, on the node's clock. */
  completedAt = Number.NaN;
  private lingering = true;
  private readonly out = new Outbox<SwarmAction<C>>();

  constructor(private readonly config: SwarmCoreConfig) {
    this.download = new DownloadSession(
      {
        scheduler: config.scheduler,
        retryForMs: config.retryForMs,
        downloadLimit: config.downloadLimit,
        logRequests: config.logRequests,
        wanted: config.wanted,
        addresses: this.book,
        askable: (peer) => this.connections.isActive(peer),
      },
      config.have,
    );
    this.upload = new UploadSession(this.download, config.superSeeding, config.available);
    this.peers = new PeersSession(this.download, this.book, { maxPeers: config.maxPeers, ourId: config.ourId, zone: config.zone });
  }

  get complete(): boolean {
    return this.download.complete;
  }

  handle(event: SwarmEvent<C>): readonly SwarmAction<C>[] {
    const { download, upload, peers } = this;
    switch (event.type) {
      case "start":
        this.fromPeers(peers.start(event.bootstrap));
        this.fromDownload(download.start());
        break;
      case "tick":
        this.fromDownload(download.tick());
        this.fromPeers(peers.tick());
        this.checkLinger();
        break;
      case "wake":
        this.fromDownload(download.wake());
        break;
      case "stop":
        peers.stop();
        download.stop();
        this.out.push({ type: "bye-all", code: WIRE_ERRORS.SHUTTING_DOWN, reason: "shutting down" });
        break;
      case "dial-failed":
        this.fromPeers(peers.dialFailed(event.label, event.reason));
        break;
      case "opened":
        this.connections.opened(event.connection);
        break;
      case "arrived":
        this.connections.opened(event.connection);
        this.fromPeers(peers.arrived(event.arrival), event.connection);
        break;
      case "message": {
        // A connection still shaking hands, or closing, is not read (PeerConnection stops at ERROR or BYE).
        const peer = this.connections.activeKey(event.connection);
        if (peer !== null) this.received(peer, event.message);
        break;
      }
      case "piece": {
        const peer = this.connections.activeKey(event.connection);
        if (peer !== null) this.fromDownload(download.piece(peer, event.chunk, event.offset, event.bytes));
        break;
      }
      case "leaving":
        this.connections.leaving(event.connection);
        break;
      case "closed": {
        const peer = this.connections.closed(event.connection);
        if (peer !== null) this.fromUpload(upload.peerClosed(peer));
        const closed = peer !== null ? download.peerClosed(peer) : null;
        this.fromPeers(peers.closed({ ...event.departure, peer }));
        if (closed) this.fromDownload(closed);
        break;
      }
      case "verified":
        this.fromDownload(download.chunkVerified(event.peer, event.chunk, event.good));
        break;
      case "written":
        this.fromDownload(download.chunkWritten(event.chunk));
        break;
      case "lost":
        this.fromDownload(download.chunkLost(event.chunk, event.error));
        break;
      case "upload-sent":
        upload.sent(event.peer, event.bytes);
        break;
      case "upload-ended":
        this.fromUpload(upload.uploadEnded(event.peer, event.chunk, event.outcome));
        break;
      default:
        unhandled(event);
    }
    return this.out.drain();
  }

  private received(peer: string, message: Message): void {
    const { download, upload, peers } = this;
    switch (message.type) {
      case "BITFIELD":
        return this.fromDownload(download.bitfield(peer, message.bits));
      case "HAVE":
        return this.fromDownload(download.have(peer, message.index));
      case "PIECE":
        return this.fromDownload(download.piece(peer, message.index, message.offset, message.data.length));
      case "REJECT":
        return this.fromDownload(download.rejected(peer, message.index, message.code));
      case "REQUEST":
        return this.fromUpload(upload.requested(peer, message.index));
      case "CANCEL":
        return this.fromUpload(upload.cancelled(peer, message.index));
      case "PEERS":
        return this.fromPeers(peers.peersReceived(peer, message.peers));
      default:
        // The handshake, keepalives, BYE and ERROR are the connection's (PeerConnection).
        return;
    }
  }

  private fromDownload(actions: readonly SessionAction[]): void {
    for (const action of actions) {
      if (action.type === "ban") this.peers.banned(action.peer, action.reason);
      else if (action.type === "complete") {
        this.completedAt = this.config.scheduler.now();
        this.peers.finished();
        this.out.push(action);
      } else if (action.type === "fail") {
        // A failed download serves no more: its peers hear BYE, no dialling.
        this.peers.finished();
        this.peers.stop();
        this.out.push(action);
        this.out.push({ type: "bye-all", code: WIRE_ERRORS.NONE, reason: "download stopped" });
      } else this.out.push(action);
    }
  }

  private fromPeers(actions: readonly PeersAction[], arriving?: C): void {
    for (const action of actions) {
      if (action.type === "admit") {
        const { key, name, far, rank } = action;
        this.connections.admitted(arriving!, key);
        this.out.push({ type: "admit", connection: arriving!, key });
        this.upload.peerConnected(key, name, far);
        this.fromDownload(this.download.peerConnected(key, name, far, rank));
      } else if (action.type === "refuse") this.out.push({ ...action, connection: arriving! });
      else this.out.push(action);
    }
  }

  private fromUpload(actions: readonly UploadAction[]): void {
    for (const action of actions) this.out.push(action);
  }

  /** A finished get goes once it has served long enough (linger.ts); a failed one has gone already. */
  private checkLinger(): void {
    if (!this.lingering || !this.complete) return;
    const now = this.config.scheduler.now();
    const { lastRequestAt } = this.upload;
    if (!lingerOver({ now, completedAt: this.completedAt, maxMs: this.config.lingerMs, lastRequestAt, lastHaveAt: this.download.lastHaveAt, uploading: this.upload.busy })) return;
    this.lingering = false;
    this.out.push({ type: "linger-over" });
  }

}

/** A compile-time check that a switch covers every case. */
export function unhandled(value: never): never {
  throw new Error(`unhandled: ${JSON.stringify(value)}`);
}
