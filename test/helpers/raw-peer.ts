import { type Frame, FrameDecoder } from "../../src/protocol/frame.ts";

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

  /** Writes bytes in pieces of `step` bytes, yielding between them so they travel as separate reads. */
  async send(bytes: Uint8Array, step = bytes.length): Promise<void> {
    for (let at = 0; at < bytes.length; at += step) {
      let rest = bytes.subarray(at, Math.min(at + step, bytes.length));
      while (rest.length > 0) {
        const n = this.socket.write(rest);
        rest = rest.subarray(Math.max(0, n));
        if (rest.length > 0) await Bun.sleep(1);
      }
      if (step < bytes.length) await Bun.sleep(1);
    }
  }

  /** Waits until `done` holds for the frames received, or the connection closes, or timeoutMs passes. */
  async until(done: (frames: Frame[]) => boolean, timeoutMs = 10_000): Promise<Frame[]> {
    const deadline = Date.now() + timeoutMs;
    while (!done(this.frames) && !this.closed && Date.now() < deadline) await Bun.sleep(5);
    return this.frames;
  }

  close(): void {
    this.socket.end();
  }
}
