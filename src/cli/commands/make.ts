import { hostname } from "node:os";
import { resolve } from "node:path";
import { NET } from "../../config.ts";
import { buildPackage, scanInput } from "../../pkg/build.ts";
import { defaultChunkSize, packageId } from "../../pkg/format.ts";
import { refuseExisting, refuseUnwritable, writePackage } from "../../pkg/io.ts";
import { packageName } from "../../pkg/model.ts";
import { formatBytes, toHex } from "../../util/units.ts";
import { chunkSizeFlag, expectPositionals, parseArgs } from "../args.ts";
import type { Command } from "../command.ts";
import { outputMode, PROGRESS_FLAGS, PROGRESS_HELP, progressLogger } from "../output.ts";
import { packageUrl } from "../package-ref.ts";
import { createProgress } from "../progress.ts";

export const make: Command = {
  name: "make",
  summary: "hash a file or directory into a .bpkg package",
  flags: {
    output: { type: "string", short: "o" },
    "chunk-size": { type: "string" },
    force: { type: "boolean", short: "f" },
    ...PROGRESS_FLAGS,
  },
  exitCodes: {
    BT_E_INPUT: "the input is missing, unreadable, or holds a special file or an outside symlink",
    BT_E_EXISTS: "the output already exists (use --force)",
    BT_E_IO: "the package cannot be written: a missing or read-only directory, a disk error",
  },
  help: `Usage: bytetide make <file|dir> [-o out.bpkg] [--chunk-size SIZE] [--force] [--json | --quiet]

Cuts the input into chunks, hashes every chunk with SHA-256 on every core, and writes
a .bpkg holding the file table, the chunk hashes and their Merkle root. Prints the root
and the package id, which commits to all of it, with a 'get' command that fetches the
package by id from a serve on this host. Modes are recorded as they are, setuid and
setgid bits included; 'get' strips those unless told --allow-setuid.

Options:
  -o, --output PATH     where to write the package (default: <input>.bpkg beside the input)
  --chunk-size SIZE     power of two from 64KiB to 64MiB (default: from the package's size,
                        the smallest power of two giving at most 2048 chunks, from 256KiB
                        to 16MiB: 256KiB up to 512MiB, 8MiB for 10GiB; docs/format.md)
  -f, --force           overwrite an existing output
  -h, --help            show this help

${PROGRESS_HELP}`,

  async run(argv) {
    const args = parseArgs("make", argv, make.flags);
    const mode = outputMode("make", args.flags);
    const logger = progressLogger("make", mode, args.flags);
    const [input] = expectPositionals("make", args, 1, 1, "one file or directory to package");
    const requestedChunkSize = chunkSizeFlag("make", args.flags["chunk-size"]);
    const output = (args.flags.output as string | undefined) ?? `${resolve(input!)}.bpkg`;
    const force = args.flags.force === true;

    await refuseExisting(output, force);
    const started = performance.now();
    const scanned = await scanInput(input!);
    // After the scan, so a missing input is reported as such; before hours of hashing.
    await refuseUnwritable(output);
    const total = scanned.entries.reduce((n, e) => n + e.size, 0);
    const chunkSize = requestedChunkSize ?? defaultChunkSize(total);
    const files = scanned.entries.filter((e) => e.kind === "file").length;
    if (mode === "json") logger.event("start", { input: input!, total_bytes: total, files });
    const progress = createProgress("hashing", total, 0, mode, logger);
    const pkg = await buildPackage(scanned, chunkSize, (done) => progress.update({ done }));
    progress.finish();
    await writePackage(output, pkg, force);

    const seconds = (performance.now() - started) / 1000;
    const chunks = pkg.chunkHashes.length / 32;
    const id = packageId(pkg);
    // Where a serve of this package would be found: this host, on the default port.
    const getCommand = `bytetide get ${packageUrl({ host: hostname(), port: NET.defaultListenPort }, id)} -o ${packageName(pkg)}`;
    if (mode === "json") {
      logger.event("done", { id: toHex(id), root: toHex(pkg.root), package: output, bytes: pkg.totalSize, files, chunks, chunk_size: chunkSize, seconds: Number(seconds.toFixed(3)), get: getCommand });
      return 0;
    }
    if (mode === "quiet") return 0;
    console.log(`wrote ${output} (${files} file${files === 1 ? "" : "s"}, ${formatBytes(pkg.totalSize)}, ${chunks} chunks of ${formatBytes(chunkSize)}, ${seconds.toFixed(2)} s)`);
    console.log(`root ${toHex(pkg.root)}`);
    console.log(`id   ${toHex(id)}`);
    console.log(`once 'bytetide serve ${output}' runs here, on every node: ${getCommand}`);
    return 0;
  },
};
