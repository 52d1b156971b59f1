import { Bitset } from "../util/bitset.ts";
import { ChunkLayout } from "./layout.ts";
import type { Package } from "./model.ts";

/** Part of a package, as `get --only` fetches it: which entries the output holds, and the chunks of their data. */
export interface Selection {
  /** Per entry: in the output (the selected files and links, and the directories on their way). */
  entries: boolean[];
  chunks: Bitset;
  bytes: number;
  /** The patterns that matched nothing, to name in an error. */
  unmatched: string[];
}

/**
 * The entries that `patterns` (globs, as Bun.Glob reads them: `*`, `**`, `?`, `[ab]`,
 * `{a,b}`) select, matched against each entry's path below the package name
 * ("shards/00.bin"; a one-file package's name). A pattern that matches a directory
 * selects everything in it.
 */
export function selectEntries(pkg: Package, patterns: string[]): Selection {
  const globs = patterns.map((p) => ({ pattern: p, glob: new Bun.Glob(p.replace(/\/+$/, "")), used: false }));
  const below = (path: string) => path.split("/").slice(1).join("/");
  const entries = pkg.entries.map(() => false);
  // Directories selected whole; entries are sorted, so a directory comes before its contents.
  const wholeDirs = new Set<string>();
  pkg.entries.forEach((entry, i) => {
    const path = below(entry.path);
    if (path === "") return;
    const inMatchedDir = wholeDirs.has(path.slice(0, Math.max(0, path.lastIndexOf("/"))));
    let matched = false;
    for (const g of globs) {
      if (!g.glob.match(path)) continue;
      g.used = true;
      matched = true;
    }
    if (!matched && !inMatchedDir) return;
    if (entry.kind === "directory") wholeDirs.add(path);
    entries[i] = true;
  });
  // The directories that lead to what was selected, the package's own first.
  const byPath = new Map(pkg.entries.map((e, i) => [e.path, i]));
  pkg.entries.forEach((entry, i) => {
    if (!entries[i]) return;
    const parts = entry.path.split("/");
    for (let n = 1; n < parts.length; n++) entries[byPath.get(parts.slice(0, n).join("/"))!] = true;
  });
  // A one-file package's file has no path below the name: the pattern names the file.
  if (pkg.entries[0]!.kind === "file") {
    for (const g of globs) {
      if (!g.glob.match(pkg.entries[0]!.path)) continue;
      g.used = true;
      entries[0] = true;
    }
  }

  const layout = new ChunkLayout(pkg.entries, pkg.chunkSize);
  const chunks = new Bitset(layout.chunkCount);
  let bytes = 0;
  for (const f of layout.files) {
    if (!entries[f.entryIndex]) continue;
    for (let c = f.firstChunk; c < f.firstChunk + f.chunkCount; c++) chunks.add(c);
    bytes += pkg.entries[f.entryIndex]!.size;
  }
  return { entries, chunks, bytes, unmatched: globs.filter((g) => !g.used).map((g) => g.pattern) };
}
