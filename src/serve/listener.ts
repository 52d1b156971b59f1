import type { Socket, TCPSocketListener } from "bun";
import type { NetworkPolicy } from "../config.ts";
import { BtError } from "../errors.ts";
import { type ConnectionHandler, connectionSocketHandlers, PeerConnection } from "../peer/connection.ts";
import { serverTls } from "../peer/tls.ts";
import { ProtocolError, WIRE_ERRORS, wireErrorName } from "../protocol/codes.ts";
import type { SwarmNode } from "../swarm/node.ts";
import type { Logger } from "../util/log.ts";
import { toHex } from "../util/units.ts";

export interface ListenerOptions {
  host: string;
  port: number;
  /** The packages served here, by root hex. */
  nodes: Map<string, SwarmNode>;
  logger: Logger;
  /** maxConnections counts handshaking connections too; more are answered ERROR(BUSY). */
  network: NetworkPolicy;
}

export interface Listener {
  readonly port: number;
  /** Connections still in their handshake or not yet closed, for shutdown. */
  readonly connections: Set<PeerConnection>;
  /** Stops accepting, says BYE to every peer, and waits up to graceMs for them to go. */
  stop(graceMs: number): Promise<void>;
}

const nodeOf = (conn: PeerConnection): SwarmNode | null => (conn.context as { node?: SwarmNode } | null)?.node ?? null;

/**
 * Accepts peers and hands each, once its HELLO names a package served here, to that
 * package's SwarmNode. A HELLO for anything else gets ERROR UNKNOWN_PACKAGE.
 */
export function listen(options: ListenerOptions): Listener {
  const connections = new Set<PeerConnection>();
  const { logger, network } = options;

  const handler: ConnectionHandler = {
    onReady: (conn) => nodeOf(conn)?.handler.onReady(conn),
    onMessage: (conn, message) => nodeOf(conn)?.handler.onMessage(conn, message),
    onDrain: (conn) => nodeOf(conn)?.handler.onDrain(conn),
    onClose(conn, info) {
      connections.delete(conn);
      const node = nodeOf(conn);
      if (node) return node.handler.onClose(conn, info);
      logger.event("peer-refused", { peer: conn.label, code: info.code ? wireErrorName(info.code) : undefined, reason: info.reason });
    },
  };

  const accept = (conn: PeerConnection, root: Uint8Array) => {
    const node = options.nodes.get(toHex(root));
    if (!node) throw new ProtocolError(WIRE_ERRORS.UNKNOWN_PACKAGE, `no package with root ${toHex(root)} here`);
    conn.context = { node, initiated: false };
    return node.hello();
  };

  let server: TCPSocketListener<PeerConnection>;
  try {
    server = Bun.listen<PeerConnection>({
      hostname: options.host,
      port: options.port,
      ...(network.tls ? { tls: serverTls(network.tls) } : {}),
      socket: {
        ...connectionSocketHandlers,
        open(socket) {
          const label = `${socket.remoteAddress}:${socket.remotePort}`;
          const conn = new PeerConnection(label, { role: "acceptor", accept: (hello, c) => accept(c, hello.root), secret: network.secret }, handler, network.limits);
          socket.data = conn;
          const full = connections.size >= network.maxConnections;
          connections.add(conn);
          conn.attach(socket as Socket<PeerConnection>);
          if (full) conn.fail(WIRE_ERRORS.BUSY, `this node already has ${network.maxConnections} connections`);
        },
      },
    });
  } catch (err) {
    throw new BtError("BT_E_USAGE", `--listen ${options.host}:${options.port}: ${(err as Error).message}`);
  }

  return {
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
