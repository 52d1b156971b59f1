import { DIGEST_LENGTH } from "./types.ts";

/** A SHA-256 over the concatenation of parts. */
export type Sha256 = (...parts: Uint8Array[]) => Uint8Array;

const LEAF = Uint8Array.of(0x00);
const INNER = Uint8Array.of(0x01);

/**
 * RFC 6962 Merkle tree hash over chunk digests: leaf = H(0x00 || h_i),
 * inner = H(0x01 || left || right), split at the largest power of two below n.
 * No chunks hash to H(""), as in RFC 6962.
 */
export function merkleRoot(digests: Uint8Array, sha256: Sha256): Uint8Array {
  if (digests.length % DIGEST_LENGTH !== 0) throw new RangeError("digest list length is not a multiple of 32");
  const n = digests.length / DIGEST_LENGTH;
  if (n === 0) return sha256();
  const subtree = (from: number, to: number): Uint8Array => {
    if (to - from === 1) return sha256(LEAF, digests.subarray(from * DIGEST_LENGTH, to * DIGEST_LENGTH));
    const k = largestPowerOfTwoBelow(to - from);
    return sha256(INNER, subtree(from, from + k), subtree(from + k, to));
  };
  return subtree(0, n);
}

export function largestPowerOfTwoBelow(n: number): number {
  let k = 1;
  while (k * 2 < n) k *= 2;
  return k;
}
