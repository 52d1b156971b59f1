import type { Socket, TCPSocketListener } from "bun";
import type { RolloutBook } from "../ops/rollout.ts";
import type { NetworkPolicy } from "../config.ts";
import { BtError, describeBindError } from "../errors.ts";
import { type ConnectionHandler, connectionSocketHandlers, type HandshakeRole, PeerConnection } from "../peer/connection.ts";
import { serverTls } from "../peer/tls.ts";
import { ProtocolError, WIRE_ERRORS, wireErrorName } from "../protocol/codes.ts";
import { equalBytes } from "../pkg/format.ts";
import { CAPABILITIES, NO_PACKAGE } from "../protocol/messages.ts";
import type { SwarmNode } from "../swarm/node.ts";
import { Catalogue } from "./catalogue.ts";
import type { Logger } from "../util/log.ts";
import { resolveFailure, resolveHost } from "../util/address.ts";
import { toHex } from "../util/units.ts";
import { peerLabel } from "../swarm/address-book.ts";

export interface ListenerOptions {
  /** An IP literal or a name; a name is bound on every address it resolves to. */
  host: string;
  port: number;
  /** Who asked, for errors: "get". */
  command: string;
  /**
   * The packages served here, by root hex. A get adds its node once its output is open;
   * until then a HELLO is answered BUSY, which peers retry, rather than UNKNOWN_PACKAGE.
   */
  nodes: Map<string, SwarmNode>;
  logger: Logger;
  /** maxConnections counts handshaking connections too; more are answered ERROR(BUSY). */
  network: NetworkPolicy;
  /** serve: what its nodes reported, for the catalogue's ROLLOUT_REQUEST (bytetide status). */
  rollout?: RolloutBook;
}

export interface Listener {
  readonly port: number;
  /** Connections still in their handshake or not yet closed, for shutdown. */
  readonly connections: Set<PeerConnection>;
  /** Stops accepting, says BYE to every peer, and waits up to graceMs for them to go. */
  stop(graceMs: number): Promise<void>;
}

const nodeOf = (conn: PeerConnection): SwarmNode | null => (conn.context as { node?: SwarmNode } | null)?.node ?? null;
const asksCatalogue = (conn: PeerConnection): boolean => (conn.context as { catalogue?: boolean } | null)?.catalogue === true;

/**
 * Accepts peers and hands each, once its HELLO names a package served here, to that
 * package's SwarmNode; one whose HELLO names no package (all zeros) asks the catalogue
 * (`ls`, and `get` by id). A HELLO for anything else gets ERROR UNKNOWN_PACKAGE.
 */
export async function listen(options: ListenerOptions): Promise<Listener> {
  const connections = new Set<PeerConnection>();
  const { logger, network } = options;
  const catalogue = new Catalogue(options.nodes, options.rollout);

  const handler: ConnectionHandler = {
    onReady(conn) {
      // The catalogue asks nothing of a peer's HELLO once ready: 10,000 reporters' peer ids are 2 MiB.
      if (asksCatalogue(conn)) conn.remoteHello = null;
      else nodeOf(conn)?.handler.onReady(conn);
    },
    onMessage: (conn, message) => (asksCatalogue(conn) ? catalogue.received(conn, message) : nodeOf(conn)?.handler.onMessage(conn, message)),
    onDrain: (conn) => (asksCatalogue(conn) ? catalogue.drained(conn) : nodeOf(conn)?.handler.onDrain(conn)),
    onClosing: (conn) => nodeOf(conn)?.handler.onClosing(conn),
    onClose(conn, info) {
      connections.delete(conn);
      const node = nodeOf(conn);
      if (node) return node.handler.onClose(conn, info);
      if (asksCatalogue(conn)) catalogue.closed(conn);
      if (asksCatalogue(conn) && !info.code) return;
      logger.event("peer-refused", { peer: conn.label, code: info.code ? wireErrorName(info.code) : undefined, reason: info.reason });
    },
  };

  const accept = (conn: PeerConnection, root: Uint8Array) => {
    const [anyNode] = options.nodes.values();
    if (!anyNode) throw new ProtocolError(WIRE_ERRORS.BUSY, "starting up");
    if (equalBytes(root, NO_PACKAGE)) {
      conn.context = { catalogue: true };
      const hello = anyNode.hello();
      return { ...hello, root: NO_PACKAGE, capabilities: hello.capabilities | (options.rollout ? CAPABILITIES.REPORTS : 0) };
    }
    const node = options.nodes.get(toHex(root));
    if (!node) throw new ProtocolError(WIRE_ERRORS.UNKNOWN_PACKAGE, `no package with root ${toHex(root)} here`);
    conn.context = { node };
    return node.hello();
  };

  // One for every connection: a seed with 10,000 reporting nodes holds 10,000 of them.
  const handshake: HandshakeRole = { role: "acceptor", accept: (hello, c) => accept(c, hello.root), secret: network.secret, zone: network.zone };
  const socketHandlers = {
    ...connectionSocketHandlers,
    open(socket: Socket<PeerConnection>) {
      const label = `${socket.remoteAddress}:${socket.remotePort}`;
      const conn = new PeerConnection(label, handshake, handler, network.limits);
      socket.data = conn;
      const full = connections.size >= network.maxConnections;
      connections.add(conn);
      conn.attach(socket);
      if (full) conn.fail(WIRE_ERRORS.BUSY, `this node already has ${network.maxConnections} connections`);
    },
  };
  const where = `${options.command}: --listen ${peerLabel({ host: options.host, port: options.port })}`;
  let hosts: string[];
  try {
    hosts = await resolveHost(options.host);
  } catch (err) {
    throw new BtError("BT_E_USAGE", `${where}: ${resolveFailure(options.host, err)}`);
  }
  // Every address of a name, on one port: the first bind picks it when the port is 0.
  const servers: TCPSocketListener<PeerConnection>[] = [];
  for (const hostname of hosts) {
    try {
      servers.push(Bun.listen<PeerConnection>({ hostname, port: servers[0]?.port ?? options.port, ...(network.tls ? { tls: serverTls(network.tls) } : {}), socket: socketHandlers }));
    } catch (err) {
      for (const server of servers) server.stop(true);
      const address = hostname === options.host ? "" : ` (${peerLabel({ host: hostname, port: servers[0]?.port ?? options.port })})`;
      throw new BtError("BT_E_USAGE", `${where}${address}: ${describeBindError(err)}`);
    }
  }

  return {
    get port() {
      return servers[0]!.port;
    },
    connections,
    async stop(graceMs) {
      for (const server of servers) server.stop(false);
      for (const conn of connections) conn.bye(WIRE_ERRORS.SHUTTING_DOWN, "shutting down");
      const deadline = Date.now() + graceMs;
      while (connections.size > 0 && Date.now() < deadline) await Bun.sleep(20);
      for (const conn of connections) conn.destroy("shutdown grace period over");
      for (const server of servers) server.stop(true);
    },
  };
}
