import { type ConnectionLimits, NET } from "../config.ts";
import { BtError } from "../errors.ts";
import { parseSize } from "../util/units.ts";
import { durationFlag, type FlagSpec, integerFlag, type ParsedArgs } from "./args.ts";

/** Resource bounds shared by serve and get: documented defaults, each changeable. */
export const LIMIT_FLAGS: FlagSpec = {
  "max-connections": { type: "string" },
  "max-peers": { type: "string" },
  "handshake-timeout": { type: "string" },
  "idle-timeout": { type: "string" },
  "max-frame-size": { type: "string" },
};

/** The smallest frame limit that still carries a full PIECE block. */
const MIN_FRAME_PAYLOAD = NET.blockSize + 64;
const MAX_FRAME_PAYLOAD = 16 * 1024 * 1024;

export const LIMIT_HELP = `Resource bounds:
  --max-connections N       connections accepted at once, all packages (default ${NET.maxConnections})
  --max-peers N             peers connected per package (default ${NET.maxConnectionsPerPackage})
  --handshake-timeout D     close a connection that sends no HELLO within D (default ${NET.handshakeTimeoutMs / 1000}s)
  --idle-timeout D          close a connection silent for D (default ${NET.idleTimeoutMs / 1000}s)
  --max-frame-size SIZE     refuse frames larger than SIZE (default 1MiB; at least 257KiB)`;

export interface NetworkLimits {
  limits: ConnectionLimits;
  maxConnections: number;
  maxPeers: number;
}

export function networkLimits(command: string, flags: ParsedArgs["flags"]): NetworkLimits {
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
