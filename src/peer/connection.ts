import type { Socket } from "bun";
import { type ConnectionLimits, NET } from "../config.ts";
import { ProtocolError, WIRE_ERRORS, wireErrorName } from "../protocol/codes.ts";
import { FrameDecoder, PROTOCOL_VERSION } from "../protocol/frame.ts";
import { CAPABILITIES, decodeMessage, encodeMessage, type Hello, type Message } from "../protocol/messages.ts";
import { authProof, proofMatches } from "./auth.ts";
import { type Clock, systemClock } from "../util/clock.ts";

export interface CloseInfo {
  /** Wire error code (0 for a clean close). */
  code: number;
  reason: string;
  /** True when the remote side sent the ERROR/BYE or hung up; false when we closed. */
  byRemote: boolean;
}

export interface ConnectionHandler {
  /** The handshake finished; both HELLOs are known. */
  onReady(conn: PeerConnection): void;
  onMessage(conn: PeerConnection, message: Message): void;
  /** Everything queued has reached the kernel: a producer may send more. */
  onDrain(conn: PeerConnection): void;
  /** The connection started closing (it sent ERROR or BYE): nothing more is read from it. */
  onClosing(conn: PeerConnection): void;
  onClose(conn: PeerConnection, info: CloseInfo): void;
}

/**
 * How this side of the handshake behaves. The initiator sends its HELLO on connect and
 * expects the same root back; the acceptor waits for a HELLO and answers with the HELLO
 * that `accept` returns (or an ERROR when it throws a ProtocolError).
 */
export type HandshakeRole = (
  | { role: "initiator"; hello: Hello }
  | { role: "acceptor"; accept: (remote: Hello, conn: PeerConnection) => Hello }
) & {
  /** A shared cluster secret: both sides must prove they hold it (AUTH) before anything else. */
  secret: Uint8Array | null;
  /** Our zone (--zone), "" for none: told to a peer that speaks zones, whose own is awaited. */
  zone?: string;
};

/**
 * handshake: waiting for HELLO; auth: HELLOs exchanged, waiting for the peer's AUTH; zone:
 * waiting for the peer's ZONE (both HELLOs had CAPABILITIES.ZONES).
 */
type State = "handshake" | "auth" | "zone" | "ready" | "closing" | "closed";

const NO_NONCE = new Uint8Array(0);

/** Frames up to this size are gathered per event-loop turn (see send). */
const SMALL_FRAME_BYTES = 4096;

const sameBytes = (a: Uint8Array, b: Uint8Array) => a.length === b.length && a.every((x, i) => x === b[i]);

/**
 * One peer connection over a Bun socket: frame decoding, the handshake state machine,
 * a write queue that honours partial writes, timeouts and an orderly close.
 * Memory is bounded by the decoder's frame limit and by producers checking `backlog`.
 */
export class PeerConnection {
  private readonly decoder: FrameDecoder;
  private readonly queue: Uint8Array[] = [];
  private queued = 0;
  /** Small frames waiting to go out together at the end of this event-loop turn. */
  private outbox: Uint8Array[] = [];
  private outboxBytes = 0;
  private state: State = "handshake";
  private socket: Socket<PeerConnection> | null = null;
  /** The period of the timer group this connection is checked by (see watchTimers), 0 when in none. */
  private timerPeriod = 0;
  /** False once the peer has said it waits for nothing from us (see quiet()). */
  private keepalives = true;
  private readonly openedAt: number;
  private lastReceived: number;
  private lastSent: number;
  private closeInfo: CloseInfo | null = null;
  remoteHello: Hello | null = null;
  /** Ours, until the handshake is over. */
  private localHello: Hello | null = null;
  /** The peer's zone once ready: "" when it has none, null when it does not speak zones (an older bytetide). */
  remoteZone: string | null = null;
  /** Whatever the owner wants to attach (the package served, the peer's scheduler key). */
  context: unknown = null;

  constructor(
    readonly label: string,
    private readonly handshake: HandshakeRole,
    private readonly handler: ConnectionHandler,
    private readonly limits: ConnectionLimits,
    private readonly now: Clock = systemClock,
  ) {
    this.decoder = new FrameDecoder(limits.maxFramePayload);
    this.openedAt = this.lastReceived = this.lastSent = now();
  }

  get ready(): boolean {
    return this.state === "ready";
  }

  get closed(): boolean {
    return this.state === "closed";
  }

  /** Bytes accepted by send() that the kernel has not taken yet. */
  get backlog(): number {
    return this.queued;
  }

  get remoteAddress(): string | undefined {
    return this.socket?.remoteAddress;
  }

  attach(socket: Socket<PeerConnection>): void {
    this.socket = socket;
    PeerConnection.watchTimers(this, Math.min(1000, this.limits.handshakeTimeoutMs / 4, this.limits.idleTimeoutMs / 4));
    if (this.handshake.role === "initiator") {
      this.localHello = this.handshake.hello;
      this.send(encodeMessage(this.handshake.hello));
    }
  }

  /**
   * Queues bytes for the socket. A partially written buffer is kept, by reference, until
   * the rest is sent from drain: callers must not modify `bytes` while backlog > 0.
   * Small frames (HAVE, REQUEST, CANCEL, the PIECE of a tiny file...) are gathered and
   * written together once per event-loop turn: a swarm sends thousands of them, and a
   * syscall each costs more than the data. They are copied, since the caller may reuse its
   * buffer before the turn ends (the uploader reads the next block into the same frame).
   * Order is kept: a large frame first flushes what is gathered.
   */
  send(bytes: Uint8Array): void {
    if (this.state === "closed" || !this.socket) return;
    if (bytes.length <= SMALL_FRAME_BYTES) {
      if (this.outbox.length === 0) setImmediate(() => this.flushOutbox());
      this.outbox.push(bytes.slice());
      this.outboxBytes += bytes.length;
      return;
    }
    this.flushOutbox();
    this.write(bytes);
  }

  private flushOutbox(): void {
    if (this.outbox.length === 0) return;
    const gathered = this.outbox.length === 1 ? this.outbox[0]! : Buffer.concat(this.outbox, this.outboxBytes);
    this.outbox = [];
    this.outboxBytes = 0;
    if (this.state !== "closed") this.write(gathered);
  }

  private write(bytes: Uint8Array): void {
    if (!this.socket) return;
    this.lastSent = this.now();
    if (this.queue.length === 0) {
      const written = Math.max(0, this.socket.write(bytes));
      if (written === bytes.length) return;
      bytes = bytes.subarray(written);
    }
    this.queue.push(bytes);
    this.queued += bytes.length;
  }

  sendMessage(message: Message): void {
    this.send(encodeMessage(message));
  }

  /** Still reading frames: neither closing nor closed. */
  private get open(): boolean {
    return this.state === "handshake" || this.state === "auth" || this.state === "zone" || this.state === "ready";
  }

  onData(data: Uint8Array): void {
    if (!this.open) return;
    this.lastReceived = this.now();
    try {
      for (const frame of this.decoder.push(data)) {
        if (frame.version !== PROTOCOL_VERSION) {
          throw new ProtocolError(WIRE_ERRORS.VERSION, `peer speaks protocol version ${frame.version}; this bytetide speaks ${PROTOCOL_VERSION}`);
        }
        this.dispatch(decodeMessage(frame));
        if (!this.open) return;
      }
    } catch (err) {
      if (err instanceof ProtocolError) this.fail(err.code, err.message);
      else throw err;
    }
  }

  private dispatch(message: Message): void {
    if (message.type === "ERROR") return this.finish({ code: message.code, reason: `peer sent ${wireErrorName(message.code)}: ${message.message}`, byRemote: true });
    if (message.type === "BYE") return this.finish({ code: message.code, reason: "peer said goodbye", byRemote: true });
    if (message.type === "KEEPALIVE") return;
    if (this.state === "handshake") {
      if (message.type !== "HELLO") throw new ProtocolError(WIRE_ERRORS.UNEXPECTED, `${message.type} before HELLO`);
      this.remoteHello = message;
      // Checked before anything is sent back, so a peer without the secret gets only ERROR.
      const theyAuth = (message.capabilities & CAPABILITIES.AUTH) !== 0;
      if (this.handshake.secret && !theyAuth) throw new ProtocolError(WIRE_ERRORS.AUTH_FAILED, "this peer requires the shared secret (--secret-file)");
      if (!this.handshake.secret && theyAuth) throw new ProtocolError(WIRE_ERRORS.AUTH_FAILED, "the peer requires a shared secret (--secret-file) that this node was not given");
      if (this.handshake.role === "initiator") {
        if (!sameBytes(message.root, this.handshake.hello.root)) throw new ProtocolError(WIRE_ERRORS.UNEXPECTED, "HELLO answered with another package root");
      } else {
        this.localHello = this.handshake.accept(message, this);
        this.send(encodeMessage(this.localHello));
      }
      if (this.handshake.secret) {
        this.state = "auth";
        this.sendMessage({ type: "AUTH", proof: this.proof(this.handshake.role) });
        return;
      }
      return this.becomeReady();
    }
    if (this.state === "auth") {
      if (message.type !== "AUTH") throw new ProtocolError(WIRE_ERRORS.AUTH_FAILED, `${message.type} before AUTH`);
      const theirRole = this.handshake.role === "initiator" ? "acceptor" : "initiator";
      if (!proofMatches(this.proof(theirRole), message.proof)) throw new ProtocolError(WIRE_ERRORS.AUTH_FAILED, "the peer's proof does not match our shared secret");
      return this.becomeReady();
    }
    if (this.state === "zone") {
      if (message.type !== "ZONE") throw new ProtocolError(WIRE_ERRORS.UNEXPECTED, `${message.type} before ZONE`);
      this.remoteZone = message.zone;
      return this.enterReady();
    }
    if (message.type === "ZONE") throw new ProtocolError(WIRE_ERRORS.UNEXPECTED, "ZONE outside the handshake");
    if (message.type === "AUTH") throw new ProtocolError(WIRE_ERRORS.UNEXPECTED, "AUTH without a shared secret");
    if (message.type === "HELLO") throw new ProtocolError(WIRE_ERRORS.UNEXPECTED, "a second HELLO");
    this.handler.onMessage(this, message);
  }

  /** The HELLOs (and AUTH) are done: ready, once both sides that speak zones have told theirs. */
  private becomeReady(): void {
    const bothSpeakZones = (this.localHello!.capabilities & this.remoteHello!.capabilities & CAPABILITIES.ZONES) !== 0;
    if (bothSpeakZones) {
      this.state = "zone";
      return this.sendMessage({ type: "ZONE", zone: this.handshake.zone ?? "" });
    }
    this.enterReady();
  }

  private enterReady(): void {
    this.state = "ready";
    // Nothing reads our HELLO or the nonces once ready, and the two roots are equal (the
    // handshake made sure): a seed holding 10,000 connections keeps no copy of either.
    this.remoteHello = { ...this.remoteHello!, root: this.localHello!.root, nonce: NO_NONCE };
    this.localHello = null;
    this.handler.onReady(this);
  }

  /** The AUTH proof for `role`, bound to this connection's root and both nonces. */
  private proof(role: "initiator" | "acceptor"): Uint8Array {
    const initiator = this.handshake.role === "initiator" ? this.localHello! : this.remoteHello!;
    const acceptor = this.handshake.role === "initiator" ? this.remoteHello! : this.localHello!;
    return authProof(this.handshake.secret!, role, this.remoteHello!.root, initiator.nonce, acceptor.nonce);
  }

  onDrain(): void {
    if (!this.socket) return;
    while (this.queue.length > 0) {
      const head = this.queue[0]!;
      const written = Math.max(0, this.socket.write(head));
      this.queued -= written;
      if (written < head.length) {
        this.queue[0] = head.subarray(written);
        return;
      }
      this.queue.shift();
    }
    if (this.state === "closing") this.socket.end();
    else if (this.state === "ready") this.handler.onDrain(this);
  }

  /**
   * No more KEEPALIVEs from us: the peer sends on a schedule of its own and does not time us
   * out (a get's reports, docs/protocol.md "Reports"). A seed with 10,000 reporters would
   * otherwise write to each of them every 15 s for nothing.
   */
  quiet(): void {
    this.keepalives = false;
  }

  /** Sends ERROR(code) and closes once it is flushed. */
  fail(code: number, reason: string): void {
    if (!this.open) return;
    this.sendMessage({ type: "ERROR", code, message: reason });
    this.closeGracefully({ code, reason, byRemote: false });
  }

  /** Says BYE and closes once everything queued is flushed. */
  bye(code: number = WIRE_ERRORS.NONE, reason = "closed"): void {
    if (!this.open) return;
    this.sendMessage({ type: "BYE", code });
    this.closeGracefully({ code, reason, byRemote: false });
  }

  /** Drops the connection at once, without flushing. */
  destroy(reason: string): void {
    this.finish({ code: WIRE_ERRORS.NONE, reason, byRemote: false });
    this.socket?.terminate();
  }

  private closeGracefully(info: CloseInfo): void {
    this.closeInfo = info;
    this.flushOutbox();
    this.state = "closing";
    this.handler.onClosing(this);
    // Never end(data): Bun may drop data past a few MiB. Flush, then a bare end().
    if (this.queue.length === 0) this.socket?.end();
    setTimeout(() => this.state !== "closed" && this.socket?.terminate(), NET.closeFlushTimeoutMs).unref();
  }

  /** The socket is gone (closed by either side, or failed). */
  onSocketClosed(error?: Error): void {
    const reason = error ? `connection error: ${error.message}` : "peer closed the connection";
    this.finish(this.closeInfo ?? { code: WIRE_ERRORS.NONE, reason, byRemote: true });
  }

  private finish(info: CloseInfo): void {
    if (this.state === "closed") return;
    const wasClosing = this.state === "closing";
    this.state = "closed";
    PeerConnection.unwatchTimers(this);
    this.queue.length = 0;
    this.queued = 0;
    this.outbox = [];
    this.outboxBytes = 0;
    if (!wasClosing) this.socket?.end();
    this.handler.onClose(this, this.closeInfo ?? info);
  }

  /** Connections by the period of their timer checks, each group checked by one interval. */
  private static readonly timerGroups = new Map<number, { members: Set<PeerConnection>; interval: ReturnType<typeof setInterval> }>();

  /**
   * One interval per period for every connection, not one each: a seed with 10,000
   * reporting nodes holds 10,000 connections, and a timer each is 10,000 timer callbacks a
   * second (and their closures) for checks that mostly find nothing to do. A connection
   * that closes during a walk is skipped by it: a Set visits no member removed meanwhile.
   */
  private static watchTimers(conn: PeerConnection, periodMs: number): void {
    let group = PeerConnection.timerGroups.get(periodMs);
    if (!group) {
      const members = new Set<PeerConnection>();
      group = { members, interval: setInterval(() => members.forEach((member) => member.checkTimers()), periodMs) };
      PeerConnection.timerGroups.set(periodMs, group);
    }
    group.members.add(conn);
    conn.timerPeriod = periodMs;
  }

  private static unwatchTimers(conn: PeerConnection): void {
    const periodMs = conn.timerPeriod;
    const group = PeerConnection.timerGroups.get(periodMs);
    conn.timerPeriod = 0;
    if (!group?.members.delete(conn) || group.members.size > 0) return;
    clearInterval(group.interval);
    PeerConnection.timerGroups.delete(periodMs);
  }

  private checkTimers(): void {
    const now = this.now();
    const { handshakeTimeoutMs, idleTimeoutMs } = this.limits;
    if ((this.state === "handshake" || this.state === "auth" || this.state === "zone") && now - this.openedAt > handshakeTimeoutMs) {
      this.fail(WIRE_ERRORS.TIMEOUT, `no HELLO within ${handshakeTimeoutMs / 1000} s`);
    } else if (this.state === "ready" && now - this.lastReceived > idleTimeoutMs) {
      this.fail(WIRE_ERRORS.TIMEOUT, `nothing received for ${idleTimeoutMs / 1000} s`);
    } else if (this.keepalives && this.state === "ready" && now - this.lastSent > Math.min(NET.keepaliveIntervalMs, idleTimeoutMs / 3) && this.queue.length === 0) {
      this.sendMessage({ type: "KEEPALIVE" });
    }
  }
}

/** Socket handlers that route Bun's callbacks to the PeerConnection in socket.data. */
export const connectionSocketHandlers = {
  // Not Buffers (Bun's default): a Buffer's slice() is a view, so every field a decoder
  // "copied" out of a frame would keep the whole received block alive; a seed holding
  // 10,000 connections kept one block each for the HELLO's root and peer id.
  binaryType: "uint8array" as const,
  data(socket: Socket<PeerConnection>, data: Uint8Array) {
    socket.data.onData(data);
  },
  drain(socket: Socket<PeerConnection>) {
    socket.data.onDrain();
  },
  close(socket: Socket<PeerConnection>, error?: Error) {
    socket.data.onSocketClosed(error);
  },
  error(socket: Socket<PeerConnection>, error: Error) {
    socket.data.onSocketClosed(error);
  },
  handshake(socket: Socket<PeerConnection>, success: boolean, error: Error | null) {
    if (!success) socket.data.destroy(`TLS handshake failed: ${error?.message ?? "unknown error"}`);
  },
};
