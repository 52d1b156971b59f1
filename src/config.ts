import { availableParallelism } from "node:os";
import type { TlsConfig } from "./peer/tls.ts";

/** Named limits and defaults, in one place. */
export const LIMITS = {
  /** Chunk sizes are powers of two in this range. */
  minChunkSize: 64 * 1024,
  maxChunkSize: 64 * 1024 * 1024,
  /** Without --chunk-size, the chunk size follows the package's size (pkg/format.ts, defaultChunkSize). */
  defaultChunksAtMost: 2048,
  minDefaultChunkSize: 256 * 1024,
  maxDefaultChunkSize: 16 * 1024 * 1024,
  /** Refused on read before anything is allocated: a package past these is corrupt or hostile. */
  maxEntries: 1 << 22,
  maxChunks: 1 << 24,
  maxEntryTableBytes: 256 * 1024 * 1024,
  maxPathBytes: 4096,
  maxNameBytes: 255,
  /**
   * Hashing jobs in flight. Bun's N-API pool has one thread per core and fs.promises
   * shares it, so more jobs only queue and pin more input buffers.
   */
  hashJobsInFlight: Math.max(1, availableParallelism()),
  /** Reads for uploads in flight (a burst of blocks each), all connections together: the pool is shared with hashing. */
  uploadReadsInFlight: Math.max(2, availableParallelism()),
  /**
   * Chunks this short are read and proved (a seed), or written (get --reuse), on the JS
   * thread. A trip to the pool and back costs two thread wake-ups and a promise each way,
   * and the bytes go cold in another core's cache: 1 GiB in 256 KiB chunks took 4.3 s
   * through the pool and 2.5 s here, with half the CPU. A longer chunk would hold the event
   * loop more than a millisecond.
   */
  inlineIoBytes: 1024 * 1024,
  /**
   * A received chunk longer than this is hashed and, when it matches, written in one trip
   * to the pool (swarm/node.ts, verify): at 512 KiB chunks that took the get's JS thread
   * from 1.8 to 0.7-0.9 CPU-s per GiB, for 0.3 more in all on two cores. Shorter ones, the
   * lab's 256 KiB among them, cost more in the trip than they free the event loop.
   */
  inlineVerifyBytes: 256 * 1024,
  /**
   * Verified chunks are recorded in the progress file together, at most this long after
   * they were written: a write per chunk was a tenth of a small-file download's system
   * calls. A crash loses at most this much progress, never a byte (an unclean file is
   * re-verified on resume).
   */
  progressRecordMs: 100,
  /**
   * Files of the same size that `get --reuse` tries for a file that is not at its old path
   * (a moved file), in path order: enough for a few moves, and a tree of thousands of
   * equal-sized shards costs at most this many reads per chunk.
   */
  reuseSameSizeFiles: 8,
  /** One hashing job covers at most this many bytes of one file: enough to keep a core busy, small enough for steady progress. */
  hashJobBytes: 64 * 1024 * 1024,
} as const;

/** Wire and transfer limits (docs/protocol.md). */
export const NET = {
  /** Largest frame payload accepted; a larger length field is refused before allocating. */
  maxFramePayload: 1024 * 1024 + 64,
  /** A chunk travels as PIECE frames of at most this many data bytes. */
  blockSize: 256 * 1024,
  /**
   * Chunks a node sends at once, all its peers together; further requests wait their turn.
   * Shared by fewer transfers, each chunk is whole sooner and can be passed on sooner: a
   * seed sending 4 MiB chunks to 50 peers at once would complete none for 50 chunk times,
   * and in a large swarm nobody would have anything to trade meanwhile.
   */
  uploadSlots: 8,
  /** Requests a peer may have queued at a server; more is a flood and ends the connection. */
  maxQueuedRequestsPerPeer: 256,
  /** Bytes a connection may hold unsent before its producer pauses. */
  maxWriteBacklog: 2 * 1024 * 1024,
  handshakeTimeoutMs: 10_000,
  idleTimeoutMs: 60_000,
  keepaliveIntervalMs: 15_000,
  /** How long a closing connection may take to flush before it is cut. */
  closeFlushTimeoutMs: 5_000,
  connectTimeoutMs: 10_000,
  /** Requests in flight to one peer (get --concurrency). */
  defaultRequestsPerPeer: 8,
  maxRequestsPerPeer: 64,
  /**
   * Received chunks held in memory, awaiting verification or the disk, across all peers:
   * room for bufferedChunks chunks, but never less than minBufferedChunkBytes nor more than
   * maxBufferedChunkBytes (or two chunks, if those are larger). Each chunk of that room is
   * one peer sending at once, so the room is how many senders a node can draw from.
   */
  bufferedChunks: 32,
  minBufferedChunkBytes: 48 * 1024 * 1024,
  maxBufferedChunkBytes: 256 * 1024 * 1024,
  /** Bad chunks from one peer before it is dropped. */
  maxBadChunksPerPeer: 3,
  /** With no peer connected, keep retrying the known ones this long before giving up. */
  defaultRetryForMs: 15_000,
  /** Open payload files kept per package. */
  maxOpenFiles: 64,
  defaultListenPort: 7654,
  /** Connections a process accepts at once, all packages together. */
  maxConnections: 1024,
  /** Peers connected per package, dialled and accepted together. */
  maxConnectionsPerPackage: 50,
  /** Listening addresses remembered per package. */
  maxKnownPeers: 200,
  /** After a get completes, it serves on until no peer has asked for this long (within --linger). */
  lingerIdleMs: 3_000,
  defaultLingerMs: 60_000,
} as const;

/** Per-connection bounds, adjustable by flags (--max-frame-size, --handshake-timeout, --idle-timeout). */
export interface ConnectionLimits {
  maxFramePayload: number;
  handshakeTimeoutMs: number;
  idleTimeoutMs: number;
}

/** How a process meets its peers: bounds, and the optional secret and TLS material. */
export interface NetworkPolicy {
  limits: ConnectionLimits;
  /** Connections accepted at once, all packages together. */
  maxConnections: number;
  /** Peers connected per package, dialled and accepted together. */
  maxPeers: number;
  secret: Uint8Array | null;
  tls: TlsConfig | null;
  /** This node's zone (--zone, BYTETIDE_ZONE), "" for none: peers of the same zone are preferred (peers-session.ts). */
  zone: string;
}
