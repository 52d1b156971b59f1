import { BtError } from "../../errors.ts";
import { readPackage } from "../../pkg/io.ts";
import { defaultPayloadPath } from "../../storage/payload.ts";
import { verifyPayload } from "../../storage/verify.ts";
import { formatRanges } from "../../util/ranges.ts";
import { toHex } from "../../util/units.ts";
import { expectPositionals, parseArgs } from "../args.ts";
import type { Command } from "../command.ts";
import { loggerFor } from "../../util/log.ts";
import { createProgress } from "../progress.ts";

export const verify: Command = {
  name: "verify",
  summary: "re-hash local data against a .bpkg",
  help: `Usage: bytetide verify <pkg.bpkg> [path]

Re-hashes every chunk of the local data and checks it against the package, then
recomputes the Merkle root. The data is looked for beside the .bpkg under the name the
package records, or at [path] when given (the file, or the directory, itself).

Prints 'VERIFY OK <root>' and exits 0 when everything matches. Otherwise lists the bad
and missing chunk indexes and the entries that differ, and exits 5.

Options:
  -h, --help   show this help`,

  async run(argv) {
    const args = parseArgs("verify", argv, {});
    const [packagePath, dataPath] = expectPositionals("verify", args, 1, 2, "a .bpkg file and optionally the data's path");
    const pkg = await readPackage(packagePath!);
    const root = dataPath ?? defaultPayloadPath(packagePath!, pkg);
    const progress = createProgress("verifying", pkg.totalSize, 0, "text", loggerFor("verify", "text"));
    const report = await verifyPayload(pkg, root, (done) => progress.update({ done }));
    progress.finish();
    if (report.ok) {
      console.log(`VERIFY OK ${toHex(pkg.root)}`);
      return 0;
    }
    for (const problem of report.problems) console.log(`problem  ${problem}`);
    if (report.badChunks.length) console.log(`bad      chunks ${formatRanges(report.badChunks)}`);
    if (report.missingChunks.length) console.log(`missing  chunks ${formatRanges(report.missingChunks)}`);
    const failed = report.badChunks.length + report.missingChunks.length;
    throw new BtError(
      "BT_E_VERIFY",
      `verify: ${root} does not match ${packagePath}: ${failed} of ${report.chunkCount} chunks bad or missing, ${report.problems.length} entry problem(s)`,
    );
  },
};
