import { expect, test } from "bun:test";
import { NET } from "../../src/config.ts";
import type { PeerConnection } from "../../src/peer/connection.ts";
import { BLOCKS_PER_BURST, type ChunkSource, Uploader } from "../../src/peer/uploader.ts";
import { FrameDecoder } from "../../src/protocol/frame.ts";
import { decodeMessage } from "../../src/protocol/messages.ts";

const CHUNK = 64 * 1024;

/** The parts of a connection an uploader uses, recording the frames it is given. */
function fakeConnection() {
  const sent: Uint8Array[] = [];
  const conn = { ready: true, backlog: 0, send: (bytes: Uint8Array) => void sent.push(bytes.slice()) };
  return { conn: conn as unknown as PeerConnection, sent };
}

const lengthOf = (ranges: readonly Uint8Array[]) => ranges.reduce((sum, range) => sum + range.length, 0);

/** A source whose reads complete as fast as the machine allows. */
const instantSource: ChunkSource = {
  chunkLength: () => CHUNK,
  read: async (_chunk, _offset, into) => lengthOf(into),
};

const settle = () => new Promise((resolve) => setTimeout(resolve, 20));

/** An uploader over a fake connection, with what it reported. */
function uploaderOf(source: ChunkSource = instantSource) {
  const fake = fakeConnection();
  const ended: { chunk: number; outcome: string }[] = [];
  let sentBytes = 0;
  const uploader = new Uploader(fake.conn, source, null, {
    sent: (bytes) => void (sentBytes += bytes),
    ended: (chunk, outcome) => void ended.push({ chunk, outcome }),
  });
  return { ...fake, uploader, ended, sentBytes: () => sentBytes };
}

test("a chunk it is given goes out as PIECE blocks, counted as sent, and ends as sent", async () => {
  const { uploader, sent, ended, sentBytes } = uploaderOf();
  uploader.send(7);
  for (let waited = 0; ended.length === 0 && waited < 100; waited++) await settle();
  expect(sent).toHaveLength(Math.ceil(CHUNK / NET.blockSize));
  expect(sentBytes()).toBe(CHUNK);
  expect(ended).toEqual([{ chunk: 7, outcome: "sent" }]);
});

test("a chunk of many blocks goes out in bursts: each write holds up to BLOCKS_PER_BURST whole PIECE frames, in order, with the chunk's bytes", async () => {
  const blocks = 2 * BLOCKS_PER_BURST + 1;
  const length = blocks * NET.blockSize - 1000;
  const byteAt = (at: number) => (at * 7 + 3) & 0xff;
  // Fills each range with the chunk's bytes from `offset` on, as a file would.
  const source: ChunkSource = {
    chunkLength: () => length,
    read: async (_chunk, offset, into) => {
      let at = offset;
      for (const range of into) for (let i = 0; i < range.length; i++) range[i] = byteAt(at++);
      return at - offset;
    },
  };
  const { uploader, sent, ended, sentBytes } = uploaderOf(source);
  uploader.send(9);
  for (let waited = 0; ended.length === 0 && waited < 100; waited++) await settle();
  expect(ended).toEqual([{ chunk: 9, outcome: "sent" }]);
  expect(sent).toHaveLength(Math.ceil(blocks / BLOCKS_PER_BURST));
  const decoder = new FrameDecoder(NET.maxFramePayload);
  const pieces: { offset: number; length: number; right: boolean }[] = [];
  for (const write of sent) {
    const frames = decoder.push(write);
    expect(frames.length).toBeLessThanOrEqual(BLOCKS_PER_BURST);
    for (const frame of frames) {
      const piece = decodeMessage(frame);
      if (piece.type !== "PIECE") throw new Error(`expected PIECE, got ${piece.type}`);
      expect(piece.index).toBe(9);
      pieces.push({ offset: piece.offset, length: piece.data.length, right: piece.data.every((b, i) => b === byteAt(piece.offset + i)) });
    }
  }
  expect(decoder.buffered).toBe(0);
  expect(pieces).toEqual(
    Array.from({ length: blocks }, (_, i) => ({ offset: i * NET.blockSize, length: Math.min(NET.blockSize, length - i * NET.blockSize), right: true })),
  );
  expect(sentBytes()).toBe(length);
});

test("a chunk stopped while its block is being read is dropped unsent, and nothing is reported", async () => {
  let release!: () => void;
  const gate = new Promise<void>((resolve) => (release = resolve));
  const { uploader, sent, ended } = uploaderOf({ ...instantSource, read: async (_c, _o, into) => (await gate, lengthOf(into)) });
  uploader.send(3);
  uploader.stop(3);
  release();
  await settle();
  expect(sent).toHaveLength(0);
  expect(ended).toEqual([]);
});

test("a read that comes back short ends the chunk as read-failed, not as a short chunk", async () => {
  const { uploader, sent, ended } = uploaderOf({ ...instantSource, read: async (_c, _o, into) => lengthOf(into) - 1 });
  uploader.send(5);
  await settle();
  expect(sent).toHaveLength(0);
  expect(ended).toEqual([{ chunk: 5, outcome: "read-failed" }]);
});

test("a chunk is sent only once its check proves it; one that fails ends as damaged; a check asked ahead is the one awaited", async () => {
  // As the seed's store does: one check per chunk, its verdict remembered.
  const pending = new Map<number, (good: boolean) => void>();
  const checks = new Map<number, Promise<boolean>>();
  const verdicts = new Map<number, boolean>();
  const prepare = (chunk: number): true | Promise<boolean> => {
    if (verdicts.get(chunk) === true) return true;
    if (!checks.has(chunk)) checks.set(chunk, new Promise<boolean>((resolve) => pending.set(chunk, (good) => (verdicts.set(chunk, good), resolve(good)))));
    return checks.get(chunk)!;
  };
  const { uploader, sent, ended } = uploaderOf({ ...instantSource, prepare });
  uploader.send(0);
  uploader.check(1);
  uploader.check(2);
  expect([...pending.keys()]).toEqual([0, 1, 2]);
  pending.get(1)!(true);
  pending.get(2)!(false);
  await settle();
  expect(sent).toHaveLength(0);
  pending.get(0)!(true);
  for (let waited = 0; ended.length < 1 && waited < 100; waited++) await settle();
  uploader.send(1);
  for (let waited = 0; ended.length < 2 && waited < 100; waited++) await settle();
  uploader.send(2);
  for (let waited = 0; ended.length < 3 && waited < 100; waited++) await settle();
  expect(ended).toEqual([
    { chunk: 0, outcome: "sent" },
    { chunk: 1, outcome: "sent" },
    { chunk: 2, outcome: "damaged" },
  ]);
  expect(sent).toHaveLength(2 * Math.ceil(CHUNK / NET.blockSize));
  // Each chunk was checked once.
  expect([...pending.keys()]).toEqual([0, 1, 2]);
});

test("a chunk stopped while its check runs is never sent, and the next one given is sent after its own check", async () => {
  let proveFirst!: (good: boolean) => void;
  const first = new Promise<boolean>((resolve) => (proveFirst = resolve));
  let proveSecond!: (good: boolean) => void;
  const second = new Promise<boolean>((resolve) => (proveSecond = resolve));
  const { uploader, sent, ended } = uploaderOf({ ...instantSource, prepare: (c) => (c === 0 ? first : second) });
  uploader.send(0);
  uploader.stop(0);
  uploader.send(1);
  proveFirst(true);
  await settle();
  expect(sent).toHaveLength(0);
  proveSecond(true);
  for (let waited = 0; ended.length === 0 && waited < 100; waited++) await settle();
  expect(ended).toEqual([{ chunk: 1, outcome: "sent" }]);
});

test("a connection that runs out of chunks gives its burst buffer to the next one that sends, and a closed one does not", async () => {
  const connection = () => {
    const buffers: ArrayBufferLike[] = [];
    const fake = fakeConnection();
    (fake.conn as unknown as { send: (bytes: Uint8Array) => void }).send = (bytes) => void buffers.push(bytes.buffer);
    return { ...fake, buffers };
  };
  const hooks = { sent() {}, ended() {} };
  const first = connection();
  new Uploader(first.conn, instantSource, null, hooks).send(1);
  await settle();
  const second = connection();
  const uploader = new Uploader(second.conn, instantSource, null, hooks);
  uploader.send(2);
  await settle();
  expect(second.buffers[0]).toBe(first.buffers[0]!);
  // Closed while it reads a burst into that buffer: the buffer is not given back, and a
  // third connection gets a new one.
  uploader.send(3);
  uploader.close();
  const third = connection();
  new Uploader(third.conn, instantSource, null, hooks).send(4);
  await settle();
  expect(third.buffers[0]).not.toBe(first.buffers[0]);
});
