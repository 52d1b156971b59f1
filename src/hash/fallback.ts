import { merkleRoot, type Sha256 } from "./merkle.ts";
import { DIGEST_LENGTH, type Hasher } from "./types.ts";

const sha256: Sha256 = (...parts) => {
  const h = new Bun.CryptoHasher("sha256");
  for (const p of parts) h.update(p);
  return h.digest() as Uint8Array;
};

/** Bounded read size, so memory does not follow the chunk size. */
const READ_BLOCK = 1024 * 1024;

function hashChunks(bytes: Uint8Array, chunkSize: number): Uint8Array {
  const count = Math.ceil(bytes.length / chunkSize);
  const out = new Uint8Array(count * DIGEST_LENGTH);
  for (let i = 0; i < count; i++) {
    out.set(sha256(bytes.subarray(i * chunkSize, (i + 1) * chunkSize)), i * DIGEST_LENGTH);
  }
  return out;
}

async function hashFileRange(path: string, offset: number, length: number, chunkSize: number): Promise<Uint8Array> {
  // Loaded here, not above: this module is on the path of `bytetide --version` (cli/main.ts).
  const { open } = await import("node:fs/promises");
  const file = await open(path, "r");
  try {
    const block = new Uint8Array(Math.min(READ_BLOCK, chunkSize));
    const count = Math.ceil(length / chunkSize);
    const out = new Uint8Array(count * DIGEST_LENGTH);
    const end = offset + length;
    for (let i = 0; i < count; i++) {
      const h = new Bun.CryptoHasher("sha256");
      const chunkEnd = Math.min(offset + (i + 1) * chunkSize, end);
      for (let pos = offset + i * chunkSize; pos < chunkEnd; ) {
        const { bytesRead } = await file.read(block, 0, Math.min(block.length, chunkEnd - pos), pos);
        if (bytesRead === 0) {
          throw Object.assign(new Error(`${path}: file ended at byte ${pos}, expected ${end} bytes`), { code: "BT_E_SHORT_READ" });
        }
        h.update(block.subarray(0, bytesRead));
        pos += bytesRead;
      }
      out.set(h.digest() as Uint8Array, i * DIGEST_LENGTH);
    }
    return out;
  } finally {
    await file.close();
  }
}

async function hashAndWrite(bytes: Uint8Array, expected: Uint8Array, fd: number, position: number): Promise<Uint8Array> {
  const digest = sha256(bytes);
  if (digest.length !== expected.length || !digest.every((b, i) => b === expected[i])) return digest;
  const { writeSync } = await import("node:fs");
  for (let done = 0; done < bytes.length; ) done += writeSync(fd, bytes, done, bytes.length - done, position + done);
  return digest;
}

export const jsHasher: Hasher = {
  name: "js",
  description: "js (Bun.CryptoHasher on the JS thread)",
  hashChunks,
  hashChunksAsync: async (bytes, chunkSize) => hashChunks(bytes, chunkSize),
  merkleRoot: (digests) => merkleRoot(digests, sha256),
  hashAndWriteAsync: hashAndWrite,
  hashFileRange,
};

export { sha256 };
