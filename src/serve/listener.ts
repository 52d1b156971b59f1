import type { Socket, TCPSocketListener } from "bun";
import { randomBytes } from "node:crypto";
import { BtError } from "../errors.ts";
import { type ConnectionHandler, connectionSocketHandlers, PeerConnection } from "../peer/connection.ts";
import { type ChunkSource, Uploader } from "../peer/uploader.ts";
import { ProtocolError, WIRE_ERRORS, wireErrorName } from "../protocol/codes.ts";
import { PEER_ID_LENGTH } from "../protocol/messages.ts";
import { Bitset } from "../util/bitset.ts";
import type { Logger } from "../util/log.ts";
import { TokenBucket } from "../util/token-bucket.ts";
import { NET } from "../config.ts";
import { toHex } from "../util/units.ts";

export interface ServedPackage {
  rootHex: string;
  source: ChunkSource;
  /** Current have-set, sent as BITFIELD on connect. */
  bitfield(): Bitset;
}

export interface ListenerOptions {
  host: string;
  port: number;
  packages: Map<string, ServedPackage>;
  logger: Logger;
  peerId?: Uint8Array;
  /** Bytes per second across all connections; undefined for no limit. */
  maxUploadRate?: number;
}

export interface Listener {
  readonly host: string;
  readonly port: number;
  /** Live connections, for shutdown and reports. */
  readonly connections: Set<PeerConnection>;
  /** Stops accepting; asks every peer to go (BYE) and waits up to graceMs for them to. */
  stop(graceMs: number): Promise<void>;
}

interface Session {
  served: ServedPackage;
  uploader: Uploader;
}

/** Accepts peers and serves them the chunks of any package in `packages`, keyed by root hex. */
export function listen(options: ListenerOptions): Listener {
  const peerId = options.peerId ?? randomBytes(PEER_ID_LENGTH);
  const connections = new Set<PeerConnection>();
  const { logger } = options;
  // A burst of a few blocks keeps the pipe full without letting the average drift.
  const uploadLimit = options.maxUploadRate ? new TokenBucket(options.maxUploadRate, Math.max(4 * NET.blockSize, options.maxUploadRate / 10)) : null;

  const handler: ConnectionHandler = {
    onReady(conn) {
      const session = conn.context as Session;
      logger.event("peer-ready", { peer: conn.label, package: session.served.rootHex.slice(0, 16) });
      conn.sendMessage({ type: "BITFIELD", bits: session.served.bitfield().bytes });
    },
    onMessage(conn, message) {
      const session = conn.context as Session;
      switch (message.type) {
        case "REQUEST":
          return session.uploader.request(message.index);
        case "CANCEL":
          return session.uploader.cancel(message.index);
        case "BITFIELD":
        case "HAVE":
        case "REJECT":
          // A seed needs nothing from its peers; what they have does not matter here.
          return;
        case "PIECE":
          return conn.fail(WIRE_ERRORS.UNEXPECTED, "PIECE sent to a peer that requested nothing");
      }
    },
    onDrain(conn) {
      (conn.context as Session | null)?.uploader.pump();
    },
    onClose(conn, info) {
      connections.delete(conn);
      logger.event("peer-closed", {
        peer: conn.label,
        code: info.code ? wireErrorName(info.code) : undefined,
        reason: info.reason,
        sent_bytes: conn.bytesOut,
      });
    },
  };

  let server: TCPSocketListener<PeerConnection>;
  try {
    server = Bun.listen<PeerConnection>({
      hostname: options.host,
      port: options.port,
      socket: {
        ...connectionSocketHandlers,
        open(socket) {
          const label = `${socket.remoteAddress}:${(socket as unknown as { remotePort?: number }).remotePort ?? "?"}`;
          const conn = new PeerConnection(label, { role: "acceptor", accept: (hello, c) => accept(hello.root, c) }, handler);
          socket.data = conn;
          connections.add(conn);
          logger.event("peer-connected", { peer: label });
          conn.attach(socket as Socket<PeerConnection>);
        },
      },
    });
  } catch (err) {
    throw new BtError("BT_E_USAGE", `--listen ${options.host}:${options.port}: ${(err as Error).message}`);
  }

  const accept = (root: Uint8Array, conn: PeerConnection) => {
    const served = options.packages.get(toHex(root));
    if (!served) throw new ProtocolError(WIRE_ERRORS.UNKNOWN_PACKAGE, `no package with root ${toHex(root)} here`);
    conn.context = { served, uploader: new Uploader(conn, served.source, uploadLimit) } satisfies Session;
    return { type: "HELLO" as const, root, peerId, listenPort: server.port, capabilities: 0 };
  };

  return {
    host: options.host,
    get port() {
      return server.port;
    },
    connections,
    async stop(graceMs) {
      server.stop(false);
      for (const conn of connections) conn.bye(WIRE_ERRORS.SHUTTING_DOWN, "shutting down");
      const deadline = Date.now() + graceMs;
      while (connections.size > 0 && Date.now() < deadline) await Bun.sleep(20);
      for (const conn of connections) conn.destroy("shutdown grace period over");
      server.stop(true);
    },
  };
}
