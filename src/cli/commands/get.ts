import { lstatSync, rmSync } from "node:fs";
import { resolve } from "node:path";
import { NET } from "../../config.ts";
import { BtError } from "../../errors.ts";
import { readPackage } from "../../pkg/io.ts";
import { packageName } from "../../pkg/model.ts";
import { Output, outputPaths } from "../../storage/output.ts";
import { verifyPayload } from "../../storage/verify.ts";
import { download } from "../../swarm/download.ts";
import { stderrLogger } from "../../util/log.ts";
import { formatBytes, toHex } from "../../util/units.ts";
import { addressFlag, durationFlag, expectPositionals, integerFlag, listFlag, parseArgs } from "../args.ts";
import type { Command } from "../command.ts";
import { createProgress } from "../progress.ts";
import { abortOnSignal } from "../signals.ts";

const exists = (path: string): boolean => {
  try {
    lstatSync(path);
    return true;
  } catch {
    return false;
  }
};

export const get: Command = {
  name: "get",
  summary: "download a package from peers, verifying every chunk",
  help: `Usage: bytetide get <pkg.bpkg> --peer HOST:PORT [--peer ...] [-o PATH] [--concurrency N]

Downloads the package's data from the peers, many requests in flight to each. Every chunk
is checked against its SHA-256 before it is written, and the Merkle root before the
result is renamed into place: until then it is PATH.part, with progress in PATH.btstate.
An interrupted get (Ctrl-C, kill -9, power loss) resumes where it stopped when run again.
If PATH already holds the complete, correct data, get verifies it and downloads nothing.

Prints 'VERIFY OK <root>' on success.

Options:
  --peer HOST:PORT      a peer serving the package (repeatable; IPv6 as [addr]:port)
  -o, --output PATH     where to put the file or directory (default: ./<package name>)
  --concurrency N       requests in flight per peer, 1 to ${NET.maxRequestsPerPeer} (default ${NET.defaultRequestsPerPeer})
  --retry-for DURATION  with no usable peer, keep retrying this long (default ${NET.defaultRetryForMs / 1000}s)
  -f, --force           replace an existing output that does not match the package
  -h, --help            show this help

Exit codes: 5 verification failed, 8 no peer could supply the data, 130 interrupted;
progress is saved in every case.`,

  async run(argv) {
    const args = parseArgs("get", argv, {
      peer: { type: "string", multiple: true },
      output: { type: "string", short: "o" },
      concurrency: { type: "string" },
      "retry-for": { type: "string" },
      force: { type: "boolean", short: "f" },
    });
    const [packagePath] = expectPositionals("get", args, 1, 1, "one .bpkg file");
    const peers = listFlag(args.flags.peer).map((p) => addressFlag("get", "peer", p, "127.0.0.1"));
    const requestsPerPeer = integerFlag("get", "concurrency", args.flags.concurrency, NET.defaultRequestsPerPeer, 1, NET.maxRequestsPerPeer);
    const retryForMs = durationFlag("get", "retry-for", args.flags["retry-for"], NET.defaultRetryForMs);
    const pkg = await readPackage(packagePath!);
    const paths = outputPaths(resolve((args.flags.output as string | undefined) ?? packageName(pkg)));
    const root = toHex(pkg.root);

    if (exists(paths.final)) {
      const report = await verifyPayload(pkg, paths.final);
      if (report.ok) {
        console.log(`VERIFY OK ${root}`);
        return 0;
      }
      if (args.flags.force !== true) {
        const bad = report.badChunks.length + report.missingChunks.length;
        throw new BtError("BT_E_EXISTS", `get: ${paths.final} exists and does not match the package (${bad} of ${report.chunkCount} chunks differ); move it away or use --force`);
      }
      rmSync(paths.final, { recursive: true, force: true });
    }
    if (peers.length === 0) throw new BtError("BT_E_USAGE", "get: no peers given (use --peer HOST:PORT)");

    const logger = stderrLogger("get");
    const output = await Output.open(pkg, paths, logger);
    const progress = createProgress("downloading", pkg.totalSize);
    try {
      const result = await download({
        pkg,
        output,
        peers,
        requestsPerPeer,
        retryForMs,
        logger,
        signal: abortOnSignal(),
        onProgress: (bytes) => progress.update(bytes),
      });
      progress.finish();
      await output.finalize();
      const rate = result.seconds > 0 ? pkg.totalSize / result.seconds : 0;
      for (const [peer, bytes] of result.receivedFrom) logger.event("received", { peer, bytes });
      const latency = result.requestLatencyMs;
      logger.event("done", {
        bytes: pkg.totalSize,
        seconds: result.seconds.toFixed(3),
        rate: `${formatBytes(rate)}/s`,
        output: paths.final,
        chunk_latency_p50_ms: latency.percentile(50).toFixed(2),
        chunk_latency_p95_ms: latency.percentile(95).toFixed(2),
        chunk_latency_p99_ms: latency.percentile(99).toFixed(2),
        in_flight_peak: result.inFlightPeak,
      });
      console.log(`VERIFY OK ${root}`);
      return 0;
    } catch (err) {
      progress.finish();
      await output.suspend();
      const saved = `${output.verified.count} of ${output.verified.size} chunks`;
      if (err instanceof BtError && err.code === "BT_E_INTERRUPTED") {
        throw new BtError("BT_E_INTERRUPTED", `get: interrupted; progress saved (${saved}); run the same command to resume`);
      }
      if (err instanceof BtError) throw new BtError(err.code, `get: ${err.message}`);
      throw err;
    }
  },
};

