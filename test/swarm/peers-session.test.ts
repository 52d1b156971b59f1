import { expect, test } from "bun:test";
import { WIRE_ERRORS } from "../../src/protocol/codes.ts";
import { AddressBook, type PeerAddress } from "../../src/swarm/address-book.ts";
import { dialTarget, type PeerArrival, type PeersAction, PeersSession } from "../../src/swarm/peers-session.ts";
import type { DownloadSession } from "../../src/swarm/session.ts";
import { SeedSession, SessionSwarm } from "../helpers/session-swarm.ts";

const OUR_ID = new Uint8Array(20).fill(5);
const at = (host: string, port = 7000): PeerAddress => ({ host, port });

/** A peers session on a fake clock: a downloading node, or a complete one. */
function node(options: { maxPeers?: number; complete?: boolean; randomSeed?: number; zone?: string } = {}) {
  const clock = options.complete ? new SeedSession(4) : new SessionSwarm({ chunks: 4, seed: options.randomSeed ?? 1 });
  const download: DownloadSession = clock instanceof SeedSession ? clock.download : clock.session;
  const book = new AddressBook(100);
  const peers = new PeersSession(download, book, { maxPeers: options.maxPeers ?? 10, ourId: OUR_ID, zone: options.zone });
  return { peers, book, clock };
}

const dials = (actions: readonly PeersAction[]) => actions.flatMap((a) => (a.type === "dial" ? [`${a.address.host}:${a.address.port}`] : []));
const sends = (actions: readonly PeersAction[]) => actions.flatMap((a) => (a.type === "send" && a.message.type === "PEERS" ? [{ to: a.peer, peers: a.message.peers.map((p) => `${p.host}:${p.port}`) }] : []));
const logs = (actions: readonly PeersAction[]) => actions.flatMap((a) => (a.type === "log" ? [a.event] : []));

/** A handshaken connection from the peer with id byte `id`, listening at `host`:7000. */
function arrival(id: number, host: string, dialled?: string): PeerArrival {
  return { peerId: new Uint8Array(20).fill(id), host, listenPort: 7000, label: `${host}:50000`, zone: null, ...(dialled ? { dialled } : {}) };
}

/** Admits the arrival and returns its key. */
function connect(peers: PeersSession, a: PeerArrival): string {
  const admitted = peers.arrived(a).find((x) => x.type === "admit");
  if (admitted?.type !== "admit") throw new Error("not admitted");
  return admitted.key;
}

test("a failed address is redialled on the tick its back-off ends: 250, 500, 1000 ms", () => {
  const { peers, clock } = node();
  expect(dials(peers.start([at("10.0.0.1")]))).toEqual(["10.0.0.1:7000"]);
  for (const delay of [250, 500, 1000]) {
    const failed = peers.dialFailed("10.0.0.1:7000", "connection refused");
    expect(failed).toEqual([{ type: "log", event: "peer-unreachable", fields: { peer: "10.0.0.1:7000", reason: "connection refused" } }]);
    const from = clock.now;
    clock.now = from + delay - 1;
    expect(dials(peers.tick())).toEqual([]);
    clock.now = from + delay;
    expect(dials(peers.tick())).toEqual(["10.0.0.1:7000"]);
    expect(dials(peers.tick())).toEqual([]);
  }
});

test("no redial once the download is over, and no dial at all once the node stops", () => {
  const over = node();
  over.peers.start([at("10.0.0.1")]);
  over.peers.dialFailed("10.0.0.1:7000", "refused");
  over.peers.finished();
  over.clock.now = 60_000;
  expect(dials(over.peers.tick())).toEqual([]);

  const stopped = node();
  stopped.peers.start([at("10.0.0.1"), at("10.0.0.2")]);
  const key = connect(stopped.peers, arrival(9, "10.0.0.2", "10.0.0.2:7000"));
  stopped.peers.stop();
  expect(stopped.peers.dialFailed("10.0.0.1:7000", "refused")).toEqual([]);
  expect(dials(stopped.peers.closed({ peer: key, dialled: "10.0.0.2:7000", label: "x", code: 0, reason: "bye" }))).toEqual([]);
  stopped.clock.now = 60_000;
  expect(dials(stopped.peers.tick())).toEqual([]);
});

test("dials up to a quarter of the peer limit, counting dials in progress; a peer leaving makes room", () => {
  const { peers } = node({ maxPeers: 8 });
  expect(dialTarget(8)).toBe(2);
  expect(dials(peers.start([at("10.0.0.1"), at("10.0.0.2")]))).toEqual(["10.0.0.1:7000", "10.0.0.2:7000"]);
  const key = connect(peers, arrival(9, "10.0.0.1", "10.0.0.1:7000"));
  const more = peers.peersReceived(key, [at("10.0.0.3"), at("10.0.0.4")]);
  expect(dials(more)).toEqual([]);
  connect(peers, arrival(8, "10.0.0.2", "10.0.0.2:7000"));
  const next = dials(peers.closed({ peer: key, dialled: "10.0.0.1:7000", label: "x", code: 0, reason: "bye" }));
  expect(next).toHaveLength(1);
  expect(["10.0.0.3:7000", "10.0.0.4:7000"]).toContain(next[0]!);
});

test("with more addresses than room, the ones dialled are picked at random, not the first of the list", () => {
  const list = Array.from({ length: 40 }, (_, i) => at(`10.0.1.${i + 1}`));
  const picked = new Set<string>();
  for (let seed = 1; seed <= 20; seed++) {
    const { peers } = node({ maxPeers: 8, randomSeed: seed });
    const chosen = dials(peers.start(list));
    expect(chosen).toHaveLength(2);
    for (const c of chosen) picked.add(c);
  }
  // Twenty nodes given the same list spread their dials over it.
  expect(picked.size).toBeGreaterThan(10);
});

test("the rest of the limit is for peers that dial us; past it a connection is refused and told where our peers are", () => {
  const { peers } = node({ maxPeers: 2 });
  expect(dials(peers.start([at("10.0.0.1")]))).toEqual(["10.0.0.1:7000"]);
  const key = connect(peers, arrival(9, "10.0.0.1", "10.0.0.1:7000"));
  expect(dials(peers.peersReceived(key, [at("10.0.0.3")]))).toEqual([]);
  connect(peers, arrival(8, "10.0.0.2"));
  const elsewhere = [{ host: "10.0.0.1", port: 7000 }, { host: "10.0.0.2", port: 7000 }];
  expect(peers.arrived(arrival(7, "10.0.0.9"))).toEqual([{ type: "refuse", code: WIRE_ERRORS.NONE, reason: "connection limit reached", peers: elsewhere }]);
  // The next one turned away also hears of the one before it, first, so those turned away find one another.
  const next = peers.arrived(arrival(6, "10.0.0.8"));
  expect(next).toEqual([{ type: "refuse", code: WIRE_ERRORS.NONE, reason: "connection limit reached", peers: [{ host: "10.0.0.9", port: 7000 }, ...elsewhere] }]);
  // The peer that dialled us still makes up the one peer this node dials for.
  expect(dials(peers.closed({ peer: key, dialled: "10.0.0.1:7000", label: "x", code: 0, reason: "bye" }))).toEqual([]);
});

test("a complete node dials only while it has no peer", () => {
  const { peers } = node({ complete: true });
  expect(dials(peers.start([at("10.0.0.1"), at("10.0.0.2")]))).toEqual(["10.0.0.1:7000", "10.0.0.2:7000"]);
  const key = connect(peers, arrival(9, "10.0.0.1", "10.0.0.1:7000"));
  expect(dials(peers.peersReceived(key, [{ host: "10.0.0.3", port: 7000 }]))).toEqual([]);
  expect(dials(peers.closed({ peer: key, dialled: "10.0.0.1:7000", label: "x", code: 0, reason: "bye" }))).toEqual(["10.0.0.3:7000"]);
});

test("a newcomer hears of the peers connected now, and they hear of it only the first time", () => {
  const { peers } = node();
  const a = connect(peers, arrival(1, "10.0.0.1"));
  const b = connect(peers, arrival(2, "10.0.0.2"));
  const first = peers.arrived(arrival(3, "10.0.0.3"));
  const c = (first[0] as { key: string }).key;
  expect(sends(first)).toEqual([
    { to: c, peers: ["10.0.0.1:7000", "10.0.0.2:7000"] },
    { to: a, peers: ["10.0.0.3:7000"] },
    { to: b, peers: ["10.0.0.3:7000"] },
  ]);
  peers.closed({ peer: c, label: "x", code: 0, reason: "bye" });
  const again = peers.arrived(arrival(3, "10.0.0.3"));
  expect(sends(again)).toEqual([{ to: (again[0] as { key: string }).key, peers: ["10.0.0.1:7000", "10.0.0.2:7000"] }]);
});

test("names are never passed on, and received ones are logged and skipped", () => {
  const { peers } = node();
  const named = connect(peers, arrival(1, "seed.example"));
  const newcomer = peers.arrived(arrival(2, "10.0.0.2"));
  expect(sends(newcomer)).toEqual([{ to: named, peers: ["10.0.0.2:7000"] }]);
  const received = peers.peersReceived(named, [
    { host: "seed.example", port: 7000 },
    { host: "10.0.0.5", port: 0 },
    { host: "10.0.0.6", port: 7000 },
  ]);
  expect(received).toContainEqual({ type: "log", event: "peers-skipped", fields: { peer: "seed.example:7000", addresses: "seed.example:7000,10.0.0.5:0", reason: "not an IP literal and port" } });
  expect(dials(received)).toEqual(["10.0.0.6:7000"]);
});

test("an address without the package, without our secret, or banned is never dialled again", () => {
  const { peers, clock } = node();
  peers.start([at("10.0.0.1"), at("10.0.0.2"), at("10.0.0.3"), at("10.0.0.4")]);
  const gone = { label: "x", reason: "no", peer: null };
  expect(logs(peers.closed({ ...gone, dialled: "10.0.0.1:7000", code: WIRE_ERRORS.UNKNOWN_PACKAGE }))).toEqual(["peer-refused"]);
  peers.closed({ ...gone, dialled: "10.0.0.2:7000", code: WIRE_ERRORS.AUTH_FAILED });
  peers.closed({ ...gone, dialled: "10.0.0.3:7000", code: WIRE_ERRORS.BAD_DATA });
  const key = connect(peers, arrival(9, "10.0.0.4", "10.0.0.4:7000"));
  peers.banned(key, "sent bad chunks");
  expect(logs(peers.closed({ peer: key, dialled: "10.0.0.4:7000", label: "x", code: WIRE_ERRORS.BAD_DATA, reason: "bad" }))).toEqual(["peer-banned"]);
  clock.now = 60_000;
  expect(dials(peers.tick())).toEqual(["10.0.0.3:7000"]);
});

test("the duplicate-connection rule: ourselves refused, a crossed dial replaces or is refused", () => {
  const { peers } = node();
  expect(peers.arrived(arrival(5, "10.0.0.5"))).toEqual([{ type: "refuse", code: WIRE_ERRORS.DUPLICATE, reason: "connected to itself", peers: [] }]);
  // A larger peer id: the connection we dialled is kept, the one it dialled is refused.
  const accepted = connect(peers, arrival(9, "10.0.0.9"));
  const crossed = peers.arrived(arrival(9, "10.0.0.9", "10.0.0.9:7000"));
  expect(crossed[0]).toEqual({ type: "bye", peer: accepted, code: WIRE_ERRORS.DUPLICATE, reason: "already connected" });
  expect(crossed[1]?.type).toBe("admit");
  expect(peers.arrived(arrival(9, "10.0.0.9"))).toEqual([{ type: "refuse", code: WIRE_ERRORS.DUPLICATE, reason: "already connected", peers: [] }]);
});

/**
 * A downloading node with one peer that has nothing, which told it of `learned` more
 * addresses; `arrive` admits a dialled address as a peer with nothing either.
 */
function starvedNode(maxPeers: number, learned: PeerAddress[]) {
  const { peers, clock } = node({ maxPeers });
  const swarm = clock as SessionSwarm;
  swarm.start();
  peers.start([at("10.0.0.1")]);
  let nextId = 9;
  const arrive = (dialled: string) => {
    const key = connect(peers, arrival(nextId--, dialled.split(":")[0]!, dialled));
    swarm.connect(key, { has: [] });
  };
  arrive("10.0.0.1:7000");
  peers.peersReceived([...swarm.open.keys()][0]!, learned);
  return { peers, swarm, arrive };
}

test("a downloading node whose peers have nothing it lacks dials one more address after 8 ticks, up to the peer limit", () => {
  const { peers, swarm, arrive } = starvedNode(4, [at("10.0.0.2"), at("10.0.0.3"), at("10.0.0.4"), at("10.0.0.5")]);
  for (const round of [1, 2]) {
    for (let tick = 1; tick <= 7; tick++) expect(dials(peers.tick())).toEqual([]);
    const dialled = dials(peers.tick());
    expect(dialled, `round ${round}`).toHaveLength(1);
    // The dialled peer arrives, and has nothing either: eight ticks more, one more dial.
    arrive(dialled[0]!);
  }
  // Once a peer has a chunk it lacks, the node is not starved: no dial past the target.
  swarm.connect("with-data", { has: [0] });
  for (let tick = 1; tick <= 16; tick++) expect(dials(peers.tick())).toEqual([]);
});

test("a starved node at the peer limit dials no more", () => {
  const { peers } = starvedNode(1, [at("10.0.0.2")]);
  for (let tick = 1; tick <= 16; tick++) expect(dials(peers.tick())).toEqual([]);
});

const inZone = (host: string, zone: string): PeerAddress => ({ ...at(host), zone });
const admitted = (actions: readonly PeersAction[]) => actions.find((a) => a.type === "admit") as Extract<PeersAction, { type: "admit" }>;

test("in a zone: addresses of the zone are dialled up to the target, whatever else is connected", () => {
  const { peers } = node({ maxPeers: 12, zone: "a", randomSeed: 3 });
  expect(dialTarget(12)).toBe(3);
  // The seed, of unknown zone, is the only address known: it is dialled.
  expect(dials(peers.start([at("10.0.0.1")]))).toEqual(["10.0.0.1:7000"]);
  const seed = connect(peers, { ...arrival(9, "10.0.0.1", "10.0.0.1:7000"), zone: "" });
  // It tells of three nodes in zone a and three in zone b: the three of zone a are dialled,
  // the target's worth, though with the seed that is one more than the target, and one of
  // zone b, for a second peer outside.
  const told = [inZone("10.0.1.1", "b"), inZone("10.0.1.2", "b"), inZone("10.0.1.3", "b"), inZone("10.0.0.2", "a"), inZone("10.0.0.3", "a"), inZone("10.0.0.4", "a")];
  const first = dials(peers.peersReceived(seed, told));
  const ofZoneA = first.filter((d) => d.startsWith("10.0.0."));
  expect(ofZoneA.sort()).toEqual(["10.0.0.2:7000", "10.0.0.3:7000", "10.0.0.4:7000"]);
  expect(first.filter((d) => d.startsWith("10.0.1."))).toHaveLength(1);
  for (const [i, d] of ofZoneA.entries()) connect(peers, { ...arrival(20 + i, d.split(":")[0]!, d), zone: "a" });
  // With the zone's target met and two peers outside, neither another of zone a nor of b is dialled.
  expect(dials(peers.peersReceived(seed, [inZone("10.0.0.5", "a")]))).toEqual([]);
});

test("in a zone with only its own peers connected, two addresses outside it are dialled too", () => {
  const { peers } = node({ maxPeers: 12, zone: "a" });
  peers.start([inZone("10.0.0.2", "a")]);
  const key = connect(peers, { ...arrival(9, "10.0.0.2", "10.0.0.2:7000"), zone: "a" });
  const dialled = dials(peers.peersReceived(key, [inZone("10.0.0.3", "a"), inZone("10.0.0.4", "a"), inZone("10.0.1.1", "b"), inZone("10.0.2.1", "c"), inZone("10.0.3.1", "d")]));
  const outside = dialled.filter((d) => !d.startsWith("10.0.0."));
  expect(dialled.filter((d) => d.startsWith("10.0.0.")).sort()).toEqual(["10.0.0.3:7000", "10.0.0.4:7000"]);
  expect(outside).toHaveLength(2);
});

test("without a zone, zones known for addresses change nothing: the same dials as before zones", () => {
  const zoned = node({ maxPeers: 12, randomSeed: 5 });
  const plain = node({ maxPeers: 12, randomSeed: 5 });
  const hosts = Array.from({ length: 9 }, (_, i) => `10.0.0.${i + 2}`);
  expect(dials(zoned.peers.start(hosts.map((h, i) => inZone(h, i % 2 ? "a" : "b"))))).toEqual(dials(plain.peers.start(hosts.map((h) => at(h)))));
});

test("a peer is far only when both zones are known and differ; PEERS carries zones only to a peer that speaks them", () => {
  const { peers } = node({ maxPeers: 12, zone: "a" });
  peers.start([]);
  expect(admitted(peers.arrived({ ...arrival(9, "10.0.1.1"), zone: "b" })).far).toBe(true);
  expect(admitted(peers.arrived({ ...arrival(8, "10.0.0.2"), zone: "a" })).far).toBe(false);
  expect(admitted(peers.arrived({ ...arrival(7, "10.0.0.3"), zone: "" })).far).toBe(false);
  const older = peers.arrived({ ...arrival(6, "10.0.0.4"), zone: null });
  expect(admitted(older).far).toBe(false);
  const peersTo = (actions: readonly PeersAction[], key: string) => actions.flatMap((a) => (a.type === "send" && a.peer === key && a.message.type === "PEERS" ? a.message.peers : []));
  // The older peer is told the others without zones; the zoned ones hear of it with its zone unknown.
  expect(peersTo(older, admitted(older).key)).toEqual([{ host: "10.0.1.1", port: 7000 }, { host: "10.0.0.2", port: 7000 }, { host: "10.0.0.3", port: 7000 }]);
  const newcomer = peers.arrived({ ...arrival(4, "10.0.1.9"), zone: "b" });
  const zonedKey = (newcomer.find((a) => a.type === "send" && a.message.type === "PEERS" && a.message.peers.some((p) => p.host === "10.0.1.9")) as { peer: string }).peer;
  expect(peersTo(newcomer, zonedKey)).toEqual([{ host: "10.0.1.9", port: 7000, zone: "b" }]);
  expect(peersTo(newcomer, admitted(newcomer).key)).toContainEqual({ host: "10.0.1.1", port: 7000, zone: "b" });
  expect(peersTo(newcomer, admitted(older).key)).toEqual([{ host: "10.0.1.9", port: 7000 }]);
});
