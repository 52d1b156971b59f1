import type { Socket, TCPSocketListener } from "bun";
import type { Package } from "../../src/pkg/model.ts";
import { FrameDecoder } from "../../src/protocol/frame.ts";
import { decodeMessage, encodeMessage, type Message, METADATA_BLOCK, NO_PACKAGE } from "../../src/protocol/messages.ts";
import { Bitset } from "../../src/util/bitset.ts";

/**
 * A scripted seed: a correct handshake and a BITFIELD claiming every chunk, then whatever
 * `onRequest` does with each REQUEST (answer garbage, or nothing at all). For testing how
 * a get treats a peer that lies or stalls; `helloAfterMs` holds the handshake's answer back.
 */
export function fakeSeed(pkg: Package, onRequest: (chunk: number, write: (bytes: Uint8Array) => void) => void, helloAfterMs = 0): TCPSocketListener<ScriptedSocket> {
  const chunkCount = pkg.chunkHashes.length / 32;
  return scriptedPeer((m, write) => {
    if (m.type === "HELLO") {
      const answer = () => {
        write(encodeMessage({ type: "HELLO", root: pkg.root, peerId: new Uint8Array(16).fill(7), listenPort: 0, capabilities: 0, nonce: new Uint8Array(32) }));
        write(encodeMessage({ type: "BITFIELD", bits: Bitset.full(chunkCount).bytes }));
      };
      if (helloAfterMs > 0) setTimeout(answer, helloAfterMs);
      else answer();
    } else if (m.type === "REQUEST") onRequest(m.index, write);
  });
}

/**
 * A scripted catalogue: answers a HELLO that names no package, then every METADATA_REQUEST
 * with the bytes `metadataFor` gives for the id asked, under that id: a peer that passes
 * off another package, or an altered one, as the package asked for.
 */
export function fakeCatalogue(metadataFor: (id: Uint8Array) => Uint8Array): TCPSocketListener<ScriptedSocket> {
  return scriptedPeer((m, write) => {
    if (m.type === "HELLO") {
      write(encodeMessage({ type: "HELLO", root: NO_PACKAGE, peerId: new Uint8Array(16).fill(9), listenPort: 0, capabilities: 0, nonce: new Uint8Array(32) }));
    } else if (m.type === "METADATA_REQUEST") {
      const metadata = metadataFor(m.id);
      const data = metadata.subarray(m.offset, m.offset + METADATA_BLOCK);
      write(encodeMessage({ type: "METADATA", id: m.id, total: metadata.length, offset: m.offset, data }));
    }
  });
}

interface ScriptedSocket {
  decoder: FrameDecoder;
  unsent: Uint8Array[];
}

/** A loopback listener that hands each message it receives to `onMessage`, with a write that keeps order through partial writes. */
function scriptedPeer(onMessage: (message: Message, write: (bytes: Uint8Array) => void) => void): TCPSocketListener<ScriptedSocket> {
  return Bun.listen<ScriptedSocket>({
    hostname: "127.0.0.1",
    port: 0,
    socket: {
      open(s) {
        s.data = { decoder: new FrameDecoder(1 << 20), unsent: [] };
      },
      data(s, bytes) {
        // socket.write may take only part of a buffer: the rest waits for drain, in order.
        const write = (b: Uint8Array) => {
          s.data.unsent.push(b);
          flush(s);
        };
        for (const frame of s.data.decoder.push(bytes)) onMessage(decodeMessage(frame), write);
      },
      drain: flush,
    },
  });
}

function flush(s: Socket<ScriptedSocket>): void {
  while (s.data.unsent.length > 0) {
    const head = s.data.unsent[0]!;
    const written = Math.max(0, s.write(head));
    if (written < head.length) {
      s.data.unsent[0] = head.subarray(written);
      return;
    }
    s.data.unsent.shift();
  }
}
