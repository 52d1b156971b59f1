import type { NetworkPolicy } from "../config.ts";
import { claimedId, decodePackage, equalBytes, expectedLength, FormatError, HEADER_LENGTH } from "../pkg/format.ts";
import type { Package } from "../pkg/model.ts";
import { WIRE_ERRORS, wireErrorName } from "../protocol/codes.ts";
import type { PackageRollout } from "../ops/rollout.ts";
import { CAPABILITIES, type CatalogueEntry, type Hello, type Message, METADATA_BLOCK, NO_PACKAGE, NONCE_LENGTH, PEER_ID_LENGTH } from "../protocol/messages.ts";
import { type PeerAddress, peerLabel } from "../swarm/address-book.ts";
import { toHex } from "../util/units.ts";
import { type ConnectionHandler, PeerConnection } from "./connection.ts";
import { dial } from "./dial.ts";

/** Packages one listing may hold: far more than a serve has, few enough to bound a lying peer. */
const MAX_LISTED_PACKAGES = 65_536;
/** Metadata blocks asked for ahead of the one being received. */
const METADATA_WINDOW = 4;

/** A peer's answer was refused: it does not match what was asked, or breaks the protocol. */
export class CatalogueError extends Error {}

/** One conversation on a catalogue connection: what to ask first, and what each answer brings. */
interface Conversation<T> {
  start(conn: PeerConnection): void;
  /** The result once the conversation is over; undefined while it goes on. Throws CatalogueError to refuse an answer. */
  answered(conn: PeerConnection, message: Message): T | undefined;
}

/**
 * Connects to one peer with a HELLO that names no package (the catalogue, docs/protocol.md),
 * runs one conversation, and says goodbye. Rejects with the reason, naming the peer, when
 * the peer cannot be reached, refuses, closes early or answers wrongly.
 */
function converse<T>(address: PeerAddress, network: NetworkPolicy, conversation: Conversation<T>): Promise<T> {
  const label = peerLabel(address);
  return new Promise<T>((resolve, reject) => {
    let over = false;
    const end = (outcome: () => void) => {
      if (over) return;
      over = true;
      outcome();
    };
    const handler: ConnectionHandler = {
      onReady: (conn) => conversation.start(conn),
      onMessage(conn, message) {
        try {
          const result = conversation.answered(conn, message);
          if (result === undefined) return;
          end(() => resolve(result));
          conn.bye(WIRE_ERRORS.NONE, "done");
        } catch (err) {
          if (!(err instanceof CatalogueError)) throw err;
          end(() => reject(new CatalogueError(`${label}: ${err.message}`)));
          conn.fail(WIRE_ERRORS.BAD_DATA, err.message);
        }
      },
      onDrain() {},
      onClosing() {},
      onClose(_conn, info) {
        const code = info.code ? `${wireErrorName(info.code)}: ` : "";
        end(() => reject(new CatalogueError(`${label}: ${code}${info.reason || "closed the connection before answering"}`)));
      },
    };
    const hello = catalogueHello(network);
    dial(address, network, {
      connection: () => new PeerConnection(label, { role: "initiator", hello, secret: network.secret }, handler, network.limits),
      failed: (reason) => end(() => reject(new CatalogueError(`${label}: ${reason}`))),
      cancelled: () => over,
    });
  });
}

/** The HELLO of a connection that asks about packages (or reports) rather than for one: the zero root, no listening port. */
export function catalogueHello(network: NetworkPolicy): Hello {
  return {
    type: "HELLO",
    root: NO_PACKAGE,
    peerId: crypto.getRandomValues(new Uint8Array(PEER_ID_LENGTH)),
    listenPort: 0,
    capabilities: network.secret ? CAPABILITIES.AUTH : 0,
    nonce: crypto.getRandomValues(new Uint8Array(NONCE_LENGTH)),
  };
}

/** What a peer serves: id, name and size of each package, in name order. */
export function listPackages(address: PeerAddress, network: NetworkPolicy): Promise<CatalogueEntry[]> {
  const listed: CatalogueEntry[] = [];
  return converse(address, network, {
    start: (conn) => conn.sendMessage({ type: "LIST", from: 0 }),
    answered(conn, message) {
      if (message.type !== "CATALOGUE") return undefined;
      if (message.from !== listed.length) throw new CatalogueError(`listed packages from ${message.from}, but ${listed.length} were asked for`);
      if (message.total > MAX_LISTED_PACKAGES) throw new CatalogueError(`claims ${message.total} packages, more than ${MAX_LISTED_PACKAGES}`);
      listed.push(...message.packages);
      if (listed.length > message.total) throw new CatalogueError(`listed more packages than its total of ${message.total}`);
      if (listed.length === message.total) return listed;
      if (message.packages.length === 0) throw new CatalogueError(`listed ${listed.length} of ${message.total} packages, then none`);
      conn.sendMessage({ type: "LIST", from: listed.length });
      return undefined;
    },
  });
}

/**
 * Fetches the package with this id from one peer, METADATA_BLOCK bytes a frame, a few
 * frames asked for ahead. The bytes must decode as a package whose checksum, which is its
 * id, is the one asked for: a peer cannot pass off another package, or alter this one.
 */
export function fetchPackage(address: PeerAddress, network: NetworkPolicy, id: Uint8Array): Promise<Package> {
  let bytes: Uint8Array | null = null;
  let received = 0;
  let asked = 0;
  const ask = (conn: PeerConnection) => {
    const total = bytes?.length ?? 0;
    for (; asked < total && asked - received < METADATA_WINDOW * METADATA_BLOCK; asked += METADATA_BLOCK) {
      conn.sendMessage({ type: "METADATA_REQUEST", id, offset: asked });
    }
  };
  return converse(address, network, {
    start(conn) {
      conn.sendMessage({ type: "METADATA_REQUEST", id, offset: 0 });
      asked = METADATA_BLOCK;
    },
    answered(conn, message) {
      if (message.type !== "METADATA") return undefined;
      if (!equalBytes(message.id, id)) throw new CatalogueError(`sent metadata for ${toHex(message.id)}, not the ${toHex(id)} asked for`);
      if (message.offset !== received || message.data.length === 0) throw new CatalogueError(`sent metadata at offset ${message.offset} (${message.data.length} bytes) where ${received} was next`);
      if (!bytes) bytes = allocateFor(message.total, message.data);
      if (message.total !== bytes.length || received + message.data.length > bytes.length) throw new CatalogueError("changed the length of the metadata midway");
      bytes.set(message.data, received);
      received += message.data.length;
      if (received < bytes.length) return void ask(conn);
      return verified(bytes, id);
    },
  });
}

/** A rollout document past this is refused: 100,000 nodes take about 30 MiB. */
const MAX_ROLLOUT_BYTES = 128 * 1024 * 1024;

/** What a seed's nodes reported (docs/protocol.md, "Reports"), one package each, as the seed saw it when asked. */
export function fetchRollout(address: PeerAddress, network: NetworkPolicy): Promise<PackageRollout[]> {
  let bytes: Uint8Array | null = null;
  let received = 0;
  return converse(address, network, {
    start: (conn) => conn.sendMessage({ type: "ROLLOUT_REQUEST", offset: 0 }),
    answered(conn, message) {
      if (message.type !== "ROLLOUT") return undefined;
      if (message.offset !== received || message.data.length === 0) throw new CatalogueError(`sent the rollout at offset ${message.offset} (${message.data.length} bytes) where ${received} was next`);
      if (!bytes) {
        if (message.total > MAX_ROLLOUT_BYTES) throw new CatalogueError(`sent a rollout of ${message.total} bytes, more than ${MAX_ROLLOUT_BYTES}`);
        bytes = new Uint8Array(message.total);
      }
      if (message.total !== bytes.length || received + message.data.length > bytes.length) throw new CatalogueError("changed the length of the rollout midway");
      bytes.set(message.data, received);
      received += message.data.length;
      if (received < bytes.length) return void conn.sendMessage({ type: "ROLLOUT_REQUEST", offset: received });
      try {
        const { packages } = JSON.parse(new TextDecoder().decode(bytes)) as { packages: PackageRollout[] };
        if (!Array.isArray(packages)) throw new Error("no package list");
        return packages;
      } catch (err) {
        throw new CatalogueError(`sent a rollout that is not one: ${(err as Error).message}`);
      }
    },
  });
}

/** The buffer for a package of `total` bytes, once its header (in the first block) says that length is right. */
function allocateFor(total: number, first: Uint8Array): Uint8Array {
  if (first.length < Math.min(total, HEADER_LENGTH)) throw new CatalogueError("sent a first metadata block shorter than a package header");
  try {
    const length = expectedLength(first.subarray(0, HEADER_LENGTH));
    if (length !== total) throw new CatalogueError(`sent metadata of ${total} bytes for a package whose header says ${length}`);
  } catch (err) {
    if (err instanceof FormatError) throw new CatalogueError(`sent metadata that is not a package: ${err.message}`);
    throw err;
  }
  return new Uint8Array(total);
}

function verified(bytes: Uint8Array, id: Uint8Array): Package {
  if (!equalBytes(claimedId(bytes), id)) throw new CatalogueError(`sent a package whose id is ${toHex(claimedId(bytes))}, not ${toHex(id)}`);
  try {
    return decodePackage(bytes);
  } catch (err) {
    if (err instanceof FormatError) throw new CatalogueError(`sent metadata that does not check out against id ${toHex(id)}: ${err.message}`);
    throw err;
  }
}
