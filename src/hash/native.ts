import type { Hasher } from "./types.ts";

interface Addon {
  hashChunks(bytes: Uint8Array, chunkSize: number): Uint8Array;
  hashChunksAsync(bytes: Uint8Array, chunkSize: number): Promise<Uint8Array>;
  merkleRoot(digests: Uint8Array): Uint8Array;
  hashFileRangeAsync(path: string, offset: number, length: number, chunkSize: number): Promise<Uint8Array>;
  hashAndWriteAsync(bytes: Uint8Array, expected: Uint8Array, fd: number, position: number): Promise<Uint8Array>;
}

function loadAddon(): Addon | null {
  try {
    // A literal path, so that `bun build --compile` embeds the addon in the executable.
    return require("../../native/build/bytetide.node") as Addon;
  } catch {
    return null;
  }
}

/** The Rust addon (native/), or null when it was not built (no Rust toolchain). */
export function loadNativeHasher(): Hasher | null {
  const addon = loadAddon();
  if (!addon) return null;
  return {
    name: "native",
    description: "native (Rust sha2 on the N-API pool)",
    hashChunks: (bytes, chunkSize) => addon.hashChunks(bytes, chunkSize),
    hashChunksAsync: (bytes, chunkSize) => addon.hashChunksAsync(bytes, chunkSize),
    merkleRoot: (digests) => addon.merkleRoot(digests),
    hashAndWriteAsync: (bytes, expected, fd, position) => addon.hashAndWriteAsync(bytes, expected, fd, position),
    hashFileRange: (path, offset, length, chunkSize) => addon.hashFileRangeAsync(path, offset, length, chunkSize),
  };
}
