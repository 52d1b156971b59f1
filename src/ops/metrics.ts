import { BtError, describeBindError } from "../errors.ts";
import { peerLabel } from "../swarm/address-book.ts";
import type { SwarmNode } from "../swarm/node.ts";
import { type PackageRollout, type RolloutBook, SHOWN_ORDER } from "./rollout.ts";
// Embedded in the executable by `bun build --compile`: the page loads nothing else, for clusters offline.
import rolloutPageText from "./rollout-page.html" with { type: "text" };

/** A text import is a string; bun-types declares every *.html import as an HTMLBundle. */
const rolloutPage = rolloutPageText as unknown as string;

/**
 * Prometheus text exposition of the nodes' counters, written by hand: a dozen lines of a
 * stable format, where a client library would bring a registry, a dependency, and nothing
 * this needs.
 */
export function renderMetrics(nodes: Iterable<SwarmNode>, rollouts: readonly PackageRollout[] = []): string {
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
  if (rollouts.length > 0) lines.push(...swarmGauges(rollouts));
  return `${lines.join("\n")}\n`;
}

/**
 * What a seed's nodes reported (rollout.ts), per package: by state, bytes still to
 * deliver, the ETA. No label names a node, so the series stay as few as the packages.
 */
function swarmGauges(rollouts: readonly PackageRollout[]): string[] {
  const lines = ["# HELP bytetide_swarm_nodes Nodes that reported to this seed, by the state it shows.", "# TYPE bytetide_swarm_nodes gauge"];
  for (const r of rollouts) for (const state of SHOWN_ORDER) lines.push(`bytetide_swarm_nodes{package="${r.package}",state="${state}"} ${r.byState[state]}`);
  lines.push("# HELP bytetide_swarm_bytes_remaining Bytes the reporting nodes not yet done still need.", "# TYPE bytetide_swarm_bytes_remaining gauge");
  for (const r of rollouts) lines.push(`bytetide_swarm_bytes_remaining{package="${r.package}"} ${r.bytesRemaining}`);
  lines.push("# HELP bytetide_swarm_eta_seconds Seconds until the reporting nodes are done at their summed rate; NaN when nothing moves.", "# TYPE bytetide_swarm_eta_seconds gauge");
  for (const r of rollouts) lines.push(`bytetide_swarm_eta_seconds{package="${r.package}"} ${r.etaSeconds === null ? (r.bytesRemaining === 0 ? 0 : "NaN") : Math.round(r.etaSeconds * 10) / 10}`);
  return lines;
}

/**
 * Serves /metrics and /healthz on host:port until stopped; with a seed's rollout book, also
 * / (the rollout page, read-only, polling) and /api/swarm (the book's view as JSON).
 */
export function serveMetrics(host: string, port: number, nodes: () => Iterable<SwarmNode>, rollout?: RolloutBook): { port: number; stop(): void } {
  try {
    const server = Bun.serve({
      hostname: host,
      port,
      fetch(request) {
        const path = new URL(request.url).pathname;
        if (path === "/metrics") return new Response(renderMetrics(nodes(), rollout?.view()), { headers: { "content-type": "text/plain; version=0.0.4" } });
        if (path === "/api/swarm" && rollout) return new Response(rollout.document(), { headers: { "content-type": "application/json" } });
        if (path === "/" && rollout) return new Response(rolloutPage, { headers: { "content-type": "text/html; charset=utf-8" } });
        if (path === "/healthz") return new Response("ok\n");
        return new Response("not found\n", { status: 404 });
      },
    });
    return { port: server.port!, stop: () => void server.stop(true) };
  } catch (err) {
    throw new BtError("BT_E_USAGE", `--metrics ${peerLabel({ host, port })}: ${describeBindError(err)}`);
  }
}
