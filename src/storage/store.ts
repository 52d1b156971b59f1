import { BtError } from "../errors.ts";
import type { ChunkSource } from "../peer/uploader.ts";
import { Bitset } from "../util/bitset.ts";
import type { PackageFiles } from "./files.ts";
import type { Output } from "./output.ts";

/** Where a node's chunks live: the verified set, reads for serving, writes for downloading. */
export interface ChunkStore extends ChunkSource {
  readonly have: Bitset;
  /** Writes and records a verified chunk. Only called while the node is downloading. */
  commit(chunk: number, data: Uint8Array, digest: Uint8Array): Promise<void>;
}

/** Complete data on disk (a seed's payload, or a finished download), served as is. */
export function completeStore(files: PackageFiles): ChunkStore {
  const chunkCount = files.layout.chunkCount;
  return {
    chunkCount,
    have: Bitset.full(chunkCount),
    has: (c) => c < chunkCount,
    chunkLength: (c) => files.chunkLength(c),
    read: (c, offset, into) => files.read(c, offset, into),
    commit: () => Promise.reject(new BtError("BT_E_INTERNAL", "commit to a complete store")),
  };
}

/** A download in progress: serves what it has verified, stores what arrives. */
export function downloadStore(output: Output): ChunkStore {
  const { files, verified } = output;
  return {
    chunkCount: files.layout.chunkCount,
    have: verified,
    has: (c) => verified.has(c),
    chunkLength: (c) => files.chunkLength(c),
    read: (c, offset, into) => files.read(c, offset, into),
    commit: (c, data, digest) => output.commit(c, data, digest),
  };
}
