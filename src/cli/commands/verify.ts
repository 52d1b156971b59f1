import { BtError } from "../../errors.ts";
import { readPackage } from "../../pkg/io.ts";
import { defaultPayloadPath } from "../../storage/payload.ts";
import { verifyPayload } from "../../storage/verify.ts";
import { formatRanges, ranges } from "../../util/ranges.ts";
import { toHex } from "../../util/units.ts";
import { expectPositionals, listFlag, parseArgs } from "../args.ts";
import { onlySelection, verifiedLine } from "../selection.ts";
import type { Command } from "../command.ts";
import { outputMode, PROGRESS_FLAGS, PROGRESS_HELP, progressLogger } from "../output.ts";
import { createProgress } from "../progress.ts";

export const verify: Command = {
  name: "verify",
  summary: "re-hash local data against a .bpkg",
  flags: { only: { type: "string", multiple: true }, ...PROGRESS_FLAGS },
  exitCodes: {
    BT_E_INPUT: "the .bpkg is missing or unreadable",
    BT_E_PACKAGE: "the .bpkg is truncated, corrupt, unsafe, not a package, or from a newer format",
    BT_E_VERIFY: "the data does not match the package: bad or missing chunks, entries that differ",
  },
  help: `Usage: bytetide verify <pkg.bpkg> [path] [--only GLOB]... [--json | --quiet]

Re-hashes every chunk of the local data and checks it against the package, then
recomputes the Merkle root. The data is looked for beside the .bpkg under the name the
package records, or at [path] when given (the file, or the directory, itself).

Prints 'VERIFY OK <root>' and exits 0 when everything matches. With --only (as get
--only fetched it), only the matching files are checked, each chunk against the
package's hash, and a match prints 'VERIFY PARTIAL <root> (only N of M files, --only)':
never 'VERIFY OK', which vouches for the whole. Otherwise lists the bad
and missing chunk indexes and the entries that differ, and exits 5.

With --json, prints one 'result' event: ok, root, package, path, chunk_count,
bad_chunks and missing_chunks (runs of indexes, [first, last]), their counts, and
entry_problems (one line per entry that differs). A failure is followed by the usual
'error' event.

Options:
  --only GLOB           check only the files whose path below the package name matches
                        (repeatable; as get --only reads it)
  -h, --help            show this help

${PROGRESS_HELP}`,

  async run(argv) {
    const args = parseArgs("verify", argv, verify.flags);
    const mode = outputMode("verify", args.flags);
    const logger = progressLogger("verify", mode, args.flags);
    const [packagePath, dataPath] = expectPositionals("verify", args, 1, 2, "a .bpkg file and optionally the data's path");
    const pkg = await readPackage(packagePath!);
    const root = dataPath ?? defaultPayloadPath(packagePath!, pkg);
    const selection = onlySelection("verify", pkg, listFlag(args.flags.only));
    const progress = createProgress("verifying", selection?.bytes ?? pkg.totalSize, 0, mode, logger);
    const report = await verifyPayload(pkg, root, (done) => progress.update({ done }), selection);
    progress.finish();
    if (mode === "json") {
      logger.event("result", {
        ok: report.ok,
        root: toHex(pkg.root),
        package: packagePath,
        path: root,
        chunk_count: report.chunkCount,
        bad_chunk_count: report.badChunks.length,
        missing_chunk_count: report.missingChunks.length,
        bad_chunks: ranges(report.badChunks),
        missing_chunks: ranges(report.missingChunks),
        entry_problems: report.problems,
        ...(selection ? { partial: true, selected_chunks: selection.chunks.count } : {}),
      });
    }
    if (report.ok) {
      if (mode === "text") console.log(verifiedLine(pkg, selection));
      return 0;
    }
    if (mode === "text") {
      for (const problem of report.problems) console.log(`problem  ${problem}`);
      if (report.badChunks.length) console.log(`bad      chunks ${formatRanges(report.badChunks)}`);
      if (report.missingChunks.length) console.log(`missing  chunks ${formatRanges(report.missingChunks)}`);
    }
    const failed = report.badChunks.length + report.missingChunks.length;
    throw new BtError(
      "BT_E_VERIFY",
      `verify: ${root} does not match ${packagePath}: ${failed} of ${report.chunkCount} chunks bad or missing, ${report.problems.length} entry problem(s)`,
    );
  },
};
