import { expect, test } from "bun:test";
import { NET } from "../../src/config.ts";
import type { PeerConnection } from "../../src/peer/connection.ts";
import { type ChunkSource, Uploader } from "../../src/peer/uploader.ts";
import { WIRE_ERRORS } from "../../src/protocol/codes.ts";
import type { Message } from "../../src/protocol/messages.ts";

const CHUNKS = 32;
const CHUNK = 64 * 1024;

/** The parts of a connection an uploader uses, recording what it is told to do. */
function fakeConnection() {
  const sent: Uint8Array[] = [];
  const messages: Message[] = [];
  let failure: { code: number; reason: string } | null = null;
  const conn = {
    get ready() {
      return failure === null;
    },
    backlog: 0,
    send: (bytes: Uint8Array) => void sent.push(bytes.slice()),
    sendMessage: (m: Message) => void messages.push(m),
    fail: (code: number, reason: string) => void (failure ??= { code, reason }),
  };
  return { conn: conn as unknown as PeerConnection, sent, messages, failure: () => failure };
}

/** A source whose reads complete as fast as the machine allows. */
const instantSource: ChunkSource = {
  chunkCount: CHUNKS,
  has: () => true,
  chunkLength: () => CHUNK,
  read: async (_chunk, _offset, into) => into.length,
};

const settle = () => new Promise((resolve) => setTimeout(resolve, 20));

test("a flood of REQUESTs in one read ends in TOO_MANY_REQUESTS, however fast the source answers", () => {
  const { conn, failure } = fakeConnection();
  const uploader = new Uploader(conn, instantSource);
  for (let i = 0; i < NET.maxQueuedRequestsPerPeer + 10; i++) uploader.request(i % CHUNKS);
  expect(failure()?.code).toBe(WIRE_ERRORS.TOO_MANY_REQUESTS);
});

test("a flood of requests for chunks it lacks ends the same way, counted as declined", () => {
  const { conn, messages, failure } = fakeConnection();
  const uploader = new Uploader(conn, { ...instantSource, has: () => false });
  for (let i = 0; i < NET.maxQueuedRequestsPerPeer + 10; i++) uploader.request(i % CHUNKS);
  expect(messages.filter((m) => m.type === "REJECT")).toHaveLength(NET.maxQueuedRequestsPerPeer);
  expect(failure()?.code).toBe(WIRE_ERRORS.TOO_MANY_REQUESTS);
});

test("on the uploader's clock: declines spread over more than a second are no flood; the same number within one second is", () => {
  const lacking = { ...instantSource, has: () => false };
  const half = NET.maxQueuedRequestsPerPeer / 2 + 1;
  let now = 0;
  const slow = fakeConnection();
  const patient = new Uploader(slow.conn, lacking, null, undefined, () => now);
  for (let round = 0; round < 4; round++) {
    for (let i = 0; i < half; i++) patient.request(i % CHUNKS);
    now += 1001;
  }
  expect(slow.failure()).toBeNull();
  const fast = fakeConnection();
  now = 0;
  const hasty = new Uploader(fast.conn, lacking, null, undefined, () => now);
  for (let round = 0; round < 2; round++) {
    for (let i = 0; i < half; i++) hasty.request(i % CHUNKS);
    now += 400;
  }
  expect(fast.failure()?.code).toBe(WIRE_ERRORS.TOO_MANY_REQUESTS);
});

test("a peer that keeps its pipeline at the deepest a get uses is served in full and never taken for a flood", async () => {
  const { conn, sent, failure } = fakeConnection();
  const uploader = new Uploader(conn, instantSource);
  for (let round = 0; round < 4; round++) {
    for (let i = 0; i < NET.maxRequestsPerPeer; i++) uploader.request((round * NET.maxRequestsPerPeer + i) % CHUNKS);
    for (let waited = 0; uploader.queued > 0 && waited < 500; waited++) await settle();
  }
  expect(failure()).toBeNull();
  const blocksPerChunk = Math.ceil(CHUNK / NET.blockSize);
  expect(sent).toHaveLength(4 * NET.maxRequestsPerPeer * blocksPerChunk);
});

test("a chunk cancelled while its block is being read is dropped unsent", async () => {
  const { conn, sent } = fakeConnection();
  let release!: () => void;
  const gate = new Promise<void>((resolve) => (release = resolve));
  const uploader = new Uploader(conn, { ...instantSource, read: async (_c, _o, into) => (await gate, into.length) });
  uploader.request(3);
  uploader.cancel(3);
  release();
  await settle();
  expect(sent).toHaveLength(0);
  expect(uploader.queued).toBe(0);
});

test("a read that comes back short is answered READ_FAILED, not a short chunk", async () => {
  const { conn, sent, messages } = fakeConnection();
  const uploader = new Uploader(conn, { ...instantSource, read: async (_c, _o, into) => into.length - 1 });
  uploader.request(5);
  await settle();
  expect(sent).toHaveLength(0);
  expect(messages).toContainEqual({ type: "REJECT", index: 5, code: WIRE_ERRORS.READ_FAILED });
});

test("while one chunk's check runs, the checks of the next few queued chunks are started too, and each is still sent only once proved", async () => {
  const { conn, sent, messages } = fakeConnection();
  // As the seed's store does: one check per chunk, its verdict remembered.
  const pending = new Map<number, (good: boolean) => void>();
  const checks = new Map<number, Promise<boolean>>();
  const verdicts = new Map<number, boolean>();
  const prepare = (chunk: number): true | Promise<boolean> => {
    if (verdicts.get(chunk) === true) return true;
    if (!checks.has(chunk)) checks.set(chunk, new Promise<boolean>((resolve) => pending.set(chunk, (good) => (verdicts.set(chunk, good), resolve(good)))));
    return checks.get(chunk)!;
  };
  const uploader = new Uploader(conn, { ...instantSource, prepare });
  for (let chunk = 0; chunk < 12; chunk++) uploader.request(chunk);
  expect([...pending.keys()]).toEqual([0, 1, 2, 3, 4]);
  expect(sent).toHaveLength(0);
  for (const chunk of [4, 3, 2, 1]) pending.get(chunk)!(chunk !== 2);
  await settle();
  expect(sent).toHaveLength(0);
  pending.get(0)!(true);
  for (let waited = 0; sent.length < 4 && waited < 100; waited++) await settle();
  // 0, 1, 3 and 4 went out, 2 was refused; 5 waits for its check, and those of 6-9 are under way.
  expect(sent).toHaveLength(4);
  // Refused as damaged, so the asker can say why it cannot finish.
  expect(messages).toEqual([{ type: "REJECT", index: 2, code: WIRE_ERRORS.DAMAGED }]);
  expect([...pending.keys()].sort((a, b) => a - b)).toEqual([0, 1, 2, 3, 4, 5, 6, 7, 8, 9]);
});

test("a connection that runs out of chunks gives its frame to the next one that sends, and a closed one does not", async () => {
  const connection = () => {
    const frames: ArrayBufferLike[] = [];
    const fake = fakeConnection();
    (fake.conn as unknown as { send: (bytes: Uint8Array) => void }).send = (bytes) => void frames.push(bytes.buffer);
    return { ...fake, frames };
  };
  const first = connection();
  new Uploader(first.conn, instantSource).request(1);
  await settle();
  const second = connection();
  const uploader = new Uploader(second.conn, instantSource);
  uploader.request(2);
  await settle();
  expect(second.frames[0]).toBe(first.frames[0]!);
  // Closed while it reads a block into that frame: the frame is not given back, and a third
  // connection gets a new one.
  uploader.request(3);
  uploader.close();
  const third = connection();
  new Uploader(third.conn, instantSource).request(4);
  await settle();
  expect(third.frames[0]).not.toBe(first.frames[0]);
});
