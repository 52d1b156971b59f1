import { wireErrorName, WIRE_ERRORS } from "../protocol/codes.ts";
import { MAX_PEERS_PER_MESSAGE, type Message, type PeerAddressEntry } from "../protocol/messages.ts";
import { type AddressBook, type BookEntry, type PeerAddress, peerLabel } from "./address-book.ts";
import { admit } from "./admission.ts";
import { Outbox } from "./outbox.ts";
import { addressesToShare, forRecipient, usableAddresses } from "./peer-exchange.ts";
import { shareRank } from "./scheduler.ts";
import type { DownloadSession } from "./session.ts";

/**
 * What the peers session asks of its adapter. `admit` and `refuse` come only from
 * `arrived` and are about the arriving connection; `peer` elsewhere is a key from `admit`.
 */
export type PeersAction =
  /** Resolve the address and connect; report `dialFailed`, or `arrived` once handshaken. */
  | { type: "dial"; address: PeerAddress }
  /** The arriving connection is a peer from now on, under this key and name; `far` and `rank` as the session's peerConnected takes them. */
  | { type: "admit"; key: string; name: string; far: boolean; rank: number }
  /** Send PEERS (when `peers` lists any) and then BYE(code) to the arriving connection: it does not become a peer. */
  | { type: "refuse"; code: number; reason: string; peers: PeerAddressEntry[] }
  /** Say BYE(code) to a peer (a twin the duplicate-connection rule drops). */
  | { type: "bye"; peer: string; code: number; reason: string }
  /** Send a PEERS message. */
  | { type: "send"; peer: string; message: Message }
  | { type: "log"; event: string; fields: Record<string, unknown> };

/** A connection whose handshake completed, as the adapter reports it. */
export interface PeerArrival {
  peerId: Uint8Array;
  /** The address we dialled to open it (its address-book label); absent when we accepted it. */
  dialled?: string;
  /** The remote side's IP, and the port its HELLO says it listens on (0: it does not). */
  host: string;
  listenPort: number;
  /** How the connection is named until it has a listening address. */
  label: string;
  /** Its zone, from its ZONE: "" when it has none, null when it does not speak zones. */
  zone: string | null;
}

/**
 * Peers a node dials for itself; the rest of --max-peers is room for those that dial it.
 * Were every node to dial up to the limit, the first nodes to meet (all told of one another
 * by the seed) would fill one another's slots and close ranks: in a cluster larger than the
 * limit everyone else would be turned away by every node that has data (the simulator shows
 * it: docs/performance.md).
 */
export const dialTarget = (maxPeers: number): number => Math.max(1, Math.ceil(maxPeers / 4));

/**
 * Ticks a downloading node may spend with peers that have nothing it lacks before it dials
 * beyond dialTarget: long enough for its neighbours' first chunks to arrive, so a swarm
 * starting out does not dial up to the limit, short against any transfer it would hold up.
 */
const STARVED_TICKS = 8;

/**
 * Peers outside its zone a node in a zone dials towards, whatever else it has: the ways in
 * for chunks the zone lacks. In racks of 50 (200 x 10 Gbit/s x 1 GiB, 4 racks behind 100
 * Gbit/s), 1, 2 and 4 gave p99 1.54, 1.44 and 1.38 over the bound and 1.20, 1.28 and 1.38
 * copies into each rack; racks of 20 or 25 came out the same at 1 and 2.
 */
const PEERS_OUTSIDE_ZONE = 2;

/** Turned-away addresses remembered: with our peers, one PEERS message's worth. */
const MAX_TURNED_AWAY = MAX_PEERS_PER_MESSAGE / 2;

/** a0, b0, a1, b1, ...: both lists get a fair share of a message with a length limit. */
function interleave<T>(a: T[], b: T[]): T[] {
  const out: T[] = [];
  for (let i = 0; i < Math.max(a.length, b.length); i++) {
    if (i < a.length) out.push(a[i]!);
    if (i < b.length) out.push(b[i]!);
  }
  return out;
}

/** Where the arriving peer accepts connections: its socket's IP and its HELLO's port, if it listens. */
const listenAddressOf = (a: PeerArrival): PeerAddress | null =>
  a.listenPort > 0 && a.host ? { host: a.host, port: a.listenPort, ...(a.zone ? { zone: a.zone } : {}) } : null;

/** A connection that ended, as the adapter reports it. */
export interface PeerDeparture {
  /** Its key, when it was admitted as a peer. */
  peer: string | null;
  dialled?: string;
  label: string;
  /** Wire error code (0 for a clean close). */
  code: number;
  reason: string;
}

interface Peer {
  peerId: Uint8Array;
  name: string;
  /** Where the peer accepts connections (its socket's IP and its HELLO's port), if it does. */
  listenAddress: PeerAddress | null;
  /** As PeerArrival has it. */
  zone: string | null;
}

/**
 * The connection side of one package in the swarm, as a synchronous state machine beside
 * the download and upload sessions: events go in (start, a dial failed, a connection
 * handshaken or ended, PEERS received, a peer banned, a tick), actions come out (dial,
 * admit or refuse, bye, send PEERS, log). It decides which addresses to dial and when,
 * what a failure means for an address, which connections become peers (admission.ts) and
 * what peer exchange sends and learns (peer-exchange.ts). It reads the download session
 * for whether we seed and takes its clock from the download's scheduler, so redials come
 * due on the same clock as everything else. Resolving names and sockets stay in the node.
 */
export class PeersSession {
  private readonly peers = new Map<string, Peer>();
  /**
   * Listening addresses of the nodes we last turned away for want of room, newest first.
   * Told only of our peers, every node turned away would dial the same few, and they would
   * serve everyone while the rest served nobody (docs/performance.md).
   */
  private readonly turnedAway: PeerAddress[] = [];
  private readonly out = new Outbox<PeersAction>();
  private nextKey = 0;
  /** No more dialling at all: the node is closing. */
  private stopped = false;
  /** Ticks in a row the node, still downloading, had peers but none with a chunk it lacks. */
  private starvedTicks = 0;

  constructor(
    private readonly download: DownloadSession,
    private readonly book: AddressBook,
    private readonly limits: { maxPeers: number; ourId: Uint8Array; zone?: string },
  ) {}

  get size(): number {
    return this.peers.size;
  }

  /** Learns the --peer addresses and dials them. */
  start(bootstrap: PeerAddress[]): readonly PeersAction[] {
    for (const address of bootstrap) this.book.learn(address);
    this.dialMore();
    return this.out.drain();
  }

  /** The download is over (complete or failed): a failed address is not dialled again. */
  finished(): void {
    this.book.stopAll();
  }

  /** The node is closing: no more dials, and a dial that ends now is of no interest. */
  stop(): void {
    this.stopped = true;
    this.book.stopAll();
  }

  /**
   * Every TICK_MS: addresses whose back-off is over are dialled again, and a node starved
   * for STARVED_TICKS dials one more address, up to the peer limit: its peers may all be
   * waiting on the same chunks, and the seed or a luckier node is one dial away.
   */
  tick(): readonly PeersAction[] {
    const starving = !this.download.complete && this.peers.size > 0 && !this.download.scheduler.anyPeerInteresting;
    this.starvedTicks = starving ? this.starvedTicks + 1 : 0;
    const due = this.book.due(this.now()) > 0;
    if (this.starvedTicks >= STARVED_TICKS) {
      this.starvedTicks = 0;
      this.dialBeyondTarget();
    } else if (due) this.dialMore();
    return this.out.drain();
  }

  /** Resolving or connecting to a dialled address failed. */
  dialFailed(address: string, reason: string): readonly PeersAction[] {
    if (this.stopped) return [];
    this.log("peer-unreachable", { peer: address, reason });
    this.book.markFailed(address, reason, this.now());
    return this.out.drain();
  }

  /** A connection completed its handshake: a peer, or refused (admission.ts). */
  arrived(a: PeerArrival): readonly PeersAction[] {
    const twin = [...this.peers].find(([, p]) => Buffer.compare(p.peerId, a.peerId) === 0);
    const admission = admit({
      ourId: this.limits.ourId,
      theirId: a.peerId,
      weDialled: a.dialled !== undefined,
      twin: twin !== undefined,
      peers: this.peers.size,
      maxPeers: this.limits.maxPeers,
    });
    switch (admission) {
      case "self":
        if (a.dialled) this.book.markSelf(a.dialled);
        return this.refuse(WIRE_ERRORS.DUPLICATE, "connected to itself", []);
      case "keep-twin":
        if (a.dialled) this.book.markConnected(a.dialled);
        return this.refuse(WIRE_ERRORS.DUPLICATE, "already connected", []);
      case "replace-twin":
        this.out.push({ type: "bye", peer: twin![0], code: WIRE_ERRORS.DUPLICATE, reason: "already connected" });
        break;
      case "full": {
        if (a.dialled) this.book.markFailed(a.dialled, "connection limit", this.now());
        // Turned away, a node that knows only us (every node of a large cluster given the
        // same --peer) still learns where else to go: our peers, and others turned away.
        const them = listenAddressOf(a);
        const elsewhere = addressesToShare(interleave(this.turnedAway, this.listenAddresses()), them);
        if (them) this.rememberTurnedAway(them);
        return this.refuse(WIRE_ERRORS.NONE, "connection limit reached", forRecipient(elsewhere, a.zone !== null));
      }
    }
    const listenAddress = listenAddressOf(a);
    const name = listenAddress ? peerLabel(listenAddress) : a.label;
    const key = `${name}#${this.nextKey++}`;
    this.out.push({ type: "admit", key, name, far: this.isFar(a.zone), rank: shareRank(a.peerId) });
    if (a.dialled) this.book.markConnected(a.dialled);
    const learned = listenAddress ? this.book.learn(listenAddress, true) : false;
    this.log("peer-connected", { peer: name, direction: a.dialled ? "out" : "in", ...(a.dialled && a.dialled !== name ? { via: a.dialled } : {}) });
    this.sendPeers(key, addressesToShare(this.listenAddresses(), listenAddress), a.zone !== null);
    // Everyone else hears of a newcomer that accepts connections, the first time it is seen.
    const newcomer = learned && listenAddress ? addressesToShare([listenAddress], null) : [];
    for (const [other, peer] of this.peers) this.sendPeers(other, newcomer, peer.zone !== null);
    this.peers.set(key, { peerId: a.peerId, name, listenAddress, zone: a.zone });
    return this.out.drain();
  }

  /** A connection ended: what that means for its address, and room for another peer. */
  closed(d: PeerDeparture): readonly PeersAction[] {
    const code = d.code ? wireErrorName(d.code) : undefined;
    const peer = d.peer === null ? undefined : this.peers.get(d.peer);
    if (!peer) {
      // Never became a peer (handshake failed, duplicate, limit): only the address book cares.
      if (d.code !== WIRE_ERRORS.DUPLICATE) this.log("peer-refused", { peer: d.label, code, reason: d.reason });
      if (d.dialled) this.afterDisconnect(d.dialled, d.code, d.reason);
      return this.out.drain();
    }
    this.peers.delete(d.peer!);
    this.log(this.book.isBanned(peer.name) ? "peer-banned" : "peer-disconnected", { peer: peer.name, code, reason: d.reason });
    if (d.dialled || this.book.has(peer.name)) this.afterDisconnect(d.dialled ?? peer.name, d.code, d.reason);
    if (!this.stopped) this.dialMore();
    return this.out.drain();
  }

  /** A PEERS message from `peer`: its usable entries are learned and dialled; the rest are logged. */
  peersReceived(peer: string, entries: PeerAddressEntry[]): readonly PeersAction[] {
    const from = this.peers.get(peer);
    if (!from) return [];
    const { usable, skipped } = usableAddresses(entries);
    if (skipped.length > 0) this.log("peers-skipped", { peer: from.name, addresses: skipped.join(","), reason: "not an IP literal and port" });
    for (const p of usable) this.book.learn(p);
    this.dialMore();
    return this.out.drain();
  }

  /** The download session banned the peer: its address is never dialled again. */
  banned(peer: string, reason: string): void {
    const p = this.peers.get(peer);
    if (p) this.book.markBanned(p.name, reason);
  }

  /**
   * Dials known addresses until a quarter of the peer limit is connected (dialTarget). A complete node dials only while it has no
   * peer at all: a seed restarted with its data in place must still be found, and peers
   * learn of one another only through the peers they are connected to.
   */
  private dialMore(): void {
    if (this.stopped || (this.download.complete && this.peers.size > 0)) return;
    const room = dialTarget(this.limits.maxPeers) - this.peers.size - this.book.connecting;
    const zone = this.limits.zone;
    if (!zone) {
      this.dial(this.book.dialable(), room);
      return;
    }
    // In a zone: peers of the zone up to the target, whatever else is connected, so a node
    // that met other zones first still finds its own; other addresses fill what is left,
    // and PEERS_OUTSIDE_ZONE at least carry chunks the zone does not have yet.
    const { inside, outside } = this.dialableByZone(zone);
    const inZone = this.peersIn(zone) + this.book.connectingIn(zone);
    const outsideNow = this.peers.size + this.book.connecting - inZone;
    const limit = this.limits.maxPeers - this.peers.size - this.book.connecting;
    const dialledInside = this.dial(inside, Math.min(dialTarget(this.limits.maxPeers) - inZone, limit));
    this.dial(outside, Math.min(Math.max(room - dialledInside, PEERS_OUTSIDE_ZONE - outsideNow), limit - dialledInside));
  }

  /**
   * One dial past dialTarget, for a starved node, while the peer limit has room. In a zone,
   * outside it first: the zone's peers have been asked already and have nothing it lacks.
   */
  private dialBeyondTarget(): void {
    if (this.stopped || this.peers.size + this.book.connecting >= this.limits.maxPeers) return;
    const room = Math.max(1, dialTarget(this.limits.maxPeers) - this.peers.size - this.book.connecting);
    const zone = this.limits.zone;
    if (!zone) {
      this.dial(this.book.dialable(), room);
      return;
    }
    const { inside, outside } = this.dialableByZone(zone);
    this.dial(inside, room - this.dial(outside, room));
  }

  /** Dials `room` of the entries, at random; returns how many. */
  private dial(entries: BookEntry[], room: number): number {
    const picked = this.pickAtRandom(entries, room);
    for (const entry of picked) {
      this.book.markConnecting(peerLabel(entry.address));
      this.out.push({ type: "dial", address: entry.address });
    }
    return picked.length;
  }

  private dialableByZone(zone: string): { inside: BookEntry[]; outside: BookEntry[] } {
    const inside: BookEntry[] = [];
    const outside: BookEntry[] = [];
    for (const entry of this.book.dialable()) (entry.address.zone === zone ? inside : outside).push(entry);
    return { inside, outside };
  }

  private peersIn(zone: string): number {
    let n = 0;
    for (const p of this.peers.values()) if (p.zone === zone) n++;
    return n;
  }

  /** A peer is far when both it and we have a zone, and they differ; a peer of unknown zone is near, as every peer was before zones. */
  private isFar(zone: string | null): boolean {
    return !!this.limits.zone && !!zone && zone !== this.limits.zone;
  }

  /**
   * `n` of the addresses, at random, in the order given when all fit (the --peer order).
   * Every node of a large cluster hears the same list from the same seed: dialled in list
   * order, its first entries would be swamped and the rest never tried.
   */
  private pickAtRandom<T>(items: T[], n: number): T[] {
    if (n <= 0) return [];
    if (items.length <= n) return items;
    const random = this.download.scheduler.config.random;
    const pool = [...items];
    for (let i = 0; i < n; i++) {
      const j = i + Math.floor(random() * (pool.length - i));
      [pool[i], pool[j]] = [pool[j]!, pool[i]!];
    }
    return pool.slice(0, n);
  }

  /** What a closed connection means for its address: never again, or again after a back-off. */
  private afterDisconnect(address: string, code: number, reason: string): void {
    // Retrying cannot help a peer without the package or without our secret.
    if (code === WIRE_ERRORS.UNKNOWN_PACKAGE || code === WIRE_ERRORS.AUTH_FAILED) this.book.markGone(address, reason);
    else if (code !== WIRE_ERRORS.DUPLICATE) this.book.markFailed(address, reason, this.now());
  }

  private sendPeers(peer: string, peers: PeerAddressEntry[], speaksZones: boolean): void {
    if (peers.length > 0) this.out.push({ type: "send", peer, message: { type: "PEERS", peers: forRecipient(peers, speaksZones) } });
  }

  private refuse(code: number, reason: string, peers: PeerAddressEntry[]): readonly PeersAction[] {
    this.out.push({ type: "refuse", code, reason, peers });
    return this.out.drain();
  }

  private rememberTurnedAway(address: PeerAddress): void {
    const label = peerLabel(address);
    const known = this.turnedAway.findIndex((t) => peerLabel(t) === label);
    if (known >= 0) this.turnedAway.splice(known, 1);
    this.turnedAway.unshift(address);
    if (this.turnedAway.length > MAX_TURNED_AWAY) this.turnedAway.pop();
  }

  /** Where the connected peers accept connections. */
  private listenAddresses(): PeerAddress[] {
    return [...this.peers.values()].flatMap((p) => (p.listenAddress ? [p.listenAddress] : []));
  }

  private now(): number {
    return this.download.scheduler.config.now();
  }

  private log(event: string, fields: Record<string, unknown>): void {
    this.out.push({ type: "log", event, fields });
  }
}
