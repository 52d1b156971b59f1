import { packageId } from "../../pkg/format.ts";
import { diffPackages } from "../../pkg/diff.ts";
import { readPackage } from "../../pkg/io.ts";
import { chunkCountOf, type Package, packageName } from "../../pkg/model.ts";
import { formatBytes, toHex } from "../../util/units.ts";
import { expectPositionals, parseArgs } from "../args.ts";
import type { Command } from "../command.ts";

const LISTED_PATHS = 50;

const describe = (path: string, pkg: Package) => ({ package: path, id: toHex(packageId(pkg)), name: packageName(pkg), bytes: pkg.totalSize, chunks: chunkCountOf(pkg), chunk_size: pkg.chunkSize });

export const diff: Command = {
  name: "diff",
  summary: "show what changed between two versions of a package, and what an update must fetch",
  flags: { json: { type: "boolean" } },
  exitCodes: {
    BT_E_INPUT: "a .bpkg is missing or unreadable",
    BT_E_PACKAGE: "a .bpkg is truncated, corrupt, unsafe, not a package, or from a newer format",
  },
  help: `Usage: bytetide diff <old.bpkg> <new.bpkg> [--json]

Compares two versions of a package: the files added, removed and changed (bytes, size,
mode or link target; files are matched by their path below the package name), the new
version's chunks that a node holding the old one already has, and the bytes that must
still cross the network. Shared chunks are counted by their hashes where 'get --reuse'
looks: the file at the same path and offset, else a file of the same size. Hashes of
different chunk sizes cannot be compared, so for versions made with different chunk
sizes diff counts none shared (bytes_to_fetch is then the whole package), though
'get --reuse', which compares bytes, still finds what did not change.

Options:
  --json       print one JSON object: old and new (package, id, name, bytes, chunks,
               chunk_size), added, removed, changed, chunks_shared, bytes_shared,
               bytes_to_fetch, chunk_size_differs
  -h, --help   show this help`,

  async run(argv) {
    const args = parseArgs("diff", argv, diff.flags);
    const [oldPath, newPath] = expectPositionals("diff", args, 2, 2, "the old and the new .bpkg");
    const [before, after] = [await readPackage(oldPath!), await readPackage(newPath!)];
    const d = diffPackages(before, after);
    if (args.flags.json) {
      console.log(
        JSON.stringify({
          old: describe(oldPath!, before),
          new: describe(newPath!, after),
          added: d.added,
          removed: d.removed,
          changed: d.changed,
          chunks_shared: d.sharedChunks,
          bytes_shared: d.sharedBytes,
          bytes_to_fetch: d.bytesToFetch,
          chunk_size_differs: d.chunkSizeDiffers,
        }),
      );
      return 0;
    }
    const lines = [`old      ${oldPath} (${formatBytes(before.totalSize)}, id ${toHex(packageId(before))})`, `new      ${newPath} (${formatBytes(after.totalSize)}, id ${toHex(packageId(after))})`];
    for (const [mark, paths] of [["A", d.added], ["D", d.removed], ["M", d.changed]] as const) {
      lines.push(...paths.slice(0, LISTED_PATHS).map((p) => `  ${mark} ${p}`));
      if (paths.length > LISTED_PATHS) lines.push(`  ${mark} ... and ${paths.length - LISTED_PATHS} more (--json lists all)`);
    }
    lines.push(`files    ${d.added.length} added, ${d.removed.length} removed, ${d.changed.length} changed`);
    if (d.chunkSizeDiffers) {
      lines.push(`chunks   not comparable: chunk size ${formatBytes(before.chunkSize)} before, ${formatBytes(after.chunkSize)} now`);
      lines.push(`         (get --reuse still finds unchanged bytes; 'make --chunk-size ${formatBytes(before.chunkSize).replace(" ", "")}' lets diff count them)`);
    }
    else lines.push(`shared   ${d.sharedChunks} of ${d.chunkCount} chunks (${formatBytes(d.sharedBytes)})`);
    lines.push(`to fetch ${formatBytes(d.bytesToFetch)} (${d.bytesToFetch} bytes)`);
    console.log(lines.join("\n"));
    return 0;
  },
};
