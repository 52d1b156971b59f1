import { afterAll } from "bun:test";
import { mkdtempSync, rmSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";

/** A fresh directory outside the repository, removed when the test file finishes. */
export function tempDir(label = "bytetide-test"): string {
  const dir = mkdtempSync(join(tmpdir(), `${label}-`));
  afterAll(() => rmSync(dir, { recursive: true, force: true }));
  return dir;
}

/** xorshift32: a repeatable stream of 32-bit words from a seed (0 counts as 1). */
function xorshift32(seed: number): () => number {
  let x = seed >>> 0 || 1;
  return () => {
    x ^= x << 13;
    x >>>= 0;
    x ^= x >>> 17;
    x ^= x << 5;
    return (x >>>= 0);
  };
}

/** Deterministic pseudo-random bytes (xorshift32), so failures reproduce. */
export function seededBytes(length: number, seed: number): Uint8Array {
  const out = new Uint8Array(length);
  const words = new Uint32Array(out.buffer, 0, Math.floor(length / 4));
  const next = xorshift32(seed);
  for (let i = 0; i < words.length; i++) words[i] = next();
  for (let i = words.length * 4; i < length; i++) out[i] = next() & 0xff;
  return out;
}

/** A repeatable stand-in for Math.random: numbers in [0, 1) from a seed. */
export function seededRandom(seed: number): () => number {
  const next = xorshift32(seed);
  return () => next() / 2 ** 32;
}

/**
 * Runs a test body that makes random choices, with `random` seeded from BYTETIDE_TEST_SEED
 * when set (to replay a failure), else from a fresh seed. The seed is printed first (a test
 * killed by its timeout reports nothing else) and named in any failure.
 */
export async function replayable<T>(body: (random: () => number) => Promise<T>): Promise<T> {
  const given = process.env.BYTETIDE_TEST_SEED;
  const seed = given ? Number(given) : (Math.random() * 2 ** 32) >>> 0;
  if (!Number.isInteger(seed) || seed < 0 || seed >= 2 ** 32) throw new Error(`BYTETIDE_TEST_SEED=${given}: expected an integer from 0 to 2^32-1`);
  const replay = `BYTETIDE_TEST_SEED=${seed}`;
  console.log(`random choices from ${replay}`);
  try {
    return await body(seededRandom(seed));
  } catch (err) {
    if (err instanceof Error) err.message = `[replay with ${replay}] ${err.message}`;
    throw err;
  }
}

export function sha256Hex(...parts: (Uint8Array | string)[]): string {
  const h = new Bun.CryptoHasher("sha256");
  for (const p of parts) h.update(p);
  return h.digest("hex");
}

export const REPO_ROOT = join(import.meta.dir, "..", "..");
