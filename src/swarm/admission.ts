/**
 * Which handshaken connections become peers. One connection per peer: two would count it
 * twice in each chunk's availability and split its requests between them. When two nodes dial each other at once, each
 * sees a second connection to the same peer id, and both must drop the same one, with no
 * message between them to agree on it; so the rule depends only on what both sides know:
 * keep the connection opened by the node with the smaller peer id. A connection to our own
 * peer id (our own address, learned from a peer) is refused. A new peer is refused once
 * --max-peers are connected; a replacement for a twin is not a new peer.
 */

export type Admission =
  /** A new peer. */
  | "admit"
  /** Our own peer id. */
  | "self"
  /** Already connected to this peer through a connection the rule keeps: refuse this one. */
  | "keep-twin"
  /** Already connected to this peer, but the rule keeps this connection: close the other. */
  | "replace-twin"
  /** No room for another peer. */
  | "full";

export interface Arrival {
  ourId: Uint8Array;
  theirId: Uint8Array;
  /** We opened this connection (else we accepted it). */
  weDialled: boolean;
  /** Another connection to the same peer id is already a peer. */
  twin: boolean;
  /** Peers connected now, and the limit (--max-peers). */
  peers: number;
  maxPeers: number;
}

export function admit(a: Arrival): Admission {
  const order = Buffer.compare(a.ourId, a.theirId);
  if (order === 0) return "self";
  if (a.twin) return a.weDialled === order < 0 ? "replace-twin" : "keep-twin";
  return a.peers >= a.maxPeers ? "full" : "admit";
}
