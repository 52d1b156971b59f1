import { expect, test } from "bun:test";
import { NET, type NetworkPolicy } from "../../src/config.ts";
import { dial } from "../../src/peer/dial.ts";
import { type ConnectionHandler, PeerConnection } from "../../src/peer/connection.ts";
import { CAPABILITIES, NONCE_LENGTH, PEER_ID_LENGTH } from "../../src/protocol/messages.ts";

const network: NetworkPolicy = {
  limits: { maxFramePayload: NET.maxFramePayload, handshakeTimeoutMs: 2_000, idleTimeoutMs: 2_000 },
  maxConnections: 8,
  maxPeers: 8,
  secret: null,
  tls: null,
  zone: "",
};
const quiet: ConnectionHandler = { onReady() {}, onMessage() {}, onDrain() {}, onClosing() {}, onClose() {} };
const hello = { type: "HELLO" as const, root: new Uint8Array(32), peerId: new Uint8Array(PEER_ID_LENGTH), listenPort: 0, capabilities: CAPABILITIES.ZONES, nonce: new Uint8Array(NONCE_LENGTH) };

/** Dials `host:port`; resolves with the connections made, those that opened, and the failure, if any. */
function tryDial(host: string, port: number): Promise<{ made: PeerConnection[]; opened: PeerConnection[]; failed: string | null }> {
  const made: PeerConnection[] = [];
  const opened: PeerConnection[] = [];
  return new Promise((resolve) => {
    const timer = setTimeout(() => resolve({ made, opened, failed: "the test's own timeout" }), 10_000);
    dial({ host, port }, network, {
      connection: () => {
        const conn = new PeerConnection(`${host}:${port}`, { role: "initiator", hello, secret: null }, quiet, network.limits);
        made.push(conn);
        return conn;
      },
      opened: (conn) => {
        opened.push(conn);
        clearTimeout(timer);
        resolve({ made, opened, failed: null });
      },
      failed: (reason) => {
        clearTimeout(timer);
        resolve({ made, opened, failed: reason });
      },
      cancelled: () => false,
    });
  });
}

test("a dial whose address refuses never reports its connection opened: the node's connection table gets no entry that no close would remove", async () => {
  // A port just freed on loopback: nothing listens there.
  const probe = Bun.listen({ hostname: "127.0.0.1", port: 0, socket: { data() {} } });
  const port = probe.port;
  probe.stop(true);
  const result = await tryDial("127.0.0.1", port);
  expect(result.failed).not.toBeNull();
  expect(result.made.length).toBe(1);
  expect(result.opened).toEqual([]);
});

test("a dial by name reports opened once, for the connection whose socket opened", async () => {
  const server = Bun.listen({ hostname: "127.0.0.1", port: 0, socket: { data() {}, open() {} } });
  try {
    // localhost may resolve to ::1 first, where nothing listens: that connection never opens.
    const result = await tryDial("localhost", server.port);
    expect(result.failed).toBeNull();
    expect(result.opened.length).toBe(1);
    expect(result.made).toContain(result.opened[0]!);
    result.opened[0]!.destroy("test over");
  } finally {
    server.stop(true);
  }
});
