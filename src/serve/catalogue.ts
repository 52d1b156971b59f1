import type { PeerConnection } from "../peer/connection.ts";
import { claimedId, encodePackage, equalBytes } from "../pkg/format.ts";
import { type Package, packageName } from "../pkg/model.ts";
import { WIRE_ERRORS } from "../protocol/codes.ts";
import { MAX_CATALOGUE_ENTRIES, type Message, METADATA_BLOCK, ROLLOUT_BLOCK } from "../protocol/messages.ts";
import { type RolloutBook, reportPaceMs } from "../ops/rollout.ts";
import { type NodeReport, REPORT_INTERVAL_MS } from "../protocol/status.ts";
import type { SwarmNode } from "../swarm/node.ts";
import { toHex } from "../util/units.ts";

/** Questions one connection may have waiting for its answers; more is a flood. */
const MAX_PENDING_QUESTIONS = 64;

/** A served package as the catalogue gives it out: its .bpkg bytes, whose checksum is its id. */
interface Listed {
  idHex: string;
  name: string;
  size: number;
  encoded: Uint8Array;
}

/**
 * Answers the questions of connections that named no package in their HELLO: LIST (what is
 * served here: id, name, size), METADATA_REQUEST (a package's .bpkg, a block at a time,
 * for `get` by id) and ROLLOUT_REQUEST (what the nodes reported, as JSON, for `status`). One question is answered at a time per connection, the next once the
 * socket has taken the answer before it, so a peer that asks without reading holds at most
 * one block of ours. Packages are encoded once, on the first question about them.
 */
export class Catalogue {
  private readonly listed = new WeakMap<Package, Listed>();
  private readonly pending = new WeakMap<PeerConnection, Message[]>();
  /** Connections that report, each with the pace it was last told (REPORT_INTERVAL_MS until told another). */
  private readonly reporters = new Map<PeerConnection, number>();
  /** The rollout document each connection is reading (shared, RolloutBook.document): taken at its offset-0 request, so its blocks agree. */
  private readonly rolloutRead = new WeakMap<PeerConnection, Uint8Array>();

  constructor(
    private readonly nodes: Map<string, SwarmNode>,
    private readonly rollout?: RolloutBook,
  ) {}

  received(conn: PeerConnection, message: Message): void {
    if (message.type === "STATUS") return this.reported(conn, message.package, message.report);
    if (message.type !== "LIST" && message.type !== "METADATA_REQUEST" && message.type !== "ROLLOUT_REQUEST") return;
    const queue = this.pending.get(conn) ?? [];
    this.pending.set(conn, queue);
    if (queue.length >= MAX_PENDING_QUESTIONS) return conn.fail(WIRE_ERRORS.TOO_MANY_REQUESTS, `more than ${MAX_PENDING_QUESTIONS} questions waiting`);
    queue.push(message);
    this.drained(conn);
  }

  /** The socket took what we sent: answer the next question. */
  drained(conn: PeerConnection): void {
    const queue = this.pending.get(conn);
    while (queue?.length && conn.backlog === 0 && !conn.closed) this.answer(conn, queue.shift()!);
  }

  private answer(conn: PeerConnection, question: Message): void {
    if (question.type === "ROLLOUT_REQUEST") return this.answerRollout(conn, question.offset);
    const packages = [...this.nodes.values()].map((node) => this.listing(node.pkg)).sort((a, b) => (a.name < b.name ? -1 : a.name > b.name ? 1 : 0));
    if (question.type === "LIST") {
      const page = packages.slice(question.from, question.from + MAX_CATALOGUE_ENTRIES);
      const entries = page.map((p) => ({ id: claimedId(p.encoded), name: p.name, size: p.size }));
      return conn.sendMessage({ type: "CATALOGUE", total: packages.length, from: question.from, packages: entries });
    }
    if (question.type !== "METADATA_REQUEST") return;
    const idHex = toHex(question.id);
    const wanted = packages.find((p) => p.idHex === idHex);
    if (!wanted) return conn.fail(WIRE_ERRORS.UNKNOWN_PACKAGE, `no package with id ${idHex} here`);
    if (question.offset >= wanted.encoded.length) {
      return conn.fail(WIRE_ERRORS.OUT_OF_RANGE, `metadata offset ${question.offset} is past its ${wanted.encoded.length} bytes`);
    }
    const data = wanted.encoded.subarray(question.offset, question.offset + METADATA_BLOCK);
    conn.sendMessage({ type: "METADATA", id: question.id, total: wanted.encoded.length, offset: question.offset, data });
  }

  /** A get's report of itself: kept for a package served here, and not answered. Reports of other packages are dropped, so the book holds only what this seed serves. */
  /**
   * A get's report of itself: kept for a package served here (reports of other packages are
   * dropped, so the book holds only what this seed serves), and not answered, but for the
   * pace its reporters should keep (REPORT_PACE) when it is not the one this connection was
   * last told. A reporter waits for nothing else from us: no KEEPALIVE either.
   */
  private reported(conn: PeerConnection, id: Uint8Array, report: NodeReport): void {
    if (!this.rollout) return;
    if (!this.reporters.has(conn)) {
      conn.quiet();
      this.reporters.set(conn, REPORT_INTERVAL_MS);
    }
    const pace = reportPaceMs(this.reporters.size);
    if (this.reporters.get(conn) !== pace) {
      this.reporters.set(conn, pace);
      conn.sendMessage({ type: "REPORT_PACE", intervalMs: pace });
    }
    for (const node of this.nodes.values()) if (equalBytes(node.id, id)) return this.rollout.report(node.idHex, report);
  }

  /** A catalogue connection closed. */
  closed(conn: PeerConnection): void {
    this.reporters.delete(conn);
  }

  private answerRollout(conn: PeerConnection, offset: number): void {
    if (!this.rollout) return conn.fail(WIRE_ERRORS.UNEXPECTED, "this peer keeps no reports: ask a serve");
    if (offset === 0) this.rolloutRead.set(conn, this.rollout.document());
    const document = this.rolloutRead.get(conn);
    if (!document || offset >= document.length) return conn.fail(WIRE_ERRORS.OUT_OF_RANGE, `rollout offset ${offset} is past its ${document?.length ?? 0} bytes`);
    conn.sendMessage({ type: "ROLLOUT", total: document.length, offset, data: document.subarray(offset, offset + ROLLOUT_BLOCK) });
  }

  private listing(pkg: Package): Listed {
    let listed = this.listed.get(pkg);
    if (!listed) {
      const encoded = encodePackage(pkg);
      listed = { idHex: toHex(claimedId(encoded)), name: packageName(pkg), size: pkg.totalSize, encoded };
      this.listed.set(pkg, listed);
    }
    return listed;
  }
}
