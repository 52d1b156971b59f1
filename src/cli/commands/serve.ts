import { readdirSync, statSync } from "node:fs";
import { join } from "node:path";
import { NET } from "../../config.ts";
import { BtError, fsError } from "../../errors.ts";
import { packageId } from "../../pkg/format.ts";
import { readPackage } from "../../pkg/io.ts";
import { type Package, packageName } from "../../pkg/model.ts";
import { BLOCKS_PER_BURST } from "../../peer/uploader.ts";
import { PEER_ID_LENGTH } from "../../protocol/messages.ts";
import { PackageFiles } from "../../storage/files.ts";
import { defaultPayloadPath } from "../../storage/payload.ts";
import { completeStore } from "../../storage/store.ts";
import { peerLabel } from "../../swarm/address-book.ts";
import { SwarmNode } from "../../swarm/node.ts";
import { loggerFor } from "../../util/log.ts";
import { TokenBucket } from "../../util/token-bucket.ts";
import { formatBytes } from "../../util/units.ts";
import { systemClock } from "../../util/clock.ts";
import { RolloutBook } from "../../ops/rollout.ts";
import { addressFlag, expectPositionals, parseArgs, rateFlag } from "../args.ts";
import type { Command } from "../command.ts";
import { LIMIT_FLAGS, LIMIT_HELP, NETWORK_USAGE_ERRORS, networkPolicy, openListeners, ZONE_FLAGS, ZONE_HELP } from "../network.ts";
import { OUTPUT_FLAGS, OUTPUT_HELP, outputMode } from "../output.ts";
import { SECURITY_FLAGS, SECURITY_HELP } from "../security.ts";
import { untilSignal } from "../signals.ts";

const SHUTDOWN_GRACE_MS = 5_000;

/** Every .bpkg named, or found directly inside a named directory. */
function packageFiles(args: string[]): string[] {
  return args.flatMap((arg) => {
    let isDir: boolean;
    try {
      isDir = statSync(arg).isDirectory();
    } catch (err) {
      throw fsError("BT_E_INPUT", err, arg);
    }
    if (!isDir) return [arg];
    const found = readdirSync(arg).filter((n) => n.endsWith(".bpkg")).sort().map((n) => join(arg, n));
    if (found.length === 0) throw new BtError("BT_E_INPUT", `${arg}: no .bpkg files in this directory`);
    return found;
  });
}

/** The payload must be there, with the recorded kinds and sizes; its bytes are checked by every getter. */
function checkPayload(pkg: Package, files: PackageFiles): void {
  pkg.entries.forEach((e, i) => {
    if (e.kind !== "file") return;
    const path = files.pathOf(i);
    let size: number;
    try {
      const s = statSync(path);
      if (!s.isFile()) throw new BtError("BT_E_INPUT", `${path}: not a regular file`);
      size = s.size;
    } catch (err) {
      throw err instanceof BtError ? err : fsError("BT_E_INPUT", err, path);
    }
    if (size !== e.size) throw new BtError("BT_E_INPUT", `${path}: size ${size}, but the package records ${e.size}`);
  });
}

export const serve: Command = {
  name: "serve",
  summary: "seed packages to peers",
  flags: {
    data: { type: "string" },
    listen: { type: "string" },
    "max-upload-rate": { type: "string" },
    metrics: { type: "string" },
    ...LIMIT_FLAGS,
    ...ZONE_FLAGS,
    ...SECURITY_FLAGS,
    ...OUTPUT_FLAGS,
  },
  exitCodes: {
    BT_E_USAGE: NETWORK_USAGE_ERRORS,
    BT_E_INPUT: "a .bpkg, or the data it describes, is missing, unreadable or of the wrong size",
    BT_E_PACKAGE: "the .bpkg is truncated, corrupt, unsafe, not a package, or from a newer format",
  },
  help: `Usage: bytetide serve <pkg.bpkg | dir>... [--data PATH] [--listen HOST:PORT]

Serves the chunks of one or more packages to any peer that asks for them by root, and
the packages themselves to any that asks by id ('get bytetide://HOST:PORT/<id>', 'ls').
A directory argument means every .bpkg directly inside it. Each package's data is found
beside its .bpkg under the name it records.

Peers that connect announce where they listen; the seed passes those addresses on, so
getters given only the seed's address find and feed each other. With several getters
the seed super-seeds: it hands out each chunk about once and sends later askers to the
peers that have it, so its uplink carries about one copy of the package.

Options:
  --data PATH           where the data is, when serving exactly one package
  --listen HOST:PORT    address to accept peers on (default 0.0.0.0:${NET.defaultListenPort};
                        port 0 picks a free one; IPv6 as [::]:PORT)
  --max-upload-rate R   bytes per second across all peers: 100M (100 MB/s), 50MiB, or in
                        bits, 800Mbit (default, or 0: no limit)
  --metrics HOST:PORT   serve Prometheus /metrics and /healthz over HTTP there
  -h, --help            show this help

${OUTPUT_HELP}

${LIMIT_HELP}

${ZONE_HELP}

${SECURITY_HELP}

A chunk whose data on disk does not match the package is refused to peers as damaged
(REJECT DAMAGED: they name it and this peer when nobody else has it) and logged
(chunk-error), until its file's size, mtime or inode changes or SIGHUP asks for every
such chunk to be proved again.

Ctrl-C or SIGTERM stops accepting, says goodbye to every peer and exits 0.`,

  async run(argv) {
    const args = parseArgs("serve", argv, serve.flags);
    const mode = outputMode("serve", args.flags);
    const network = networkPolicy("serve", args.flags);
    const maxUploadRate = rateFlag("serve", "max-upload-rate", args.flags["max-upload-rate"]);
    const paths = packageFiles(expectPositionals("serve", args, 1, Infinity, "at least one .bpkg file or directory"));
    const data = args.flags.data as string | undefined;
    if (data !== undefined && paths.length !== 1) throw new BtError("BT_E_USAGE", `serve: --data needs exactly one package, got ${paths.length}`);
    const address = addressFlag("serve", "listen", (args.flags.listen as string | undefined) ?? `0.0.0.0:${NET.defaultListenPort}`, "0.0.0.0");

    const logger = loggerFor("serve", mode);
    const peerId = crypto.getRandomValues(new Uint8Array(PEER_ID_LENGTH));
    const uploadLimit = uploadBucket(maxUploadRate);
    const nodes = new Map<string, SwarmNode>();
    // What the gets connected here report of themselves, every package together (bounded).
    const rollout = new RolloutBook(systemClock);
    const served: { id: string; root: string; name: string; bytes: number }[] = [];
    for (const path of paths) {
      const pkg = await readPackage(path);
      const files = new PackageFiles(pkg, data ?? defaultPayloadPath(path, pkg), false);
      checkPayload(pkg, files);
      const node = new SwarmNode({
        pkg,
        id: packageId(pkg),
        store: completeStore(files, {
          trusted: false,
          onBadChunk: (chunk, file) => logger.event("chunk-error", { chunk, file, reason: "the data on disk does not match the package", action: "refused as damaged until the file changes or SIGHUP" }),
        }),
        peerId,
        bootstrap: [],
        requestsPerPeer: NET.defaultRequestsPerPeer,
        retryForMs: NET.defaultRetryForMs,
        network,
        logger,
        uploadLimit,
        superSeeding: true,
        downloadLimit: null,
      });
      if (nodes.has(node.rootHex)) throw new BtError("BT_E_USAGE", `serve: ${path} has the same root as another package given`);
      nodes.set(node.rootHex, node);
      served.push({ id: node.idHex, root: node.rootHex, name: packageName(pkg), bytes: pkg.totalSize });
    }

    const { metrics, listener } = await openListeners("serve", args.flags.metrics, { command: "serve", host: address.host, port: address.port, nodes, logger, network, rollout });
    for (const node of nodes.values()) {
      node.listenPort = listener.port;
      node.start();
    }
    const listening = peerLabel({ host: address.host, port: listener.port });
    if (mode === "json") {
      logger.event("listening", { address: listening, packages: served, metrics: metrics?.url });
    } else if (mode === "text") {
      console.log(`serving ${nodes.size} package${nodes.size === 1 ? "" : "s"} on ${listening}`);
      console.log(served.map((p) => `  ${p.id}  ${p.name} (${formatBytes(p.bytes)})`).join("\n"));
      if (metrics) console.log(`metrics on ${metrics.url}`);
    }
    // SIGHUP: an operator restored a file (perhaps with its old mtime); prove again what was refused.
    const onHangup = () => {
      for (const node of nodes.values()) logger.event("recheck", { package: node.idHex, chunks: node.recheck() });
    };
    process.on("SIGHUP", onHangup);
    const signal = await untilSignal();
    process.off("SIGHUP", onHangup);
    logger.event("stopping", { signal, connections: listener.connections.size });
    await listener.stop(SHUTDOWN_GRACE_MS);
    metrics?.stop();
    for (const node of nodes.values()) {
      node.close();
      logger.event("uploaded", { package: node.idHex, bytes: node.upload.uploadedBytes });
    }
    return 0;
  },
};

/** The --max-upload-rate bucket, shared by every connection; it holds at least one of the uploader's bursts. */
export function uploadBucket(rate: number | undefined): TokenBucket | null {
  return rate ? new TokenBucket(rate, Math.max(BLOCKS_PER_BURST * NET.blockSize, rate / 10)) : null;
}

/** The --max-download-rate bucket: requests are whole chunks, so a burst must hold one. */
export function downloadBucket(rate: number | undefined, chunkSize: number): TokenBucket | null {
  return rate ? new TokenBucket(rate, Math.max(chunkSize, rate / 10)) : null;
}
