import type { PeerConnection } from "../peer/connection.ts";
import { claimedId, encodePackage } from "../pkg/format.ts";
import { type Package, packageName } from "../pkg/model.ts";
import { WIRE_ERRORS } from "../protocol/codes.ts";
import { MAX_CATALOGUE_ENTRIES, type Message, METADATA_BLOCK } from "../protocol/messages.ts";
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
 * served here: id, name, size) and METADATA_REQUEST (a package's .bpkg, a block at a time,
 * for `get` by id). One question is answered at a time per connection, the next once the
 * socket has taken the answer before it, so a peer that asks without reading holds at most
 * one block of ours. Packages are encoded once, on the first question about them.
 */
export class Catalogue {
  private readonly listed = new WeakMap<Package, Listed>();
  private readonly pending = new WeakMap<PeerConnection, Message[]>();

  constructor(private readonly nodes: Map<string, SwarmNode>) {}

  received(conn: PeerConnection, message: Message): void {
    if (message.type !== "LIST" && message.type !== "METADATA_REQUEST") return;
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
