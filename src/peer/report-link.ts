import type { NetworkPolicy } from "../config.ts";
import { WIRE_ERRORS } from "../protocol/codes.ts";
import { CAPABILITIES, type Message } from "../protocol/messages.ts";
import { MAX_REPORT_INTERVAL_MS, type PackageReport, REPORT_INTERVAL_MS } from "../protocol/status.ts";
import { type PeerAddress, peerLabel } from "../swarm/address-book.ts";
import { type ConnectionHandler, PeerConnection } from "./connection.ts";
import { catalogueHello } from "./catalogue-client.ts";
import { dial } from "./dial.ts";

/** A report connection that closed is opened again after this long, doubling up to MAX_REDIAL_MS. */
const REDIAL_MS = 2_000;
const MAX_REDIAL_MS = 30_000;
/** How long a get waits at most for its last report to leave. */
const LAST_REPORT_WAIT_MS = 1_000;

/**
 * A report connection never times its seed out for silence: the seed sends nothing but an
 * occasional REPORT_PACE once it has a report (no KEEPALIVE either, docs/protocol.md), and
 * a seed that is gone shows as a failed write of the next report, which redials.
 */
const reportLimits = (network: NetworkPolicy) => ({ ...network.limits, idleTimeoutMs: Number.POSITIVE_INFINITY });

/**
 * A get's reports to one seed, on a catalogue connection (a HELLO that names no package,
 * docs/protocol.md) of their own: a seed admits at most --max-peers peers per package, and
 * must hear from every node all the same. Every REPORT_INTERVAL_MS, or at the slower pace
 * the seed asks for (REPORT_PACE, at most MAX_REPORT_INTERVAL_MS), it sends what `current`
 * gives; `last` sends one more and says BYE. A seed that keeps no reports (its HELLO lacks
 * CAPABILITIES.REPORTS) is let go and not asked again; one that is away or closes is
 * redialled with back-off. Nothing here holds the download up.
 */
export class ReportLink {
  private conn: PeerConnection | null = null;
  private ready = false;
  private timer: ReturnType<typeof setInterval> | null = null;
  private redialTimer: ReturnType<typeof setTimeout> | null = null;
  private redialMs = REDIAL_MS;
  /** last() was called, or the seed keeps no reports: nothing more is sent. */
  private over = false;
  /** Resolves when the current connection closes (last() waits on it). */
  private closed: (() => void) | null = null;
  /** How often the current connection reports: REPORT_INTERVAL_MS, or the pace its seed asked. */
  private intervalMs = REPORT_INTERVAL_MS;

  /** followPace false: keeps REPORT_INTERVAL_MS whatever the seed asks (bench/reports.ts, to load a seed at the full rate). */
  constructor(
    private readonly address: PeerAddress,
    private readonly network: NetworkPolicy,
    private readonly current: () => PackageReport,
    private readonly followPace = true,
  ) {}

  start(): void {
    this.connect();
    this.timer = setInterval(() => this.send(), this.intervalMs);
  }

  /** The seed asked for another pace: taken within REPORT_INTERVAL_MS...MAX_REPORT_INTERVAL_MS. */
  private paceAsked(askedMs: number): void {
    if (this.followPace) this.keepPace(Math.min(MAX_REPORT_INTERVAL_MS, Math.max(REPORT_INTERVAL_MS, askedMs)));
  }

  private keepPace(intervalMs: number): void {
    if (!this.timer || intervalMs === this.intervalMs) return;
    this.intervalMs = intervalMs;
    clearInterval(this.timer);
    this.timer = setInterval(() => this.send(), intervalMs);
  }

  /** Sends the last report and says BYE; resolves once the connection closed, or after LAST_REPORT_WAIT_MS. */
  async last(): Promise<void> {
    if (this.over) return this.stop();
    this.over = true;
    this.stopTimers();
    const conn = this.conn;
    if (!conn || !this.ready) return conn?.destroy("done");
    const gone = new Promise<void>((resolve) => (this.closed = resolve));
    conn.sendMessage(this.status());
    conn.bye(WIRE_ERRORS.NONE, "done");
    await Promise.race([gone, Bun.sleep(LAST_REPORT_WAIT_MS)]);
  }

  /** Stops without a last report. */
  stop(): void {
    this.over = true;
    this.stopTimers();
    this.conn?.destroy("done");
  }

  private stopTimers(): void {
    if (this.timer) clearInterval(this.timer);
    if (this.redialTimer) clearTimeout(this.redialTimer);
    this.timer = this.redialTimer = null;
  }

  private send(): void {
    if (this.ready && this.conn && !this.conn.closed) this.conn.sendMessage(this.status());
  }

  private status(): Message {
    return { type: "STATUS", ...this.current() };
  }

  private connect(): void {
    const label = peerLabel(this.address);
    const handler: ConnectionHandler = {
      onReady: (conn) => {
        if (this.over || (conn.remoteHello!.capabilities & CAPABILITIES.REPORTS) === 0) {
          // A get, or a seed older than reports: it is not asked again.
          this.over = true;
          this.stopTimers();
          return conn.bye(WIRE_ERRORS.NONE, "no reports kept there");
        }
        this.ready = true;
        this.redialMs = REDIAL_MS;
        // A connection starts at REPORT_INTERVAL_MS, as its seed counts it: a pace is told per connection.
        this.keepPace(REPORT_INTERVAL_MS);
        this.send();
      },
      onMessage: (_conn, message) => {
        if (message.type === "REPORT_PACE") this.paceAsked(message.intervalMs);
      },
      onDrain() {},
      onClosing() {},
      onClose: () => {
        this.ready = false;
        this.conn = null;
        this.closed?.();
        this.redialLater();
      },
    };
    const hello = catalogueHello(this.network);
    dial(this.address, this.network, {
      connection: () => (this.conn = new PeerConnection(label, { role: "initiator", hello, secret: this.network.secret }, handler, reportLimits(this.network))),
      failed: () => this.redialLater(),
      cancelled: () => this.over,
    });
  }

  private redialLater(): void {
    if (this.over || this.redialTimer) return;
    this.redialTimer = setTimeout(() => {
      this.redialTimer = null;
      this.connect();
    }, this.redialMs);
    this.redialMs = Math.min(MAX_REDIAL_MS, this.redialMs * 2);
  }
}
