import type { Socket } from "bun";
import { NET, type NetworkPolicy } from "../config.ts";
import { type PeerAddress, peerLabel } from "../swarm/address-book.ts";
import { resolveFailure, resolveHost } from "../util/address.ts";
import { connectionSocketHandlers, type PeerConnection } from "./connection.ts";
import { clientTls } from "./tls.ts";

export interface DialCallbacks {
  /** A fresh connection object for each address tried. */
  connection(): PeerConnection;
  /** The connection's socket opened: its handshake begins. One whose address failed never opens. */
  opened?(conn: PeerConnection): void;
  /** No address answered: every failure, each naming its address when the peer is a name. */
  failed(reason: string): void;
  /** The caller has closed meanwhile: stop trying, and drop a socket that opens. */
  cancelled(): boolean;
}

/**
 * Resolves a peer's name afresh (a name may have moved), then tries each of its addresses
 * in turn, NET.connectTimeoutMs each, over TLS when the network policy says so; the first
 * socket that opens is attached to its connection, which then runs the handshake.
 */
export function dial(address: PeerAddress, network: NetworkPolicy, callbacks: DialCallbacks): void {
  const label = peerLabel(address);
  resolveHost(address.host).then(
    (hosts) => connectToFirst(label, hosts, address.port, [], network, callbacks),
    (err) => callbacks.failed(resolveFailure(address.host, err)),
  );
}

function connectToFirst(label: string, hosts: string[], port: number, failures: string[], network: NetworkPolicy, callbacks: DialCallbacks): void {
  if (callbacks.cancelled()) return;
  const [host, ...rest] = hosts;
  if (host === undefined) return callbacks.failed(failures.join("; ") || `${label}: the name has no addresses`);
  const target = peerLabel({ host, port });
  const conn = callbacks.connection();
  let settled = false;
  const failed = (reason: string) => {
    if (settled) return;
    settled = true;
    clearTimeout(timer);
    // A name's failures say which of its addresses failed how; an IP literal's, just how.
    connectToFirst(label, rest, port, [...failures, target === label ? reason : `${reason} (${target})`], network, callbacks);
  };
  const timer = setTimeout(() => failed(`no connection within ${NET.connectTimeoutMs / 1000} s`), NET.connectTimeoutMs);
  Bun.connect<PeerConnection>({
    hostname: host,
    port,
    data: conn,
    ...(network.tls ? { tls: clientTls(network.tls) } : {}),
    socket: {
      ...connectionSocketHandlers,
      open: (socket) => {
        if (settled) return void socket.terminate();
        settled = true;
        clearTimeout(timer);
        if (callbacks.cancelled()) return void socket.terminate();
        // Told first: whatever the connection reports from here on, its close too, is of a connection known.
        callbacks.opened?.(conn);
        conn.attach(socket as Socket<PeerConnection>);
      },
    },
  }).catch((err: Error) => failed(err.message));
}
