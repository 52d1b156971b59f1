import { DIGEST_LENGTH } from "../../hash/index.ts";
import { packageId } from "../../pkg/format.ts";
import { readPackage } from "../../pkg/io.ts";
import { ChunkLayout } from "../../pkg/layout.ts";
import { chunkCountOf, type Package, packageName } from "../../pkg/model.ts";
import { formatBytes, toHex } from "../../util/units.ts";
import { expectPositionals, parseArgs } from "../args.ts";
import type { Command } from "../command.ts";

const LISTED_FILES = 50;

export function packageJson(pkg: Package): object {
  const layout = new ChunkLayout(pkg.entries, pkg.chunkSize);
  const chunkRuns = new Map(layout.files.map((f) => [f.entryIndex, f]));
  const ofKind = (kind: string) => pkg.entries.map((e, i) => ({ e, i })).filter(({ e }) => e.kind === kind);
  return {
    format_version: pkg.formatVersion,
    name: packageName(pkg),
    kind: pkg.entries[0]!.kind,
    chunk_size: pkg.chunkSize,
    total_size: pkg.totalSize,
    chunk_count: chunkCountOf(pkg),
    id: toHex(packageId(pkg)),
    merkle_root: toHex(pkg.root),
    files: ofKind("file").map(({ e, i }) => ({
      path: e.path,
      size: e.size,
      mode: e.mode.toString(8).padStart(4, "0"),
      first_chunk: chunkRuns.get(i)?.firstChunk ?? null,
      chunk_count: chunkRuns.get(i)?.chunkCount ?? 0,
    })),
    directories: ofKind("directory").map(({ e }) => ({ path: e.path, mode: e.mode.toString(8).padStart(4, "0") })),
    symlinks: ofKind("symlink").map(({ e }) => ({ path: e.path, target: e.target })),
    chunk_hashes: Array.from({ length: chunkCountOf(pkg) }, (_, c) => toHex(pkg.chunkHashes.subarray(c * DIGEST_LENGTH, (c + 1) * DIGEST_LENGTH))),
  };
}

function summary(path: string, pkg: Package): string {
  const count = (kind: string) => pkg.entries.filter((e) => e.kind === kind).length;
  const plural = (n: number, word: string) => `${n} ${word}${n === 1 ? "" : "s"}`;
  const files = pkg.entries.filter((e) => e.kind === "file");
  const what =
    pkg.entries[0]!.kind === "file"
      ? "single file"
      : `directory: ${plural(count("file"), "file")}, ${plural(count("directory") - 1, "subdirectory")}, ${plural(count("symlink"), "symlink")}`;
  const lines = [
    `package  ${path}`,
    `id       ${toHex(packageId(pkg))}`,
    `root     ${toHex(pkg.root)}`,
    `format   ${pkg.formatVersion}`,
    `name     ${packageName(pkg)} (${what})`,
    `size     ${formatBytes(pkg.totalSize)} (${pkg.totalSize} bytes)`,
    `chunks   ${chunkCountOf(pkg)} of ${formatBytes(pkg.chunkSize)}`,
    "files",
    ...files.slice(0, LISTED_FILES).map((e) => `  ${formatBytes(e.size).padStart(10)}  ${e.path}`),
  ];
  if (files.length > LISTED_FILES) lines.push(`  ... and ${files.length - LISTED_FILES} more (--json lists all)`);
  return lines.join("\n");
}

export const inspect: Command = {
  name: "inspect",
  flags: { json: { type: "boolean" } },
  exitCodes: { BT_E_INPUT: "the .bpkg is missing or unreadable", BT_E_PACKAGE: "the .bpkg is truncated, corrupt, unsafe, not a package, or from a newer format" },
  summary: "describe a .bpkg package",
  help: `Usage: bytetide inspect <pkg.bpkg> [--json]

Reads and validates a package and describes it: id, root, sizes, chunking and files.

Options:
  --json       print one JSON object: format_version, name, kind, chunk_size, total_size,
               chunk_count, id, merkle_root, files [{path, size, mode, first_chunk,
               chunk_count}], directories, symlinks, chunk_hashes (hex, in order)
  -h, --help   show this help`,

  async run(argv) {
    const args = parseArgs("inspect", argv, inspect.flags);
    const [path] = expectPositionals("inspect", args, 1, 1, "one .bpkg file");
    const pkg = await readPackage(path!);
    console.log(args.flags.json ? JSON.stringify(packageJson(pkg), null, 2) : summary(path!, pkg));
    return 0;
  },
};
