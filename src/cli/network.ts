/** How serve and get meet peers: resource bounds, the secret and TLS, and --metrics. */
import { NET, type NetworkPolicy } from "../config.ts";
import { BtError } from "../errors.ts";
import { isZoneName, MAX_ZONE_BYTES } from "../protocol/messages.ts";
import { parseSize } from "../util/units.ts";
import { serveMetrics } from "../ops/metrics.ts";
import type { RolloutBook } from "../ops/rollout.ts";
import { type Listener, type ListenerOptions, listen } from "../serve/listener.ts";
import { peerLabel } from "../swarm/address-book.ts";
import type { SwarmNode } from "../swarm/node.ts";
import { addressFlag, durationFlag, type FlagSpec, integerFlag, type ParsedArgs } from "./args.ts";
import { readSecret, readTls } from "./security.ts";

/** What exit 2 means for a command that meets peers. */
export const NETWORK_USAGE_ERRORS =
  "bad arguments: unknown flag, bad value, unreadable --secret-file or --tls-* file, a --listen or --metrics address in use or unresolvable";

/** Resource bounds shared by serve and get: documented defaults, each changeable. */
export const LIMIT_FLAGS: FlagSpec = {
  "max-connections": { type: "string" },
  "max-peers": { type: "string" },
  "handshake-timeout": { type: "string" },
  "idle-timeout": { type: "string" },
  "max-frame-size": { type: "string" },
};

/** Where the node sits: serve and get both take it. */
export const ZONE_FLAGS: FlagSpec = {
  zone: { type: "string" },
};

export const ZONE_HELP = `Locality:
  --zone NAME               this node's zone: its rack, switch or availability zone, 1-63
                            letters, digits and . _ : / - (Kubernetes: the node's
                            topology.kubernetes.io/zone label). Peers of the same zone are
                            dialled and asked first; a chunk is fetched from another zone
                            only when no peer of its zone has it. Default: none, every peer
                            alike`;

/** The smallest frame limit that still carries a full PIECE block. */
const MIN_FRAME_PAYLOAD = NET.blockSize + 64;
const MAX_FRAME_PAYLOAD = 16 * 1024 * 1024;

export const LIMIT_HELP = `Resource bounds:
  --max-connections N       connections accepted at once, all packages (default ${NET.maxConnections})
  --max-peers N             peers connected per package (default ${NET.maxConnectionsPerPackage}); a node dials
                            a quarter of them, the rest is room for peers that dial it
  --handshake-timeout D     close a connection that sends no HELLO within D (default ${NET.handshakeTimeoutMs / 1000}s)
  --idle-timeout D          close a connection silent for D (default ${NET.idleTimeoutMs / 1000}s)
  --max-frame-size SIZE     refuse frames larger than SIZE (default 1MiB; at least 257KiB)`;

function networkLimits(command: string, flags: ParsedArgs["flags"]): Omit<NetworkPolicy, "secret" | "tls" | "zone"> {
  const frame = flags["max-frame-size"] === undefined ? NET.maxFramePayload : parseSize(String(flags["max-frame-size"]));
  if (frame === null || frame < MIN_FRAME_PAYLOAD || frame > MAX_FRAME_PAYLOAD) {
    throw new BtError("BT_E_USAGE", `${command}: --max-frame-size ${flags["max-frame-size"]}: expected a size from 257KiB to 16MiB`);
  }
  const timeout = (flag: string, fallback: number) => {
    const ms = durationFlag(command, flag, flags[flag], fallback);
    if (ms < 100) throw new BtError("BT_E_USAGE", `${command}: --${flag} ${flags[flag]}: expected at least 100ms`);
    return ms;
  };
  return {
    limits: {
      maxFramePayload: frame,
      handshakeTimeoutMs: timeout("handshake-timeout", NET.handshakeTimeoutMs),
      idleTimeoutMs: timeout("idle-timeout", NET.idleTimeoutMs),
    },
    maxConnections: integerFlag(command, "max-connections", flags["max-connections"], NET.maxConnections, 1, 65_536),
    maxPeers: integerFlag(command, "max-peers", flags["max-peers"], NET.maxConnectionsPerPackage, 1, 10_000),
  };
}

/** Bounds, secret, TLS and zone, as serve and get both take them. */
export function networkPolicy(command: string, flags: ParsedArgs["flags"]): NetworkPolicy {
  return { ...networkLimits(command, flags), secret: readSecret(command, flags), tls: readTls(command, flags), zone: zoneFlag(command, flags.zone) };
}

function zoneFlag(command: string, value: unknown): string {
  if (value === undefined) return "";
  const zone = String(value);
  if (!isZoneName(zone)) throw new BtError("BT_E_USAGE", `${command}: --zone ${JSON.stringify(zone)}: expected 1-${MAX_ZONE_BYTES} letters, digits and . _ : / -, such as rack-12 or us-east-1a`);
  return zone;
}

/**
 * Binds --metrics (when given), then the peers' listener. A bad or busy --metrics fails
 * the start before any peer is served: a unit with a typo must not run on without its
 * metrics. On a failure nothing stays bound.
 */
export async function openListeners(command: string, metricsFlag: unknown, options: ListenerOptions): Promise<{ metrics: ReturnType<typeof startMetrics>; listener: Listener }> {
  const metrics = startMetrics(command, metricsFlag, () => options.nodes.values(), options.rollout);
  try {
    return { metrics, listener: await listen(options) };
  } catch (err) {
    metrics?.stop();
    throw err;
  }
}

/** Starts --metrics when given; returns its URL and a stop function, or null. */
export function startMetrics(command: string, value: unknown, nodes: () => Iterable<SwarmNode>, rollout?: RolloutBook): { url: string; stop(): void } | null {
  if (value === undefined) return null;
  const at = addressFlag(command, "metrics", String(value), "127.0.0.1");
  let server: ReturnType<typeof serveMetrics>;
  try {
    server = serveMetrics(at.host, at.port, nodes, rollout);
  } catch (err) {
    throw err instanceof BtError ? new BtError(err.code, `${command}: ${err.message}`) : err;
  }
  return { url: `http://${peerLabel({ host: at.host, port: server.port })}/metrics`, stop: server.stop };
}
