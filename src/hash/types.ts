/**
 * One SHA-256 backend. Two exist: the Rust addon (hashes on the N-API pool, off the
 * JS thread) and Bun.CryptoHasher (on the JS thread), used when no addon was built.
 * Digest lists are concatenated 32-byte SHA-256 digests.
 */
export interface Hasher {
  readonly name: "native" | "js";
  readonly description: string;
  /** Digests of each chunkSize piece of bytes, on the calling thread: for small inputs. */
  hashChunks(bytes: Uint8Array, chunkSize: number): Uint8Array;
  /** Same, off the JS thread where the backend can. `bytes` must not change until it settles. */
  hashChunksAsync(bytes: Uint8Array, chunkSize: number): Promise<Uint8Array>;
  /** The package root over a digest list (docs/format.md, "Merkle tree"). */
  merkleRoot(digests: Uint8Array): Uint8Array;
  /**
   * The digest of one chunk's bytes, which are written at `position` of the open file `fd`
   * only when it equals `expected`; off the JS thread where the backend can, hashing and
   * writing in one trip. `bytes` must not change, nor `fd` close, until it settles.
   */
  hashAndWriteAsync(bytes: Uint8Array, expected: Uint8Array, fd: number, position: number): Promise<Uint8Array>;
  /** Digests of the chunks in [offset, offset+length) of a file; offset starts a chunk. */
  hashFileRange(path: string, offset: number, length: number, chunkSize: number): Promise<Uint8Array>;
}

export const DIGEST_LENGTH = 32;
