export type EntryKind = "file" | "directory" | "symlink";

/**
 * One item of the package tree. Paths are relative, '/'-separated, and all begin with
 * the package name: "model.bin" for a one-file package, "weights" and "weights/a.bin"
 * for a directory package. Only files carry data; each file's data starts a new chunk.
 */
export interface Entry {
  kind: EntryKind;
  path: string;
  /** Permission bits (mode & 0o7777). */
  mode: number;
  /** Bytes of data; 0 for directories and symlinks. */
  size: number;
  /** Symlinks only: the link target, relative, staying inside the package. */
  target?: string;
}

export interface Package {
  formatVersion: number;
  chunkSize: number;
  totalSize: number;
  entries: Entry[];
  /** chunkCount × 32 bytes: SHA-256 of each chunk, in order. */
  chunkHashes: Uint8Array;
  /** The package identity: the Merkle root over chunkHashes. */
  root: Uint8Array;
}

export const chunkCountOf = (p: Pick<Package, "chunkHashes">): number => p.chunkHashes.length / 32;

export const packageName = (p: Pick<Package, "entries">): string => p.entries[0]!.path;
