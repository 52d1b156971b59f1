import type { Stats } from "node:fs";
import { lstat, readdir, readlink, stat } from "node:fs/promises";
import { basename, join, resolve } from "node:path";
import { BtError, fsError } from "../errors.ts";
import { DIGEST_LENGTH, hasher } from "../hash/index.ts";
import { hashJobs, planHashJobs } from "../storage/hash-files.ts";
import { FORMAT_VERSION } from "./format.ts";
import { ChunkLayout } from "./layout.ts";
import type { Entry, Package } from "./model.ts";
import { comparePaths, entriesProblem, pathProblem, symlinkProblem } from "./paths.ts";

export interface ScannedInput {
  entries: Entry[];
  /** Where each entry was found on disk, by entry index. */
  sources: string[];
  /** Size and mtime of each file when scanned, to notice a file changing while it is hashed. */
  stamps: Map<number, string>;
}

const stampOf = (s: Stats): string => `${s.size}:${s.mtimeMs}`;
const permissions = (s: Stats): number => s.mode & 0o7777;

function unsupportedKind(s: Stats): string {
  if (s.isSocket()) return "a socket";
  if (s.isFIFO()) return "a named pipe";
  if (s.isBlockDevice() || s.isCharacterDevice()) return "a device";
  return "not a regular file, directory or symlink";
}

/**
 * Lists a file or directory tree as package entries. The input itself is followed if it
 * is a link; links inside a tree are recorded as links and must stay inside it.
 */
export async function scanInput(input: string): Promise<ScannedInput> {
  const top = resolve(input);
  let topStat: Stats;
  try {
    topStat = await stat(top);
  } catch (err) {
    throw fsError("BT_E_INPUT", err, input);
  }
  const name = basename(top);
  const nameProblem = pathProblem(name);
  if (nameProblem) throw new BtError("BT_E_INPUT", `${input}: cannot be packaged: its name ${nameProblem}`);

  const found: { entry: Entry; source: string; stat: Stats }[] = [];
  if (topStat.isFile()) {
    found.push({ entry: { kind: "file", path: name, mode: permissions(topStat), size: topStat.size }, source: top, stat: topStat });
  } else if (topStat.isDirectory()) {
    found.push({ entry: { kind: "directory", path: name, mode: permissions(topStat), size: 0 }, source: top, stat: topStat });
    await walk(top, name, found);
  } else {
    throw new BtError("BT_E_INPUT", `${input}: cannot be packaged: ${unsupportedKind(topStat)}`);
  }
  found.sort((a, b) => comparePaths(a.entry.path, b.entry.path));
  const entries = found.map((f) => f.entry);
  const problem = entriesProblem(entries);
  if (problem) throw new BtError("BT_E_INPUT", `${input}: cannot be packaged: ${problem}`);
  const stamps = new Map<number, string>();
  found.forEach((f, i) => f.entry.kind === "file" && stamps.set(i, stampOf(f.stat)));
  return { entries, sources: found.map((f) => f.source), stamps };
}

async function walk(dir: string, path: string, found: { entry: Entry; source: string; stat: Stats }[]): Promise<void> {
  let names: string[];
  try {
    names = await readdir(dir);
  } catch (err) {
    throw fsError("BT_E_INPUT", err, dir);
  }
  for (const name of names) {
    const source = join(dir, name);
    const entryPath = `${path}/${name}`;
    let s: Stats;
    try {
      s = await lstat(source);
    } catch (err) {
      throw fsError("BT_E_INPUT", err, source);
    }
    const mode = permissions(s);
    if (s.isFile()) {
      found.push({ entry: { kind: "file", path: entryPath, mode, size: s.size }, source, stat: s });
    } else if (s.isDirectory()) {
      found.push({ entry: { kind: "directory", path: entryPath, mode, size: 0 }, source, stat: s });
      await walk(source, entryPath, found);
    } else if (s.isSymbolicLink()) {
      const target = await readlink(source);
      const problem = symlinkProblem(entryPath, target);
      if (problem) throw new BtError("BT_E_INPUT", `${source}: symlink ${problem}`);
      found.push({ entry: { kind: "symlink", path: entryPath, mode: 0o777, size: 0, target }, source, stat: s });
    } else {
      throw new BtError("BT_E_INPUT", `${source}: cannot be packaged: ${unsupportedKind(s)}`);
    }
  }
}

/** Hashes a scanned input into a package. onProgress gets the bytes hashed so far. */
export async function buildPackage(
  scanned: ScannedInput,
  chunkSize: number,
  onProgress: (bytesHashed: number) => void = () => {},
): Promise<Package> {
  const layout = new ChunkLayout(scanned.entries, chunkSize);
  const chunkHashes = new Uint8Array(layout.chunkCount * DIGEST_LENGTH);
  let hashed = 0;
  await hashJobs(planHashJobs(layout, (i) => scanned.sources[i]!), chunkSize, chunkHashes, {
    onJobDone: (job) => onProgress((hashed += job.length)),
    onError: (job, error) => {
      const code = (error as { code?: string }).code;
      if (code === "BT_E_SHORT_READ") throw new BtError("BT_E_INPUT", `${job.path}: changed while it was being hashed (it shrank)`);
      throw fsError("BT_E_INPUT", error, job.path);
    },
  });
  await refuseChangedFiles(scanned);
  const totalSize = scanned.entries.reduce((n, e) => n + e.size, 0);
  return {
    formatVersion: FORMAT_VERSION,
    chunkSize,
    totalSize,
    entries: scanned.entries,
    chunkHashes,
    root: await hasher().merkleRoot(chunkHashes),
  };
}

/** A file written to while it was hashed would give a package that matches no version of it. */
async function refuseChangedFiles(scanned: ScannedInput): Promise<void> {
  for (const [index, stamp] of scanned.stamps) {
    const source = scanned.sources[index]!;
    const now = await lstat(source).then(stampOf, () => "gone");
    if (now !== stamp) throw new BtError("BT_E_INPUT", `${source}: changed while it was being hashed; run make again once it is stable`);
  }
}
