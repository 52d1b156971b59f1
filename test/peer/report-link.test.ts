import { afterEach, expect, test } from "bun:test";
import type { TCPSocketListener } from "bun";
import { networkPolicy } from "../../src/cli/network.ts";
import { type ConnectionHandler, connectionSocketHandlers, PeerConnection } from "../../src/peer/connection.ts";
import { ReportLink } from "../../src/peer/report-link.ts";
import { CAPABILITIES } from "../../src/protocol/messages.ts";
import type { NodeReport } from "../../src/protocol/status.ts";

const network = networkPolicy("test", {});
const report: NodeReport = { name: "node-1", zone: "", state: "downloading", verifiedBytes: 0, totalBytes: 1, rateBytesPerSecond: 0, peers: 1, errorCode: "", errorMessage: "", version: "0.1.0" };
const cleanups: (() => void)[] = [];
afterEach(() => cleanups.splice(0).forEach((stop) => stop()));

/** A seed that keeps reports: notes when each STATUS arrives, and answers the first with REPORT_PACE `askMs`. */
function pacingSeed(askMs: number): { port: number; heardAt: number[] } {
  const heardAt: number[] = [];
  const handler: ConnectionHandler = {
    onReady() {},
    onMessage(conn, message) {
      if (message.type !== "STATUS") return;
      heardAt.push(performance.now());
      if (heardAt.length === 1) conn.sendMessage({ type: "REPORT_PACE", intervalMs: askMs });
    },
    onDrain() {},
    onClosing() {},
    onClose() {},
  };
  const server: TCPSocketListener<PeerConnection> = Bun.listen<PeerConnection>({
    hostname: "127.0.0.1",
    port: 0,
    socket: {
      ...connectionSocketHandlers,
      open(socket) {
        const conn = new PeerConnection("get", { role: "acceptor", accept: (hello) => ({ ...hello, capabilities: CAPABILITIES.REPORTS }), secret: null }, handler, network.limits);
        socket.data = conn;
        conn.attach(socket);
      },
    },
  });
  cleanups.push(() => server.stop(true));
  return { port: server.port, heardAt };
}

async function gapsAfterPace(askMs: number, reports: number): Promise<number[]> {
  const seed = pacingSeed(askMs);
  const link = new ReportLink({ host: "127.0.0.1", port: seed.port }, network, () => ({ package: new Uint8Array(32), report }));
  cleanups.push(() => link.stop());
  link.start();
  const deadline = Date.now() + 60_000;
  while (seed.heardAt.length < reports && Date.now() < deadline) await Bun.sleep(50);
  expect(seed.heardAt.length).toBeGreaterThanOrEqual(reports);
  // From the second report on: the first is sent on connecting, the pace is asked in answer to it.
  return seed.heardAt.slice(2).map((at, i) => at - seed.heardAt[i + 1]!);
}

test("a get reports at the slower pace its seed asks for", async () => {
  const gaps = await gapsAfterPace(4_000, 4);
  for (const gap of gaps) expect(gap).toBeGreaterThan(3_500);
}, 60_000);

test("a pace faster than every 2 s is not taken", async () => {
  const gaps = await gapsAfterPace(100, 4);
  for (const gap of gaps) expect(gap).toBeGreaterThan(1_500);
}, 60_000);
