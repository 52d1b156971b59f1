import { BtError, describeBindError } from "../errors.ts";
import { peerLabel } from "../swarm/address-book.ts";
import type { SwarmNode } from "../swarm/node.ts";

/**
 * Prometheus text exposition of the nodes' counters, written by hand: a dozen lines of a
 * stable format, where a client library would bring a registry, a dependency, and nothing
 * this needs.
 */
export function renderMetrics(nodes: Iterable<SwarmNode>): string {
  const series: [name: string, type: "counter" | "gauge", help: string, value: (n: SwarmNode) => number][] = [
    ["bytetide_bytes_sent_total", "counter", "Chunk data bytes sent to peers.", (n) => n.upload.uploadedBytes],
    ["bytetide_bytes_received_total", "counter", "Verified chunk data bytes received from peers.", (n) => n.counters.bytesReceived],
    ["bytetide_bytes_reused_total", "counter", "Verified chunk data bytes found on this node (get --reuse) instead of fetched.", (n) => n.counters.bytesReused],
    ["bytetide_chunks_served_total", "counter", "Chunks sent whole to peers.", (n) => n.counters.chunksServed],
    ["bytetide_verification_failures_total", "counter", "Received chunks that failed verification.", (n) => n.counters.verificationFailures],
    ["bytetide_connections", "gauge", "Peers connected.", (n) => n.connectedPeers],
    ["bytetide_known_peers", "gauge", "Peer addresses known.", (n) => n.knownPeers],
    ["bytetide_chunks_verified", "gauge", "Chunks this node has verified.", (n) => n.verifiedChunks],
    ["bytetide_chunks", "gauge", "Chunks in the package.", (n) => n.session.scheduler.config.chunkCount],
  ];
  const all = [...nodes];
  const lines: string[] = [];
  for (const [name, type, help, value] of series) {
    lines.push(`# HELP ${name} ${help}`, `# TYPE ${name} ${type}`);
    for (const node of all) lines.push(`${name}{package="${node.idHex}"} ${value(node)}`);
  }
  return `${lines.join("\n")}\n`;
}

/** Serves /metrics and /healthz on host:port until stopped. */
export function serveMetrics(host: string, port: number, nodes: () => Iterable<SwarmNode>): { port: number; stop(): void } {
  try {
    const server = Bun.serve({
      hostname: host,
      port,
      fetch(request) {
        const path = new URL(request.url).pathname;
        if (path === "/metrics") return new Response(renderMetrics(nodes()), { headers: { "content-type": "text/plain; version=0.0.4" } });
        if (path === "/healthz") return new Response("ok\n");
        return new Response("not found\n", { status: 404 });
      },
    });
    return { port: server.port!, stop: () => void server.stop(true) };
  } catch (err) {
    throw new BtError("BT_E_USAGE", `--metrics ${peerLabel({ host, port })}: ${describeBindError(err)}`);
  }
}
