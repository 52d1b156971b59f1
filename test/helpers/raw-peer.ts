import { type Frame, FrameDecoder } from "../../src/protocol/frame.ts";
import { MESSAGE_TYPES } from "../../src/protocol/messages.ts";

const EXPECTED_WITHIN_MS = 10_000;
const TYPE_NAMES = new Map(Object.entries(MESSAGE_TYPES).map(([name, type]) => [type as number, name]));

/**
 * A scriptable peer on a raw TCP socket: sends exactly the bytes a test gives it and
 * records every frame that comes back, so tests can play a broken or hostile client.
 */
export class RawPeer {
  readonly frames: Frame[] = [];
  closed = false;
  private readonly decoder = new FrameDecoder(16 * 1024 * 1024);
  private socket!: Awaited<ReturnType<typeof Bun.connect>>;

  static async connect(port: number): Promise<RawPeer> {
    const peer = new RawPeer();
    peer.socket = await Bun.connect({
      hostname: "127.0.0.1",
      port,
      socket: {
        data: (_s, data) => {
          for (const f of peer.decoder.push(data)) peer.frames.push({ ...f, payload: f.payload.slice() });
        },
        close: () => {
          peer.closed = true;
        },
        error: () => {
          peer.closed = true;
        },
      },
    });
    return peer;
  }

  /**
   * Writes bytes in pieces of `step` bytes, yielding between them so they travel as separate reads.
   * Stops early if the other side hangs up (hostile input often makes it); throws if it stops
   * reading for 10 s.
   */
  async send(bytes: Uint8Array, step = bytes.length): Promise<void> {
    for (let at = 0; at < bytes.length; at += step) {
      const end = Math.min(at + step, bytes.length);
      let rest = bytes.subarray(at, end);
      let lastProgress = Date.now();
      while (rest.length > 0 && !this.closed) {
        const n = this.socket.write(rest);
        if (n > 0) lastProgress = Date.now();
        rest = rest.subarray(Math.max(0, n));
        if (rest.length === 0) break;
        if (Date.now() - lastProgress > EXPECTED_WITHIN_MS) {
          throw new Error(`raw peer: the other side took none of the last ${rest.length} bytes in ${EXPECTED_WITHIN_MS} ms (sent ${end - rest.length} of ${bytes.length})`);
        }
        await Bun.sleep(1);
      }
      if (this.closed) return;
      if (step < bytes.length) await Bun.sleep(1);
    }
  }

  /**
   * Waits until `done` holds for the frames received, or the connection closes.
   * Without timeoutMs, `done` is expected to come true: after 10 s this throws, naming what it
   * waited for and what arrived. With timeoutMs, the test waits out that period on purpose (to
   * see the peer hang up, or that nothing more comes) and judges the frames returned.
   */
  async until(done: (frames: Frame[]) => boolean, timeoutMs?: number): Promise<Frame[]> {
    const deadline = Date.now() + (timeoutMs ?? EXPECTED_WITHIN_MS);
    while (!done(this.frames) && !this.closed) {
      if (Date.now() >= deadline) {
        if (timeoutMs !== undefined) break;
        const types = this.frames.map((f) => TYPE_NAMES.get(f.type) ?? `type ${f.type}`);
        throw new Error(`raw peer: waited ${EXPECTED_WITHIN_MS} ms for \`${done.toString()}\`; the connection is open; frames received: [${types.join(", ")}]`);
      }
      await Bun.sleep(5);
    }
    return this.frames;
  }

  close(): void {
    this.socket.end();
  }
}
