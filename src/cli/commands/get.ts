import { lstatSync, mkdirSync, readdirSync, readFileSync, rmdirSync, statSync } from "node:fs";
import { hostname } from "node:os";
import { dirname, join, resolve } from "node:path";
import { NET } from "../../config.ts";
import { BtError, describeFsError } from "../../errors.ts";
import { equalBytes, packageId } from "../../pkg/format.ts";
import { readPackage, refuseUnwritable, writePackage } from "../../pkg/io.ts";
import { chunkCountOf, type Package, packageName } from "../../pkg/model.ts";
import { ReportLink } from "../../peer/report-link.ts";
import { PEER_ID_LENGTH } from "../../protocol/messages.ts";
import { PackageFiles } from "../../storage/files.ts";
import { Output, type OutputPaths, outputPaths } from "../../storage/output.ts";
import { decodeState } from "../../storage/state.ts";
import { completeStore, downloadStore } from "../../storage/store.ts";
import { reuseCandidates, reuseChunks } from "../../storage/reuse.ts";
import { scanEntries, verifyPayload } from "../../storage/verify.ts";
import { peerLabel } from "../../swarm/address-book.ts";
import { type DownloadResult, SwarmNode } from "../../swarm/node.ts";
import { Bitset } from "../../util/bitset.ts";
import type { Logger } from "../../util/log.ts";
import { formatBytes, toHex } from "../../util/units.ts";
import { addressFlag, durationFlag, expectPositionals, integerFlag, listFlag, parseArgs, rateFlag } from "../args.ts";
import type { Command } from "../command.ts";
import { LIMIT_FLAGS, LIMIT_HELP, NETWORK_USAGE_ERRORS, networkPolicy, openListeners, ZONE_FLAGS, ZONE_HELP } from "../network.ts";
import { SECURITY_FLAGS, SECURITY_HELP } from "../security.ts";
import { outputMode, PROGRESS_FLAGS, PROGRESS_HELP, progressLogger } from "../output.ts";
import { keptPackagePath, loadPackage, packageRef, peerArgument } from "../package-ref.ts";
import { createProgress } from "../progress.ts";
import { onlySelection, verifiedLine } from "../selection.ts";
import { untilSignal } from "../signals.ts";
import { VERSION } from "../version.ts";
import { downloadBucket, uploadBucket } from "./serve.ts";

const SHUTDOWN_GRACE_MS = 2_000;

export const get: Command = {
  name: "get",
  summary: "download a package from peers, verifying every chunk, and share it meanwhile",
  flags: {
    peer: { type: "string", multiple: true },
    id: { type: "string" },
    reuse: { type: "string", multiple: true },
    only: { type: "string", multiple: true },
    output: { type: "string", short: "o" },
    listen: { type: "string" },
    linger: { type: "string" },
    seed: { type: "boolean" },
    concurrency: { type: "string" },
    "max-upload-rate": { type: "string" },
    "max-download-rate": { type: "string" },
    metrics: { type: "string" },
    "retry-for": { type: "string" },
    "log-requests": { type: "boolean" },
    force: { type: "boolean", short: "f" },
    preallocate: { type: "boolean" },
    "allow-setuid": { type: "boolean" },
    name: { type: "string" },
    ...LIMIT_FLAGS,
    ...ZONE_FLAGS,
    ...SECURITY_FLAGS,
    ...PROGRESS_FLAGS,
  },
  exitCodes: {
    BT_E_USAGE: NETWORK_USAGE_ERRORS,
    BT_E_INPUT: "the .bpkg is missing or unreadable",
    BT_E_PACKAGE: "the .bpkg is truncated, corrupt, unsafe, not a package, or from a newer format",
    BT_E_VERIFY: "a chunk that only bad peers could supply, or a Merkle root that does not check out",
    BT_E_EXISTS: "the output exists and does not match the package (use --force), or is not a regular file or directory (a device, say: never replaced)",
    BT_E_IO: "the output cannot be written: its directory is missing or read-only, too little free space, a disk error",
    BT_E_NO_PEERS: "no peer could supply the missing chunks (unreachable, lacking them, or refusing us), or, by id, the package itself",
    BT_E_LOCKED: "another get is downloading to the same output",
    BT_E_INTERRUPTED: "interrupted by Ctrl-C (SIGINT) before completing",
    BT_E_TERMINATED: "stopped by SIGTERM before completing (after VERIFY OK, a signal ends lingering with 0)",
  },
  help: `Usage: bytetide get <pkg.bpkg> --peer HOST:PORT [--peer ...] [-o PATH] [options]
       bytetide get bytetide://HOST:PORT/<id> [--peer ...] [-o PATH] [options]
       bytetide get --id <id> --peer HOST:PORT [--peer ...] [-o PATH] [options]

By id (as 'make' and 'ls' print it), nothing needs copying first: the package itself is
fetched from the peers, the URL's first, and must check out against the id, which commits
to every byte of it (file names, modes, chunk size, chunk hashes, root). It is kept as
PATH.bpkg, which a rerun by the same id with the same -o uses when no peer is up.

Downloads the package's data from the peers, many requests in flight to each, rarest
chunks first. Every chunk is checked against its SHA-256 before it is written, and the
Merkle root before the result is renamed into place: until then it is PATH.part, with
progress in PATH.btstate. An interrupted get (Ctrl-C, kill -9, power loss) resumes where
it stopped when run again. If PATH already holds the complete, correct data, get
verifies it and downloads nothing.

While it downloads, get also serves the chunks it has to other peers, and learns of them
through the peers it knows: given only a seed's address, it joins the whole swarm. When
done it prints 'VERIFY OK <root>', then keeps serving until no peer has asked for a chunk
or announced one for ${NET.lingerIdleMs / 1000} s, at most --linger.

Options:
  --peer HOST:PORT      a peer serving the package (repeatable; IPv6 as [addr]:port; a
                        bare HOST means port ${NET.defaultListenPort})
  --id ID               the package id (64 hex digits), instead of a .bpkg or a URL
  -o, --output PATH     where to put the file or directory (default: ./<package name>)
  --listen HOST:PORT    where to accept other peers (default 0.0.0.0:0, a free port)
  --linger DURATION     after completing, serve others at most this long (default ${NET.defaultLingerMs / 1000}s; 0: exit at once)
  --seed                after completing, serve until interrupted
  --concurrency N       most requests in flight per peer, 1 to ${NET.maxRequestsPerPeer} (default ${NET.defaultRequestsPerPeer});
                        fewer for slow peers, by their rate
  --max-upload-rate R   bytes per second served to other peers: 100M (100 MB/s), 50MiB,
                        or in bits, 800Mbit (default, or 0: no limit)
  --max-download-rate R bytes per second fetched from all peers together, as above
                        (default, or 0: no limit)
  --metrics HOST:PORT   serve Prometheus /metrics and /healthz over HTTP there while running
  --name NAME           this node's name in its reports to its first --peer (every 2 s,
                        or as that seed asks: state, bytes verified, rate, peers, last
                        error; what 'bytetide status' and a serve's page show).
                        Default: the host name
  --retry-for DURATION  with no usable peer, keep retrying this long (default ${NET.defaultRetryForMs / 1000}s)
  --log-requests        log each REQUEST sent (event 'request', chunk and peer): the picker's order
  --reuse PATH          a file or directory that may hold some of the package's chunks,
                        an older version say (repeatable): each chunk found there (same
                        path and offset, or a file of the same size) is verified and
                        copied instead of fetched
  --only GLOB           fetch only the files whose path below the package name matches
                        (repeatable; *, **, ?, [ab], {a,b}; a directory means all in it):
                        the output holds exactly those, and PATH.btstate stays as the
                        record of it, so a later get without --only completes the rest
  -f, --force           replace an existing output that does not match the package; an
                        older version there is reused like --reuse, and stays whole until
                        the new one is renamed into place. A device, pipe or socket at -o
                        is never replaced (-o /dev/null is refused: bytetide writes files)
  --preallocate         reserve every file's blocks before the first chunk is fetched
                        (posix_fallocate, as aria2's --file-allocation=falloc): contiguous
                        data, and a full disk found at once. Without it files are sparse
                        until filled; either way a get that cannot fit is refused first
  --allow-setuid        keep the setuid/setgid bits the package records (default: cleared,
                        with a 'mode-stripped' log line per entry)
  -h, --help            show this help

${LIMIT_HELP}

${ZONE_HELP}

${SECURITY_HELP}

${PROGRESS_HELP}

Whatever the exit code, progress is saved.`,

  async run(argv) {
    // Every flag is read and checked, the package read and the ports bound before the
    // output is touched: a start that fails leaves the output directory as it was.
    const args = parseArgs("get", argv, get.flags);
    const mode = outputMode("get", args.flags);
    const logger = progressLogger("get", mode, args.flags);
    const network = networkPolicy("get", args.flags);
    const [positional] = expectPositionals("get", args, 0, 1, "one .bpkg file or bytetide:// URL");
    const ref = packageRef("get", positional, args.flags.id as string | undefined, listFlag(args.flags.peer).map((p) => peerArgument("get", "--peer", p)));
    // A URL's peer first, then the --peer ones.
    const peers = ref.peers;
    const listenAt = addressFlag("get", "listen", (args.flags.listen as string | undefined) ?? "0.0.0.0:0", "0.0.0.0");
    const lingerMs = args.flags.seed === true ? Infinity : durationFlag("get", "linger", args.flags.linger, NET.defaultLingerMs);
    const requestsPerPeer = integerFlag("get", "concurrency", args.flags.concurrency, NET.defaultRequestsPerPeer, 1, NET.maxRequestsPerPeer);
    const retryForMs = durationFlag("get", "retry-for", args.flags["retry-for"], NET.defaultRetryForMs);
    const uploadLimit = uploadBucket(rateFlag("get", "max-upload-rate", args.flags["max-upload-rate"]));
    const downloadRate = rateFlag("get", "max-download-rate", args.flags["max-download-rate"]);
    const name = nodeNameFlag(args.flags.name);
    if (args.flags.output === "-") throw new BtError("BT_E_USAGE", "get: -o -: cannot write to standard output (chunks arrive in any order, and only a verified whole is ever published); give a path");
    const pkg = await loadPackage("get", ref, network, logger, args.flags.output === undefined ? undefined : resolve(args.flags.output as string));
    const paths = outputPaths(outputPathFor(pkg, args.flags.output as string | undefined));
    refuseSpecialOutput(paths);
    const root = toHex(pkg.root);

    const selection = onlySelection("get", pkg, listFlag(args.flags.only));
    const wantedBytes = selection?.bytes ?? pkg.totalSize;
    const reuseFrom = listFlag(args.flags.reuse).map((given) => {
      if (!statOrNull(given)) throw new BtError("BT_E_USAGE", `get: --reuse ${given}: no such file or directory`);
      return resolve(given);
    });

    const existing = await existingOutput(pkg, paths);
    const alreadyComplete = existing === "complete";
    // An older version at -o (replaced with --force), or part of this one (an earlier
    // --only), is reused too, and stays whole until the rename.
    const replacing = !alreadyComplete && existing !== "absent";
    const reportComplete = () => {
      if (mode === "json") logger.event("done", { root, verified: true, already_complete: true, bytes: pkg.totalSize, output: paths.final });
      else console.log(`VERIFY OK ${root}`);
    };
    // Already there: nothing to fetch, but a node that would have served after fetching
    // (a DaemonSet pod restarted with --seed, say) serves all the same.
    if (alreadyComplete && (lingerMs <= 0 || peers.length === 0)) {
      reportComplete();
      return 0;
    }
    if (replacing && existing !== "partial" && args.flags.force !== true) {
      throw new BtError("BT_E_EXISTS", `get: ${paths.final} exists and does not match the package (${existing}); move it away or use --force`);
    }
    if (peers.length === 0) throw new BtError("BT_E_USAGE", "get: no peers given (use --peer HOST:PORT)");
    const makesDirectory = !alreadyComplete && (await outputDirectoryToMake(paths.final));

    const nodes = new Map<string, SwarmNode>();
    const { metrics, listener } = await openListeners("get", args.flags.metrics, { command: "get", host: listenAt.host, port: listenAt.port, nodes, logger, network });
    let output: Output | null = null;
    try {
      if (makesDirectory) makeDirectory(dirname(paths.final));
      if (!alreadyComplete) output = await Output.open(pkg, paths, logger, { selection, preallocate: args.flags.preallocate === true });
      if (ref.kind === "id") await keepPackage(pkg, ref.id, paths.final, logger);
    } catch (err) {
      if (makesDirectory && !output) removeIfEmpty(dirname(paths.final));
      await listener.stop(0);
      metrics?.stop();
      throw err instanceof BtError ? new BtError(err.code, `get: ${err.message}`) : err;
    }
    const verified = output?.verified ?? Bitset.full(chunkCountOf(pkg));
    // Encoding the package for its id costs about as much as writing the .bpkg: once.
    const id = ref.kind === "id" ? ref.id : packageId(pkg);
    logger.event("start", { root, id: toHex(id), total_bytes: pkg.totalSize, ...(selection ? { selected_bytes: selection.bytes, selected_chunks: selection.chunks.count } : {}), chunk_count: verified.size, chunks_verified: verified.count, output: paths.final });
    const progress = createProgress("downloading", wantedBytes, selection?.chunks.count ?? verified.size, mode, logger);
    // From here a signal stops the get cleanly, progress saved, reusing included.
    const interrupted = untilSignal();
    let signalled = false;
    void interrupted.then(() => (signalled = true));
    const reuseSources = replacing ? [...reuseFrom, paths.final] : reuseFrom;
    const reused = output && reuseSources.length > 0 ? await reuseLocalChunks(output, reuseSources, progress, logger, () => signalled) : 0;
    const node = new SwarmNode({
      pkg,
      id,
      store: output ? downloadStore(output) : finishedStore(pkg, paths.final, logger),
      peerId: crypto.getRandomValues(new Uint8Array(PEER_ID_LENGTH)),
      bootstrap: peers,
      requestsPerPeer,
      retryForMs,
      network,
      logger,
      uploadLimit,
      superSeeding: false,
      downloadLimit: downloadBucket(downloadRate, pkg.chunkSize),
      logRequests: args.flags["log-requests"] === true,
      reusedBytes: reused,
      wanted: selection?.chunks,
      reportAs: { name, version: VERSION, totalBytes: wantedBytes },
      onProgress: (bytes, peers) => progress.update({ done: bytes, peers, chunks: verified.count }),
      lingerMs,
    });
    nodes.set(node.rootHex, node);
    node.listenPort = listener.port;
    logger.event("listening", { address: peerLabel({ host: listenAt.host, port: listener.port }), package: node.idHex });
    if (metrics) logger.event("metrics", { url: metrics.url });
    void interrupted.then((signal) => node.close(interruption(signal)));
    node.start();
    // Reported to the first peer given, the seed as a provisioning script names it.
    const reports = new ReportLink(peers[0]!, network, () => ({ package: id, report: node.statusReport() }));
    reports.start();
    // Whatever happens from here on, the listener, metrics and peers are let go, or the
    // process would stay alive on their sockets and timers.
    let stopped = false;
    const stopNetwork = async () => {
      if (stopped) return;
      stopped = true;
      reports.stop();
      await listener.stop(SHUTDOWN_GRACE_MS);
      metrics?.stop();
      node.close();
    };

    let result: DownloadResult;
    try {
      result = await node.completion;
    } catch (err) {
      progress.finish();
      await reports.last();
      await stopNetwork();
      const discarded = output?.discardIfEmpty() ?? false;
      if (!discarded) await output?.suspend();
      else if (makesDirectory) removeIfEmpty(dirname(paths.final));
      if (err instanceof BtError && (err.code === "BT_E_INTERRUPTED" || err.code === "BT_E_TERMINATED")) {
        const saved = discarded ? "nothing was verified yet, so nothing is left behind" : `progress saved (${verified.count} of ${verified.size} chunks); run the same command to resume`;
        throw new BtError(err.code, `get: ${err.message}; ${saved}`);
      }
      if (err instanceof BtError) throw new BtError(err.code, `get: ${err.message}`);
      throw err;
    }
    progress.finish();
    try {
      if (output) {
        await output.finalize({ allowSetuid: args.flags["allow-setuid"] === true, replace: replacing, logger });
        node.useStore(finishedStore(pkg, paths.final, logger, selection?.chunks));
        logDone(logger, pkg, result, paths.final, reused, wantedBytes);
        if (mode !== "json") console.log(verifiedLine(pkg, selection));
      } else reportComplete();
      node.markDone();
      await reports.last();
      await linger(node, lingerMs, interrupted);
    } catch (err) {
      node.markFailed(err);
      await reports.last();
      output?.close();
      throw err instanceof BtError ? new BtError(err.code, `get: ${err.message}`) : err;
    } finally {
      await stopNetwork();
    }
    logger.event("exit", { uploaded_bytes: node.upload.uploadedBytes, ...Object.fromEntries([...node.upload.uploadedTo].map(([peer, bytes]) => [`to_${peer}`, bytes])) });
    return 0;
  },
};

/** --name: 1-255 bytes of printable text, as a report carries it; by default the host name. */
function nodeNameFlag(value: unknown): string {
  const name = value === undefined ? hostname() : String(value);
  if (name.length === 0 || Buffer.byteLength(name) > 255 || /[\p{Cc}]/u.test(name)) {
    throw new BtError("BT_E_USAGE", `get: --name ${JSON.stringify(name)}: expected 1-255 bytes of printable text, such as gpu-node-17`);
  }
  return name;
}

/** The verified output (all of it, or the chunks it `holds` after --only), served from where it now lies. */
const finishedStore = (pkg: Package, path: string, logger: Logger, holds?: Bitset) =>
  completeStore(new PackageFiles(pkg, path, false), {
    trusted: true,
    holds,
    onBadChunk: (chunk, file) => logger.event("chunk-error", { chunk, file, reason: "output changed on disk after verification", action: "refused as damaged" }),
  });

/**
 * -o may name a file or directory to replace (with --force), never a device, pipe or
 * socket: replacing /dev/null as root would break the machine. A symlink is replaced as a
 * link; what it points to is left alone.
 */
function refuseSpecialOutput(paths: OutputPaths): void {
  for (const path of [paths.final, paths.part, paths.state]) {
    const found = statOrNull(path, lstatSync);
    if (!found || found.isFile() || found.isDirectory() || found.isSymbolicLink()) continue;
    const kind = found.isCharacterDevice() ? "a character device" : found.isBlockDevice() ? "a block device" : found.isFIFO() ? "a named pipe" : found.isSocket() ? "a socket" : "not a regular file";
    throw new BtError("BT_E_EXISTS", `get: ${path}: is ${kind}; get writes only regular files and directories and never replaces one, even with --force (give -o a path on a filesystem)`);
  }
}

/** SIGINT (Ctrl-C) and SIGTERM (a service manager) end a download with their own exit codes, 130 and 143. */
const interruption = (signal: string): BtError =>
  signal === "SIGTERM" ? new BtError("BT_E_TERMINATED", "terminated (SIGTERM)") : new BtError("BT_E_INTERRUPTED", "interrupted");

/**
 * -o read as cp and rsync read a destination: a trailing slash, or an existing directory
 * where the package is a single file, means "inside it, under the package's name". A
 * directory package's -o names the directory itself, so the same command run twice
 * finds its own output rather than nesting a copy inside it.
 */
function outputPathFor(pkg: Package, given: string | undefined): string {
  const name = packageName(pkg);
  if (given === undefined) return resolve(name);
  const inside = given.endsWith("/") || (pkg.entries[0]!.kind === "file" && statOrNull(given)?.isDirectory() === true);
  return resolve(inside ? join(given, name) : given);
}

/**
 * Whether the output's directory is missing and will be made. It may be, when its own
 * parent is there, as rsync makes the last level of a destination; nothing above it is,
 * so a typo in -o fails here, before any peer is asked, instead of building a tree at the
 * filesystem's root. Throws when the output could not be written.
 */
async function outputDirectoryToMake(output: string): Promise<boolean> {
  const dir = dirname(output);
  const missing = statOrNull(dir) === null;
  if (missing && statOrNull(dirname(dir)) === null) throw new BtError("BT_E_IO", `get: ${output}: cannot be written: ${dir}: no such file or directory`);
  await refuseUnwritable(missing ? dir : output).catch((err) => {
    throw new BtError(err.code, `get: ${err.message}`);
  });
  return missing;
}

function makeDirectory(dir: string): void {
  try {
    mkdirSync(dir, { mode: 0o755 });
  } catch (err) {
    if ((err as { code?: string }).code !== "EEXIST") throw new BtError("BT_E_IO", describeFsError(err, dir));
  }
}

/** A directory this get made for its output, let go again when nothing came into it. */
function removeIfEmpty(dir: string): void {
  try {
    rmdirSync(dir);
  } catch {
    // Not empty, or gone: either way it is not ours to remove.
  }
}

/**
 * What the output path holds already: nothing to keep (absent, or an empty directory where
 * a directory package goes), the package's data, part of it (an earlier get --only, as its
 * progress file records), or other data (described).
 */
async function existingOutput(pkg: Package, paths: OutputPaths): Promise<"absent" | "complete" | "partial" | string> {
  const path = paths.final;
  const found = statOrNull(path, lstatSync);
  if (!found) return "absent";
  if (found.isDirectory() && pkg.entries[0]!.kind === "directory" && readdirSync(path).length === 0) return "absent";
  if (ownedByEarlierGet(pkg, paths)) return "partial";
  // Another version differs in its files' sizes, mostly: no need to read it all to say so.
  const { problems } = await scanEntries(pkg, path);
  if (problems.length > 0) return `${problems.length} of ${pkg.entries.length} entries differ`;
  const report = await verifyPayload(pkg, path);
  if (report.ok) return "complete";
  return `${report.badChunks.length + report.missingChunks.length} of ${report.chunkCount} chunks differ`;
}

function statOrNull(path: string, stat: typeof statSync = statSync) {
  try {
    return stat(path);
  } catch {
    return null;
  }
}

/**
 * Keeps a package fetched by id beside the output, for `verify` and for a rerun with no
 * peer up. Another .bpkg already there (a `make` of another version, say) is left alone;
 * a failure to write costs only the copy, so it is logged, not fatal.
 */
async function keepPackage(pkg: Package, id: Uint8Array, output: string, logger: Logger): Promise<void> {
  const path = keptPackagePath(output);
  const there = await readPackage(path).catch(() => null);
  if (there && equalBytes(packageId(there), id)) return;
  try {
    await writePackage(path, pkg, false);
  } catch (err) {
    logger.event("package-not-kept", { file: path, reason: (err as Error).message });
  }
}

/**
 * Takes what the node already has (--reuse, an older version at -o) before asking any
 * peer, so no reused chunk is ever requested; returns the bytes reused.
 */
async function reuseLocalChunks(output: Output, sources: string[], progress: ReturnType<typeof createProgress>, logger: Logger, stopped: () => boolean): Promise<number> {
  const { files, verified } = output;
  let done = 0;
  for (const c of verified.members()) done += files.chunkLength(c);
  const taken = await reuseChunks(output, reuseCandidates(output.pkg, sources), {
    onReused: (bytes) => progress.update({ done: (done += bytes), peers: 0, chunks: verified.count }),
    stopped,
  });
  logger.event("reused", { chunks: taken.chunks, bytes: taken.bytes, from: sources.join(",") });
  return taken.bytes;
}

/**
 * Whether an earlier get of this package already took the output over: its progress file
 * records the output as part of this package (a finished get --only), or a .part of this
 * package waits to replace it (an interrupted get that was completing or replacing it).
 */
function ownedByEarlierGet(pkg: Package, paths: OutputPaths): boolean {
  let saved: ReturnType<typeof decodeState>;
  try {
    saved = decodeState(readFileSync(paths.state), pkg.root, chunkCountOf(pkg));
  } catch {
    return false;
  }
  if ("problem" in saved) return false;
  return (saved.clean && saved.partial === true) || statOrNull(paths.part, lstatSync) !== null;
}

function logDone(logger: Logger, pkg: Package, result: DownloadResult, output: string, reusedBytes: number, bytes: number): void {
  if (!logger.json) for (const [peer, bytes] of result.receivedFrom) logger.event("received", { peer, bytes });
  // The network's rate: bytes reused or resumed from disk took no time on the wire.
  let received = 0;
  for (const n of result.receivedFrom.values()) received += n;
  const rate = result.seconds > 0 ? received / result.seconds : 0;
  const latency = result.requestLatencyMs;
  logger.event("done", {
    ...(logger.json ? { root: toHex(pkg.root), verified: true, received_from: Object.fromEntries(result.receivedFrom) } : {}),
    bytes,
    seconds: Number(result.seconds.toFixed(3)),
    received_bytes: received,
    rate: `${formatBytes(rate)}/s`,
    output,
    chunk_latency_p50_ms: Number(latency.percentile(50).toFixed(2)),
    chunk_latency_p95_ms: Number(latency.percentile(95).toFixed(2)),
    chunk_latency_p99_ms: Number(latency.percentile(99).toFixed(2)),
    in_flight_peak: result.inFlightPeak,
    reused_bytes: reusedBytes,
  });
}

/** Keeps serving after completion while it is of use to the peers (linger.ts, in the node's core), or until a signal comes. */
async function linger(node: SwarmNode, lingerMs: number, interrupted: Promise<string>): Promise<void> {
  if (lingerMs > 0) await Promise.race([node.lingered, interrupted]);
}
