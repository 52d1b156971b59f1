import { LIMITS } from "../config.ts";
import { DIGEST_LENGTH, hasher, sha256Of } from "../hash/index.ts";
import { ChunkLayout } from "./layout.ts";
import type { Entry, EntryKind, Package } from "./model.ts";
import { entriesProblem } from "./paths.ts";

/** "\x89BPKG\r\n\x1a": the high byte and line endings catch text-mode mangling, as in PNG. */
export const MAGIC = Uint8Array.of(0x89, 0x42, 0x50, 0x4b, 0x47, 0x0d, 0x0a, 0x1a);
export const FORMAT_VERSION = 1;
export const HEADER_LENGTH = 40;
const ENTRY_FIXED_LENGTH = 16;
const TRAILER_LENGTH = 2 * DIGEST_LENGTH;

const KIND_CODES: Record<EntryKind, number> = { file: 0, directory: 1, symlink: 2 };
const KINDS: EntryKind[] = ["file", "directory", "symlink"];

/** A decoding failure; the caller adds the file name. */
export class FormatError extends Error {
  constructor(
    message: string,
    /** The bytes do not even begin as a package: some other file was given. */
    readonly notAPackage = false,
  ) {
    super(message);
  }
}

export const isPowerOfTwo = (n: number): boolean => Number.isInteger(n) && n > 0 && (n & (n - 1)) === 0;

/** What is wrong with a chunk size, worded to follow the value: "3MiB: must be ...". */
export function chunkSizeProblem(n: number): string | null {
  if (!isPowerOfTwo(n) || n < LIMITS.minChunkSize || n > LIMITS.maxChunkSize) {
    return "must be a power of two from 64KiB to 64MiB";
  }
  return null;
}

/**
 * The chunk size `make` picks for a package of `totalBytes`, as mktorrent and libtorrent pick
 * theirs: the smallest power of two that cuts it into at most LIMITS.defaultChunksAtMost
 * chunks (so 1,025 to 2,048: enough for a swarm to trade from the start, few enough that
 * per-chunk work stays small), within LIMITS.minDefaultChunkSize..maxDefaultChunkSize.
 * 256 MiB gets 256 KiB, 1 GiB 512 KiB, 10 GiB 8 MiB, and 40 GiB on up 16 MiB. docs/format.md
 * gives the lab figures behind it.
 */
export function defaultChunkSize(totalBytes: number): number {
  let size = LIMITS.minDefaultChunkSize;
  while (size < LIMITS.maxDefaultChunkSize && size * LIMITS.defaultChunksAtMost < totalBytes) size *= 2;
  return size;
}

export function encodePackage(pkg: Package): Uint8Array {
  const utf8 = new TextEncoder();
  const encoded = pkg.entries.map((e) => ({
    e,
    path: utf8.encode(e.path),
    target: e.kind === "symlink" ? utf8.encode(e.target ?? "") : null,
  }));
  const tableLength = encoded.reduce((n, x) => n + ENTRY_FIXED_LENGTH + x.path.length + (x.target ? 2 + x.target.length : 0), 0);
  const total = HEADER_LENGTH + tableLength + pkg.chunkHashes.length + TRAILER_LENGTH;
  const out = new Uint8Array(total);
  const view = new DataView(out.buffer);
  out.set(MAGIC, 0);
  view.setUint16(8, pkg.formatVersion, true);
  view.setUint16(10, 0, true);
  view.setUint32(12, pkg.chunkSize, true);
  view.setBigUint64(16, BigInt(pkg.totalSize), true);
  view.setUint32(24, pkg.entries.length, true);
  view.setUint32(28, pkg.chunkHashes.length / DIGEST_LENGTH, true);
  view.setUint32(32, tableLength, true);
  view.setUint32(36, 0, true);
  let at = HEADER_LENGTH;
  for (const { e, path, target } of encoded) {
    view.setUint8(at, KIND_CODES[e.kind]);
    view.setUint16(at + 2, path.length, true);
    view.setUint32(at + 4, e.mode, true);
    view.setBigUint64(at + 8, BigInt(e.size), true);
    out.set(path, at + ENTRY_FIXED_LENGTH);
    at += ENTRY_FIXED_LENGTH + path.length;
    if (target) {
      view.setUint16(at, target.length, true);
      out.set(target, at + 2);
      at += 2 + target.length;
    }
  }
  out.set(pkg.chunkHashes, at);
  at += pkg.chunkHashes.length;
  out.set(pkg.root, at);
  at += DIGEST_LENGTH;
  out.set(sha256Of(out.subarray(0, at)), at);
  return out;
}

/**
 * The package id: SHA-256 of the encoded package up to its checksum, which is the checksum
 * itself. Unlike the Merkle root, which covers only the chunk hashes, it commits to
 * everything the package says: chunk size, sizes, the file table (names, modes, links), the
 * chunk hashes and the root. Decoding refuses any byte the encoder would not have written
 * (reserved fields included), so a package has one encoding and one id.
 */
export const packageId = (pkg: Package): Uint8Array => encodePackage(pkg).slice(-DIGEST_LENGTH);

/** The id an encoded package claims (its checksum); decodePackage checks it. */
export const claimedId = (encoded: Uint8Array): Uint8Array => encoded.subarray(encoded.length - DIGEST_LENGTH);

/** The length a package file must have, from its header alone; throws on a bad header. */
export function expectedLength(header: Uint8Array): number {
  const magic = MAGIC.every((b, i) => header[i] === b);
  if (header.length < HEADER_LENGTH) throw new FormatError(`truncated: ${header.length} bytes, shorter than the ${HEADER_LENGTH}-byte header`, !magic);
  if (!magic) throw new FormatError("not a bytetide package (bad magic)", true);
  const view = new DataView(header.buffer, header.byteOffset, HEADER_LENGTH);
  const version = view.getUint16(8, true);
  if (version > FORMAT_VERSION) {
    throw new FormatError(`written in format version ${version}, newer than this bytetide reads (${FORMAT_VERSION}); upgrade bytetide`);
  }
  if (version === 0) throw new FormatError("corrupt: format version 0");
  const entryCount = view.getUint32(24, true);
  const chunkCount = view.getUint32(28, true);
  const tableLength = view.getUint32(32, true);
  if (entryCount > LIMITS.maxEntries) throw new FormatError(`corrupt: ${entryCount} entries, more than the limit of ${LIMITS.maxEntries}`);
  if (chunkCount > LIMITS.maxChunks) throw new FormatError(`corrupt: ${chunkCount} chunks, more than the limit of ${LIMITS.maxChunks}`);
  if (tableLength > LIMITS.maxEntryTableBytes) throw new FormatError(`corrupt: entry table of ${tableLength} bytes, over the limit`);
  return HEADER_LENGTH + tableLength + chunkCount * DIGEST_LENGTH + TRAILER_LENGTH;
}

export function decodePackage(bytes: Uint8Array): Package {
  const length = expectedLength(bytes);
  if (bytes.length < length) throw new FormatError(`truncated: ${bytes.length} of ${length} bytes`);
  if (bytes.length > length) throw new FormatError(`corrupt: ${bytes.length - length} unexpected bytes after the package`);
  const body = bytes.subarray(0, length - DIGEST_LENGTH);
  if (!equalBytes(sha256Of(body), bytes.subarray(length - DIGEST_LENGTH))) {
    throw new FormatError("corrupt: metadata checksum mismatch");
  }
  const view = new DataView(bytes.buffer, bytes.byteOffset, bytes.byteLength);
  const formatVersion = view.getUint16(8, true);
  const flags = view.getUint16(10, true);
  if (flags !== 0) throw new FormatError(`unsupported flags 0x${flags.toString(16)}`);
  if (view.getUint32(36, true) !== 0) throw new FormatError("corrupt: reserved header field is not 0");
  const chunkSize = view.getUint32(12, true);
  const sizeProblem = chunkSizeProblem(chunkSize);
  if (sizeProblem) throw new FormatError(`corrupt: chunk size ${chunkSize}: ${sizeProblem}`);
  const totalSize = Number(view.getBigUint64(16, true));
  const entryCount = view.getUint32(24, true);
  const chunkCount = view.getUint32(28, true);
  const tableEnd = HEADER_LENGTH + view.getUint32(32, true);

  const utf8 = new TextDecoder("utf-8", { fatal: true });
  const text = (from: number, n: number): string => {
    if (from + n > tableEnd) throw new FormatError("corrupt: entry table overruns its length");
    try {
      return utf8.decode(bytes.subarray(from, from + n));
    } catch {
      throw new FormatError("corrupt: a path is not valid UTF-8");
    }
  };
  const entries: Entry[] = [];
  let at = HEADER_LENGTH;
  for (let i = 0; i < entryCount; i++) {
    if (at + ENTRY_FIXED_LENGTH > tableEnd) throw new FormatError("corrupt: entry table overruns its length");
    const kind = KINDS[view.getUint8(at)];
    if (!kind) throw new FormatError(`corrupt: entry ${i} has unknown kind ${view.getUint8(at)}`);
    if (view.getUint8(at + 1) !== 0) throw new FormatError(`corrupt: entry ${i} has a reserved byte that is not 0`);
    const pathLength = view.getUint16(at + 2, true);
    const entry: Entry = {
      kind,
      path: text(at + ENTRY_FIXED_LENGTH, pathLength),
      mode: view.getUint32(at + 4, true),
      size: Number(view.getBigUint64(at + 8, true)),
    };
    at += ENTRY_FIXED_LENGTH + pathLength;
    if (kind === "symlink") {
      if (at + 2 > tableEnd) throw new FormatError("corrupt: entry table overruns its length");
      const targetLength = view.getUint16(at, true);
      entry.target = text(at + 2, targetLength);
      at += 2 + targetLength;
    }
    entries.push(entry);
  }
  if (at !== tableEnd) throw new FormatError("corrupt: entry table length does not match its entries");

  const problem = entriesProblem(entries);
  if (problem) throw new FormatError(`unsafe or malformed: ${problem}`);
  const layout = new ChunkLayout(entries, chunkSize);
  if (layout.chunkCount !== chunkCount) throw new FormatError(`corrupt: ${chunkCount} chunk hashes for files needing ${layout.chunkCount}`);
  const sum = entries.reduce((n, e) => n + e.size, 0);
  if (sum !== totalSize) throw new FormatError(`corrupt: total size ${totalSize} differs from the files' sum ${sum}`);

  const chunkHashes = bytes.slice(tableEnd, tableEnd + chunkCount * DIGEST_LENGTH);
  const root = bytes.slice(tableEnd + chunkCount * DIGEST_LENGTH, length - DIGEST_LENGTH);
  if (!equalBytes(hasher().merkleRoot(chunkHashes), root)) throw new FormatError("corrupt: Merkle root does not match the chunk hashes");
  return { formatVersion, chunkSize, totalSize, entries, chunkHashes, root };
}

export function equalBytes(a: Uint8Array, b: Uint8Array): boolean {
  return a.length === b.length && Buffer.compare(a, b) === 0;
}
