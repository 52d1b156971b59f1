import { expect, test } from "bun:test";
import { ChunkBuffers } from "../../src/swarm/buffers.ts";

const CHUNK = 512 * 1024;

test("a released buffer is handed out again for a chunk of its size class, at the length asked", () => {
  const pool = new ChunkBuffers(CHUNK, 4 * CHUNK);
  const small = pool.acquire(3_000);
  expect(small.length).toBe(3_000);
  pool.release(small);
  const again = pool.acquire(100);
  expect(again.buffer).toBe(small.buffer);
  expect(again.length).toBe(100);
  // 70,000 bytes take the 128 KiB class: a 3,000-byte buffer does not serve it.
  const middle = pool.acquire(70_000);
  expect(middle.buffer).not.toBe(small.buffer);
  expect(middle.buffer.byteLength).toBe(128 * 1024);
  const full = pool.acquire(CHUNK);
  pool.release(full);
  expect(pool.acquire(CHUNK - 1).buffer).toBe(full.buffer);
});

test("free buffers never hold more than the budget", () => {
  const pool = new ChunkBuffers(CHUNK, 2 * CHUNK);
  const taken = Array.from({ length: 5 }, () => pool.acquire(CHUNK));
  taken.forEach((b) => pool.release(b));
  const reused = new Set(Array.from({ length: 5 }, () => pool.acquire(CHUNK).buffer));
  // Two came back from the pool; three are new.
  expect(taken.filter((b) => reused.has(b.buffer))).toHaveLength(2);
});
