import { chmodSync, closeSync, constants, fsyncSync, lstatSync, mkdirSync, openSync, readFileSync, renameSync, rmSync, symlinkSync, writeSync, ftruncateSync } from "node:fs";
import { dirname } from "node:path";
import { LIMITS } from "../config.ts";
import { BtError, fsError } from "../errors.ts";
import { DIGEST_LENGTH, hasher } from "../hash/index.ts";
import { equalBytes } from "../pkg/format.ts";
import type { Package } from "../pkg/model.ts";
import type { Selection } from "../pkg/selection.ts";
import { Bitset } from "../util/bitset.ts";
import type { Logger } from "../util/log.ts";
import { creationMode, PackageFiles } from "./files.ts";
import { hashJobs, planHashJobs } from "./hash-files.ts";
import { appliedMode, octalMode } from "./modes.ts";
import { payloadPathOf } from "./payload.ts";
import { lockExclusive } from "./lock.ts";
import { preallocate, requireFreeSpace } from "./space.ts";
import { chunkRecord, decodeState, encodeState } from "./state.ts";

export interface OutputPaths {
  /** Where the finished file or directory goes; nothing appears here until it is verified. */
  final: string;
  /** The file or directory being filled. */
  part: string;
  /** The progress bitset. */
  state: string;
}

export const outputPaths = (final: string): OutputPaths => ({ final, part: `${final}.part`, state: `${final}.btstate` });

/** Refuses to write through a symlink someone planted inside the .part tree. */
function ensureDirectory(path: string): void {
  try {
    if (lstatSync(path).isDirectory()) return;
    throw new BtError("BT_E_IO", `${path}: exists and is not a directory`);
  } catch (err) {
    if ((err as { code?: string }).code !== "ENOENT") throw err instanceof BtError ? err : fsError("BT_E_IO", err, path);
  }
  mkdirSync(path, { mode: 0o755 });
}

function openForWriting(path: string, mode: number): number {
  try {
    return openSync(path, constants.O_RDWR | constants.O_CREAT | constants.O_NOFOLLOW, mode);
  } catch (err) {
    throw fsError("BT_E_IO", err, path);
  }
}

/** Creates the file if it is missing and gives it `size`: sparse, existing bytes below `size` kept for resume. */
function ensureFile(path: string, size: number, mode: number): void {
  const fd = openForWriting(path, mode);
  try {
    ftruncateSync(fd, size);
  } finally {
    closeSync(fd);
  }
}

/**
 * A download's output: the .part file or tree, its progress file, and the rules that
 * make resume safe. Verified chunks are recorded after their data is written; after a
 * crash the record may be ahead of the disk, so an unclean state is re-verified on resume
 * (docs/protocol.md, "Resume").
 */
export class Output {
  readonly files: PackageFiles;
  readonly verified: Bitset;
  /** Digest of every chunk as computed here, for the final Merkle check. */
  private readonly digests: Uint8Array;
  private stateFd: number | null = null;
  /** Chunks verified but not yet in the progress file, lowest and highest; written by a timer. */
  private unrecorded: { first: number; last: number; timer: ReturnType<typeof setTimeout> } | null = null;
  /** A record that could not be written, reported by the next commit (a timer has nobody to tell). */
  private recordFailure: unknown = null;
  /**
   * The progress file is this run's too. One that was there already may be the record of
   * an earlier get --only, which an empty run must not take away.
   */
  private stateCreatedHere = false;

  private constructor(
    readonly pkg: Package,
    readonly paths: OutputPaths,
    verified: Bitset,
    digests: Uint8Array,
    /** The .part tree is this run's: every file in it was created with its creationMode. */
    private readonly createdHere: boolean,
    /** get --only: the part of the package this output holds; null for all of it. */
    readonly selection: Selection | null,
  ) {
    this.files = new PackageFiles(pkg, paths.part, true);
    this.verified = verified;
    this.digests = digests;
  }

  /**
   * Takes the output for this process (a lock on the progress file), then creates the
   * .part layout or takes up an earlier one, deciding which chunks are already good.
   */
  static async open(pkg: Package, paths: OutputPaths, logger: Logger, options: { selection?: Selection | null; preallocate?: boolean } = {}): Promise<Output> {
    const selection = options.selection ?? null;
    // The output's directory must exist already (the caller checks it): rsync makes only the
    // last level, and a typo in -o must not build a tree at the root of the filesystem.
    const stateCreatedHere = lstatSafe(paths.state) === null;
    const stateFd = openLocked(paths, logger);
    let output: Output | null = null;
    try {
      output = await Output.prepare(pkg, paths, stateFd, logger, selection);
      output.stateFd = stateFd;
      output.stateCreatedHere = stateCreatedHere;
      requireFreeSpace(paths.final, dirname(paths.final), output.missingBytes);
      if (options.preallocate) output.preallocate();
      // Unclean until proven otherwise: a crash from here on leaves this flag unset.
      output.saveState(false);
      return output;
    } catch (err) {
      if (!output?.discardIfEmpty()) closeSync(stateFd);
      throw err;
    }
  }

  private static async prepare(pkg: Package, paths: OutputPaths, stateFd: number, logger: Logger, selection: Selection | null): Promise<Output> {
    const chunkCount = pkg.chunkHashes.length / DIGEST_LENGTH;
    const resuming = lstatSafe(paths.part) !== null;
    const probe = new PackageFiles(pkg, paths.part, true);
    const wanted = (c: number) => selection?.chunks.has(c) ?? true;
    for (const [i, e] of pkg.entries.entries()) {
      if (selection && !selection.entries[i]) continue;
      if (e.kind === "directory") ensureDirectory(probe.pathOf(i));
      // A new file is created by its first write; an empty one has none.
      else if (e.kind === "file" && (resuming || e.size === 0)) ensureFile(probe.pathOf(i), e.size, creationMode(e.mode));
    }

    const digests = new Uint8Array(chunkCount * DIGEST_LENGTH);
    let verified = new Bitset(chunkCount);
    if (resuming) {
      const saved = readState(stateFd, pkg);
      if ("problem" in saved) {
        logger.event("resume-check", { state: paths.state, problem: saved.problem, action: "re-verifying all data" });
        verified = await verifyChunks(pkg, probe, wanted, digests);
      } else if (!saved.clean) {
        logger.event("resume-check", { state: paths.state, problem: "previous run did not stop cleanly", action: `re-verifying ${saved.verified.count} claimed chunks` });
        verified = await verifyChunks(pkg, probe, (c) => saved.verified.has(c) && wanted(c), digests);
      } else {
        // Chunks of files outside this run's selection are not in its .part tree.
        verified = new Bitset(chunkCount);
        for (const c of saved.verified.members()) if (wanted(c)) verified.add(c);
        for (const c of verified.members()) digests.set(pkg.chunkHashes.subarray(c * DIGEST_LENGTH, (c + 1) * DIGEST_LENGTH), c * DIGEST_LENGTH);
      }
    }
    try {
      // What was read is decided on; a shorter record must not keep the old one's tail.
      ftruncateSync(stateFd, 0);
    } catch (err) {
      throw fsError("BT_E_IO", err, paths.state);
    }
    return new Output(pkg, paths, verified, digests, !resuming, selection);
  }

  /** Bytes of the wanted chunks (all, or the selection's) not verified yet: what the disk must still take. */
  get missingBytes(): number {
    let bytes = 0;
    for (let c = 0; c < this.verified.size; c++) if (!this.verified.has(c) && (this.selection?.chunks.has(c) ?? true)) bytes += this.files.chunkLength(c);
    return bytes;
  }

  /** Reserves every wanted file's blocks now (--preallocate), creating the files this run has not. */
  private preallocate(): void {
    for (const [i, e] of this.pkg.entries.entries()) {
      if (e.kind !== "file" || e.size === 0 || (this.selection && !this.selection.entries[i])) continue;
      const path = this.files.pathOf(i);
      const fd = openForWriting(path, creationMode(e.mode));
      try {
        const problem = preallocate(fd, e.size);
        if (problem) throw new BtError("BT_E_IO", `${path}: cannot preallocate ${e.size} bytes: ${problem}`);
      } finally {
        closeSync(fd);
      }
    }
  }

  /**
   * A run that stops before it verified anything removes what it made: a .part and a
   * progress file with nothing in them would only make the next get look like a resume.
   * Returns whether it removed them.
   */
  discardIfEmpty(): boolean {
    if (!this.createdHere || !this.stateCreatedHere || this.verified.count > 0) return false;
    this.close();
    rmSync(this.paths.part, { recursive: true, force: true });
    rmSync(this.paths.state, { force: true });
    return true;
  }

  /** Every chunk wanted (all, or the selection's) is verified. */
  get complete(): boolean {
    if (!this.selection) return this.verified.complete;
    for (const c of this.selection.chunks.members()) if (!this.verified.has(c)) return false;
    return true;
  }

  /** Writes a verified chunk, then records it (within LIMITS.progressRecordMs). */
  async commit(chunk: number, data: Uint8Array, digest: Uint8Array): Promise<void> {
    if (this.recordFailure) throw this.recordFailure;
    try {
      await this.files.writeChunk(chunk, data);
    } catch (err) {
      throw this.writeError(chunk, err);
    }
    this.record(chunk, digest);
  }

  /** Hashes the chunk and writes it when it matches `expected`, off the JS thread; resolves its digest. A placed chunk is then recorded. */
  async place(chunk: number, data: Uint8Array, expected: Uint8Array): Promise<Uint8Array> {
    if (this.recordFailure) throw this.recordFailure;
    try {
      return await this.files.placeChunk(chunk, data, expected);
    } catch (err) {
      throw this.writeError(chunk, err);
    }
  }

  /** Takes a chunk whose verified bytes are on disk as held; the progress file hears of it within LIMITS.progressRecordMs. */
  record(chunk: number, digest: Uint8Array): void {
    if (this.recordFailure) throw this.recordFailure;
    this.digests.set(digest, chunk * DIGEST_LENGTH);
    this.verified.add(chunk);
    if (this.unrecorded) {
      this.unrecorded.first = Math.min(this.unrecorded.first, chunk);
      this.unrecorded.last = Math.max(this.unrecorded.last, chunk);
    } else {
      this.unrecorded = { first: chunk, last: chunk, timer: setTimeout(() => this.recordVerified(), LIMITS.progressRecordMs) };
    }
  }

  private writeError(chunk: number, err: unknown): BtError {
    return fsError("BT_E_IO", err, this.files.pathOf(this.files.layout.locate(chunk).entryIndex));
  }

  /** The file is unclean while we run (see open): the bytes with the new chunks' bits are enough. */
  private recordVerified(): void {
    if (!this.unrecorded) return;
    const { first, last, timer } = this.unrecorded;
    clearTimeout(timer);
    this.unrecorded = null;
    const record = chunkRecord(this.verified, first, last);
    try {
      this.writeState(record.bytes, record.offset);
    } catch (err) {
      this.recordFailure = err;
    }
  }

  private saveState(clean: boolean, partial = false): void {
    if (this.unrecorded) clearTimeout(this.unrecorded.timer);
    this.unrecorded = null;
    // One positional write of the whole file: a crash cannot leave half of it.
    this.writeState(encodeState({ root: this.pkg.root, verified: this.verified, clean, partial }), 0);
  }

  private writeState(bytes: Uint8Array, offset: number): void {
    if (this.stateFd === null) return;
    try {
      writeSync(this.stateFd, bytes, 0, bytes.length, offset);
    } catch (err) {
      throw fsError("BT_E_IO", err, this.paths.state);
    }
  }

  /** Stops for now: data synced, then the state marked clean, so a resume trusts it. */
  async suspend(): Promise<void> {
    await this.files.sync();
    this.saveState(true);
    if (this.stateFd !== null) fsyncSync(this.stateFd);
    this.close();
  }

  /**
   * All chunks are in: check the Merkle root over the digests computed here, sync, give
   * entries their recorded modes (setuid/setgid only if allowed: storage/modes.ts) and
   * links, and only then rename into place.
   */
  async finalize(options: { allowSetuid: boolean; replace: boolean; logger: Logger }): Promise<void> {
    if (!this.complete) throw new BtError("BT_E_INTERNAL", "finalize before every chunk was verified");
    this.checkDigests();
    const pathOf = this.files.pathOf;
    const each = (kinds: string[], action: (path: string, i: number) => void) => {
      // Deepest first, so a directory loses write permission only after its contents are done.
      for (let i = this.pkg.entries.length - 1; i >= 0; i--) {
        if (!kinds.includes(this.pkg.entries[i]!.kind) || (this.selection && !this.selection.entries[i])) continue;
        try {
          action(pathOf(i), i);
        } catch (err) {
          throw fsError("BT_E_IO", err, pathOf(i));
        }
      }
    };
    each(["symlink"], (path, i) => {
      rmSync(path, { force: true });
      symlinkSync(this.pkg.entries[i]!.target!, path);
    });
    const synced = await this.files.sync();
    this.files.close();
    // New directory entries are durable only once their directories are synced (a whole
    // filesystem synced took them along).
    if (synced === "files") each(["directory"], syncDirectory);
    const finalPathOf = payloadPathOf(this.pkg, this.paths.final);
    const umask = process.umask();
    each(["file", "directory"], (path, i) => {
      const { kind, mode: recorded } = this.pkg.entries[i]!;
      const { mode, stripped } = appliedMode(recorded, options.allowSetuid);
      if (stripped) options.logger.event("mode-stripped", { file: finalPathOf(i), recorded: octalMode(recorded), applied: octalMode(mode), hint: "--allow-setuid keeps setuid/setgid bits" });
      // A chmod per file is a tenth of a small-file download's system calls: skip those already right.
      if (this.createdHere && kind === "file" && mode === (creationMode(recorded) & ~umask)) return;
      chmodSync(path, mode);
    });
    try {
      // What is replaced (an older version) stays whole until here; a directory cannot be
      // renamed over a full one, so it steps aside for the moment between two renames.
      const aside = options.replace && lstatSafe(this.paths.final) ? `${this.paths.final}.old-${process.pid}` : null;
      if (aside) renameSync(this.paths.final, aside);
      renameSync(this.paths.part, this.paths.final);
      syncDirectory(dirname(this.paths.final));
      if (aside) rmSync(aside, { recursive: true, force: true });
    } catch (err) {
      throw fsError("BT_E_IO", err, this.paths.final);
    }
    if (this.selection) {
      // The progress file stays, as the record of what this output holds (storage/state.ts).
      this.saveState(true, true);
      if (this.stateFd !== null) fsyncSync(this.stateFd);
      this.close();
      return;
    }
    this.close();
    rmSync(this.paths.state, { force: true });
  }

  /**
   * The whole package: the Merkle root over the digests computed here must be the
   * package's. A selection: each of its chunks' digests must be the package's hash, whose
   * list decodePackage checked against the root.
   */
  private checkDigests(): void {
    if (!this.selection) {
      if (equalBytes(hasher().merkleRoot(this.digests), this.pkg.root)) return;
      throw new BtError("BT_E_VERIFY", `${this.paths.part}: Merkle root of the received chunks does not match the package`);
    }
    for (const c of this.selection.chunks.members()) {
      const at = c * DIGEST_LENGTH;
      if (equalBytes(this.digests.subarray(at, at + DIGEST_LENGTH), this.pkg.chunkHashes.subarray(at, at + DIGEST_LENGTH))) continue;
      throw new BtError("BT_E_VERIFY", `${this.paths.part}: chunk ${c} does not match the package`);
    }
  }

  close(): void {
    this.recordVerified();
    this.files.close();
    if (this.stateFd !== null) closeSync(this.stateFd);
    this.stateFd = null;
  }
}

function lstatSafe(path: string) {
  try {
    return lstatSync(path);
  } catch {
    return null;
  }
}

/**
 * Opens (creating) the progress file and locks it: one download per output. The lock
 * lives as long as the descriptor, so it ends with the process, however it ends.
 */
function openLocked(paths: OutputPaths, logger: Logger): number {
  let fd: number;
  try {
    fd = openSync(paths.state, constants.O_RDWR | constants.O_CREAT | constants.O_NOFOLLOW, 0o644);
  } catch (err) {
    throw fsError("BT_E_IO", err, paths.state);
  }
  const lock = lockExclusive(fd);
  if (lock === "held-elsewhere") {
    closeSync(fd);
    throw new BtError("BT_E_LOCKED", `${paths.final}: another bytetide get is downloading to this output (${paths.state} is locked); wait for it, or stop it`);
  }
  if (lock === "unsupported") logger.event("lock-unavailable", { state: paths.state, reason: "this system or filesystem offers no file locks; two gets on one output would clash" });
  return fd;
}

function readState(fd: number, pkg: Package): ReturnType<typeof decodeState> {
  let bytes: Uint8Array;
  try {
    bytes = readFileSync(fd);
  } catch (err) {
    return { problem: `unreadable (${(err as Error).message})` };
  }
  if (bytes.length === 0) return { problem: "missing" };
  return decodeState(bytes, pkg.root, pkg.chunkHashes.length / DIGEST_LENGTH);
}

/** Hashes the chosen chunks of the .part data; returns those that match the package. */
async function verifyChunks(pkg: Package, files: PackageFiles, include: (c: number) => boolean, digests: Uint8Array): Promise<Bitset> {
  const computed = new Uint8Array(digests.length);
  const good = new Bitset(files.layout.chunkCount);
  await hashJobs(planHashJobs(files.layout, files.pathOf, { include }), pkg.chunkSize, computed, {
    onJobDone: (job) => {
      for (let c = job.firstChunk; c < job.firstChunk + job.chunkCount; c++) {
        const at = c * DIGEST_LENGTH;
        const digest = computed.subarray(at, at + DIGEST_LENGTH);
        if (equalBytes(digest, pkg.chunkHashes.subarray(at, at + DIGEST_LENGTH))) {
          good.add(c);
          digests.set(digest, at);
        }
      }
    },
    onError: (job, error) => {
      throw fsError("BT_E_IO", error, job.path);
    },
  });
  return good;
}

function syncDirectory(path: string): void {
  const fd = openSync(path, "r");
  try {
    fsyncSync(fd);
  } finally {
    closeSync(fd);
  }
}
