import { closeSync, constants, fdatasync, openSync, readv, readvSync, stat, statSync, write, writeSync } from "node:fs";
import { promisify } from "node:util";
import { LIMITS, NET } from "../config.ts";
import { hasher } from "../hash/index.ts";
import { ChunkLayout } from "../pkg/layout.ts";
import type { Package } from "../pkg/model.ts";
import { payloadPathOf } from "./payload.ts";
import { WarmDisk } from "./warm-disk.ts";

const readvAsync = promisify(readv);
const statAsync = promisify(stat);
const writeAsync = promisify(write);
const fdatasyncAsync = promisify(fdatasync);

/**
 * Above this many files written, one syncfs(2) instead of an fdatasync each: 20,000 small
 * files took 20,000 journal commits on ext4 (docs/performance.md, "Many small files").
 */
const SYNC_FILESYSTEM_ABOVE = 64;

/** syncfs(2) of the filesystem holding `path`, through coreutils `sync -f`, off the event loop. False when that is not possible. */
async function syncFilesystemOf(path: string): Promise<boolean> {
  try {
    return (await Bun.spawn(["sync", "--file-system", path], { stdin: "ignore", stdout: "ignore", stderr: "ignore" }).exited) === 0;
  } catch {
    return false;
  }
}

/** The ranges cut to `length` bytes in all: a read never runs past its chunk. */
function withinChunk(ranges: readonly Uint8Array[], length: number): Uint8Array[] {
  const out: Uint8Array[] = [];
  for (const range of ranges) {
    if (length <= 0) break;
    out.push(range.length <= length ? range : range.subarray(0, length));
    length -= range.length;
  }
  return out;
}

/** What is left of `ranges` once `filled` more bytes are read into them: a read may stop part-way. */
export function rangesAfter(ranges: readonly Uint8Array[], filled: number): Uint8Array[] {
  const out: Uint8Array[] = [];
  for (const range of ranges) {
    if (filled >= range.length) {
      filled -= range.length;
      continue;
    }
    out.push(filled > 0 ? range.subarray(filled) : range);
    filled = 0;
  }
  return out;
}

/**
 * The permission bits a download creates a file with: the recorded ones, so that finalize
 * seldom has to change them, plus the owner's write bit, so that a file evicted from the
 * open set can be opened again for writing. Privilege bits wait for finalize.
 */
export const creationMode = (recorded: number): number => (recorded & 0o777) | 0o200;

/** Opens for writing, creating the file if it is not there yet; never through a symlink planted in the tree. */
const WRITE_FLAGS = constants.O_RDWR | constants.O_CREAT | constants.O_NOFOLLOW;

interface OpenFile {
  fd: number;
  /** Async operations in progress: the descriptor is not closed under them. */
  pins: number;
}

/** A file's size, mtime and inode as one comparable string; "gone" when there is no file. */
export type FileStamp = string;

const stampOfStats = (s: { size: number; mtimeMs: number; ino: number }): FileStamp => `${s.size}:${s.mtimeMs}:${s.ino}`;

/**
 * Chunk-addressed access to a package's files under `rootPath`, with a bounded set of
 * open descriptors (least recently used first out). Reads and stats run on the JS thread
 * while they find their data in memory, and on the thread pool while they do not
 * (WarmDisk): a seed's payload may be cold on a slow disk, which must not stall the event
 * loop that every peer's messages share, yet a pool trip per block cost a swarm of 8
 * hosts a tenth of its CPU. Chunks longer than LIMITS.inlineIoBytes are written on the
 * pool. A writable one creates each file on its first write (one open per file, not a
 * create, a truncate and a reopen); the file grows to its size as its chunks land.
 */
export class PackageFiles {
  readonly layout: ChunkLayout;
  readonly pathOf: (entryIndex: number) => string;
  private readonly open = new Map<number, OpenFile>();
  /** Files written since the last sync(), open or not. */
  private readonly dirty = new Set<number>();

  constructor(
    readonly pkg: Package,
    readonly rootPath: string,
    private readonly writable: boolean,
    private readonly disk = new WarmDisk(),
  ) {
    this.layout = new ChunkLayout(pkg.entries, pkg.chunkSize);
    this.pathOf = payloadPathOf(pkg, rootPath);
  }

  chunkLength(index: number): number {
    return this.layout.locate(index).length;
  }

  private file(entryIndex: number): OpenFile {
    let f = this.open.get(entryIndex);
    if (f) {
      this.open.delete(entryIndex);
    } else {
      const path = this.pathOf(entryIndex);
      const fd = this.writable ? openSync(path, WRITE_FLAGS, creationMode(this.pkg.entries[entryIndex]!.mode)) : openSync(path, "r");
      f = { fd, pins: 0 };
      this.evict();
    }
    this.open.set(entryIndex, f);
    return f;
  }

  private evict(): void {
    for (const [entryIndex, f] of this.open) {
      if (this.open.size < NET.maxOpenFiles) return;
      if (f.pins > 0) continue;
      closeSync(f.fd);
      this.open.delete(entryIndex);
    }
  }

  /**
   * Reads the bytes of chunk `index` from `offset` on into `into`, one range after the
   * other, on the JS thread, and returns the count read (short at the end of the chunk or
   * of a file cut short); null while the disk is cold (read() goes to the pool then).
   */
  readNow(index: number, offset: number, into: readonly Uint8Array[]): number | null {
    if (!this.disk.warm) return null;
    const at = this.layout.locate(index);
    const ranges = withinChunk(into, at.length - offset);
    return this.disk.timed(() => {
      const { fd } = this.file(at.entryIndex);
      let got = 0;
      for (let rest = ranges; rest.length > 0; ) {
        const bytesRead = readvSync(fd, rest, at.offset + offset + got);
        if (bytesRead === 0) break;
        got += bytesRead;
        rest = rangesAfter(rest, bytesRead);
      }
      return got;
    });
  }

  /** Reads the bytes of chunk `index` from `offset` on into `into`, one range after the other; resolves with the count read. */
  async read(index: number, offset: number, into: readonly Uint8Array[]): Promise<number> {
    const now = this.readNow(index, offset, into);
    if (now !== null) return now;
    const at = this.layout.locate(index);
    const ranges = withinChunk(into, at.length - offset);
    const f = this.file(at.entryIndex);
    f.pins++;
    try {
      let got = 0;
      for (let rest = ranges; rest.length > 0; ) {
        const { bytesRead } = await readvAsync(f.fd, rest, at.offset + offset + got);
        if (bytesRead === 0) break;
        got += bytesRead;
        rest = rangesAfter(rest, bytesRead);
      }
      return got;
    } finally {
      f.pins--;
    }
  }

  /** The stamp of an entry's file, taken on the JS thread while the disk is warm. */
  stamp(entryIndex: number): FileStamp | Promise<FileStamp> {
    const path = this.pathOf(entryIndex);
    if (!this.disk.warm) return statAsync(path).then(stampOfStats, () => "gone");
    return this.disk.timed(() => {
      try {
        return stampOfStats(statSync(path));
      } catch {
        return "gone";
      }
    });
  }

  /** Writes a whole chunk at its place. */
  async writeChunk(index: number, data: Uint8Array): Promise<void> {
    const at = this.layout.locate(index);
    const f = this.file(at.entryIndex);
    f.pins++;
    this.dirty.add(at.entryIndex);
    try {
      let done = 0;
      while (done < at.length) {
        done +=
          at.length <= LIMITS.inlineIoBytes
            ? writeSync(f.fd, data, done, at.length - done, at.offset + done)
            : (await writeAsync(f.fd, data, done, at.length - done, at.offset + done)).bytesWritten;
      }
    } finally {
      f.pins--;
    }
  }

  /**
   * Hashes chunk `index` and writes it at its place when its digest is `expected`, in one
   * trip to the thread pool (Hasher.hashAndWriteAsync); resolves the digest.
   */
  async placeChunk(index: number, data: Uint8Array, expected: Uint8Array): Promise<Uint8Array> {
    const at = this.layout.locate(index);
    const f = this.file(at.entryIndex);
    f.pins++;
    this.dirty.add(at.entryIndex);
    try {
      return await hasher().hashAndWriteAsync(data.subarray(0, at.length), expected, f.fd, at.offset);
    } finally {
      f.pins--;
    }
  }

  /**
   * Flushes everything written through this object to stable storage. With many files
   * written, the whole filesystem at once (directory entries included): "filesystem";
   * otherwise each file: "files".
   */
  async sync(): Promise<"filesystem" | "files"> {
    if (this.dirty.size > SYNC_FILESYSTEM_ABOVE && (await syncFilesystemOf(this.rootPath))) {
      this.dirty.clear();
      return "filesystem";
    }
    for (const entryIndex of [...this.dirty]) {
      const f = this.file(entryIndex);
      f.pins++;
      try {
        await fdatasyncAsync(f.fd);
      } finally {
        f.pins--;
      }
      this.dirty.delete(entryIndex);
    }
    return "files";
  }

  close(): void {
    for (const f of this.open.values()) closeSync(f.fd);
    this.open.clear();
  }
}
