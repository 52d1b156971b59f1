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

/**
 * A seed that keeps reports: notes when each STATUS arrives, on which of its connections,
 * and answers the first with REPORT_PACE `askMs`; with hangUp, closes that connection then.
 */
function pacingSeed(askMs: number, hangUp = false): { port: number; heardAt: number[]; byConnection: number[][] } {
  const heardAt: number[] = [];
  const byConnection: number[][] = [];
  const handler: ConnectionHandler = {
    onReady() {},
    onMessage(conn, message) {
      if (message.type !== "STATUS") return;
      heardAt.push(performance.now());
      byConnection[conn.context as number]!.push(performance.now());
      if (heardAt.length > 1) return;
      conn.sendMessage({ type: "REPORT_PACE", intervalMs: askMs });
      if (hangUp) conn.bye();
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
        conn.context = byConnection.push([]) - 1;
        socket.data = conn;
        conn.attach(socket);
      },
    },
  });
  cleanups.push(() => server.stop(true));
  return { port: server.port, heardAt, byConnection };
}

function startLink(port: number): ReportLink {
  const link = new ReportLink({ host: "127.0.0.1", port }, network, () => ({ package: new Uint8Array(32), report }));
  cleanups.push(() => link.stop());
  link.start();
  return link;
}

async function until(what: string, holds: () => boolean): Promise<void> {
  const deadline = Date.now() + 60_000;
  while (!holds() && Date.now() < deadline) await Bun.sleep(50);
  expect(holds(), what).toBe(true);
}

async function gapsAfterPace(askMs: number, reports: number): Promise<number[]> {
  const seed = pacingSeed(askMs);
  startLink(seed.port);
  await until(`${reports} reports`, () => seed.heardAt.length >= reports);
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

test("a pace holds for its connection: on the next one the get reports every 2 s again, as the seed counts", async () => {
  const seed = pacingSeed(10_000, true);
  startLink(seed.port);
  await until("two reports on a second connection", () => (seed.byConnection[1]?.length ?? 0) >= 2);
  const [first, second] = seed.byConnection[1]!;
  // Still at the first connection's pace, the second report would come about 8 s after the first.
  expect(second! - first!).toBeLessThan(6_000);
}, 60_000);
