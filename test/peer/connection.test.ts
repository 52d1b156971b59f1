import { afterEach, expect, test } from "bun:test";
import type { TCPSocketListener } from "bun";
import { NET } from "../../src/config.ts";
import { type ConnectionHandler, connectionSocketHandlers, PeerConnection } from "../../src/peer/connection.ts";
import { encodeMessage, MESSAGE_TYPES, NONCE_LENGTH, PEER_ID_LENGTH } from "../../src/protocol/messages.ts";
import { WIRE_ERRORS } from "../../src/protocol/codes.ts";
import { RawPeer } from "../helpers/raw-peer.ts";

// Keepalive after 1 s of silence from us, timeout after 3 s of silence from the peer, checked every 750 ms.
const limits = { maxFramePayload: NET.maxFramePayload, handshakeTimeoutMs: 10_000, idleTimeoutMs: 3_000 };
const catalogueHello = encodeMessage({ type: "HELLO", root: new Uint8Array(32), peerId: new Uint8Array(PEER_ID_LENGTH), listenPort: 0, capabilities: 0, nonce: new Uint8Array(NONCE_LENGTH) });
const servers: TCPSocketListener<PeerConnection>[] = [];
afterEach(() => servers.splice(0).forEach((s) => s.stop(true)));

/** An acceptor of catalogue connections; `onReady` runs once each is ready. */
function acceptor(onReady: (conn: PeerConnection) => void, accepted: PeerConnection[] = []): number {
  const handler: ConnectionHandler = { onReady, onMessage() {}, onDrain() {}, onClosing() {}, onClose() {} };
  const server = Bun.listen<PeerConnection>({
    hostname: "127.0.0.1",
    port: 0,
    socket: {
      ...connectionSocketHandlers,
      open(socket) {
        const conn = new PeerConnection("raw", { role: "acceptor", accept: (hello) => hello, secret: null }, handler, limits);
        socket.data = conn;
        accepted.push(conn);
        conn.attach(socket);
      },
    },
  });
  servers.push(server);
  return server.port;
}

const typesOf = (peer: RawPeer) => peer.frames.map((f) => f.type);

test("a silent peer is sent KEEPALIVE, and after the idle timeout ERROR TIMEOUT", async () => {
  const peer = await RawPeer.connect(acceptor(() => {}));
  await peer.send(catalogueHello);
  const frames = await peer.until((fs) => fs.some((f) => f.type === MESSAGE_TYPES.ERROR));
  expect(typesOf(peer)).toContain(MESSAGE_TYPES.KEEPALIVE);
  expect(frames.at(-1)!.code).toBe(WIRE_ERRORS.TIMEOUT);
});

test("a quiet connection sends no KEEPALIVE, and still times out a silent peer", async () => {
  const peer = await RawPeer.connect(acceptor((conn) => conn.quiet()));
  await peer.send(catalogueHello);
  const frames = await peer.until((fs) => fs.some((f) => f.type === MESSAGE_TYPES.ERROR));
  expect(typesOf(peer)).toEqual([MESSAGE_TYPES.HELLO, MESSAGE_TYPES.ERROR]);
  expect(frames.at(-1)!.code).toBe(WIRE_ERRORS.TIMEOUT);
});

test("connections checked by one shared timer are each timed out, and one that closed first is let go", async () => {
  const accepted: PeerConnection[] = [];
  const port = acceptor(() => {}, accepted);
  const peers = await Promise.all(Array.from({ length: 5 }, () => RawPeer.connect(port)));
  for (const peer of peers) await peer.send(catalogueHello);
  peers[2]!.close();
  for (const peer of [peers[0]!, peers[1]!, peers[3]!, peers[4]!]) {
    const frames = await peer.until((fs) => fs.some((f) => f.type === MESSAGE_TYPES.ERROR));
    expect(frames.at(-1)!.code).toBe(WIRE_ERRORS.TIMEOUT);
  }
  expect(accepted.every((conn) => conn.closed)).toBe(true);
});

test("what a connection keeps of a peer's HELLO is its own bytes, not a view that holds the received block alive", async () => {
  const accepted: PeerConnection[] = [];
  const peer = await RawPeer.connect(acceptor(() => {}, accepted));
  // The HELLO and more in one write, so the block the socket hands over is larger than any field.
  await peer.send(new Uint8Array([...catalogueHello, ...encodeMessage({ type: "KEEPALIVE" })]));
  await peer.until((fs) => fs.length > 0);
  const ready = accepted[0]!;
  expect(ready.remoteHello!.peerId.buffer.byteLength).toBe(PEER_ID_LENGTH);
  expect(ready.remoteHello!.nonce.length).toBe(0);
  peer.close();
});
