import type { TCPSocketListener } from "bun";
import type { Package } from "../../src/pkg/model.ts";
import { FrameDecoder } from "../../src/protocol/frame.ts";
import { decodeMessage, encodeMessage } from "../../src/protocol/messages.ts";
import { Bitset } from "../../src/util/bitset.ts";

/**
 * A scripted seed: a correct handshake and a BITFIELD claiming every chunk, then whatever
 * `onRequest` does with each REQUEST (answer garbage, or nothing at all). For testing how
 * a get treats a peer that lies or stalls.
 */
export function fakeSeed(pkg: Package, onRequest: (chunk: number, write: (bytes: Uint8Array) => void) => void): TCPSocketListener<{ decoder: FrameDecoder }> {
  const chunkCount = pkg.chunkHashes.length / 32;
  return Bun.listen<{ decoder: FrameDecoder }>({
    hostname: "127.0.0.1",
    port: 0,
    socket: {
      open(s) {
        s.data = { decoder: new FrameDecoder(1 << 20) };
      },
      data(s, bytes) {
        for (const frame of s.data.decoder.push(bytes)) {
          const m = decodeMessage(frame);
          if (m.type === "HELLO") {
            s.write(encodeMessage({ type: "HELLO", root: pkg.root, peerId: new Uint8Array(16).fill(7), listenPort: 0, capabilities: 0, nonce: new Uint8Array(32) }));
            s.write(encodeMessage({ type: "BITFIELD", bits: Bitset.full(chunkCount).bytes }));
          } else if (m.type === "REQUEST") onRequest(m.index, (b) => s.write(b));
        }
      },
    },
  });
}
