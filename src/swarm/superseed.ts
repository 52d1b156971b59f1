/** What a node knows when a peer asks it for a chunk. */
export interface ServeContext {
  /** The node has every chunk and only uploads. */
  seeding: boolean;
  /** Times this node agreed to upload the chunk, to anyone. */
  uploadsStarted: number;
  /** Of those, the ones queued or being sent now. */
  uploadsInProgress: number;
  /** A copy left recently: its recipient may not have announced it yet. */
  sentRecently: boolean;
  /**
   * A connected peer still downloading announced the chunk. Only such a peer counts as
   * "elsewhere": it shares freely, where a complete one may be another `serve`,
   * super-seeding too, and when every holder sends the asker to the others, nobody serves it.
   */
  downloaderHasIt: boolean;
  /** Times this node already told this peer to get this chunk elsewhere. */
  timesSentElsewhere: number;
  /** Other peers connected besides the requester: with none, there is no elsewhere. */
  otherPeers: number;
  /** No chunk is queued or being sent, to anyone: serving costs no other upload anything. */
  uplinkIdle: boolean;
}

/**
 * Past this (at about one ask a second: the asker's `elsewhereBackoffMs`), the requester
 * apparently cannot reach any other holder: serve it after all.
 */
const MAX_TIMES_ELSEWHERE = 8;

/**
 * Super-seeding: a seed hands out each chunk about once and sends later requesters to the
 * peers that already have it, so its uplink carries about one copy of the package while
 * the downloaders trade the rest. A node still downloading shares freely.
 */
export function shouldServe(c: ServeContext): boolean {
  if (!c.seeding || c.uploadsStarted === 0 || c.otherPeers === 0 || c.uplinkIdle) return true;
  if (c.timesSentElsewhere >= MAX_TIMES_ELSEWHERE) return true;
  // A downloader has it, or is getting it from us, or just got it: they can pass it on.
  return !(c.downloaderHasIt || c.uploadsInProgress > 0 || c.sentRecently);
}

/** After a seed sends a chunk, the recipient's HAVE takes a round trip plus hashing and a write. */
export const SENT_RECENTLY_MS = 3_000;

/** Per chunk, what this node's uploads did: the part of a ServeContext only the uploads know. */
export class UploadLedger {
  /** Uploads granted, and those not yet finished. */
  private readonly started: Uint32Array;
  private readonly inProgress: Uint16Array;
  private readonly endedAt: Float64Array;

  constructor(chunkCount: number) {
    this.started = new Uint32Array(chunkCount);
    this.inProgress = new Uint16Array(chunkCount);
    this.endedAt = new Float64Array(chunkCount).fill(-Infinity);
  }

  /** An upload of the chunk was queued. */
  granted(chunk: number): void {
    this.started[chunk]!++;
    this.inProgress[chunk]!++;
  }

  /** A granted upload finished, or was dropped, at `now` (milliseconds, monotonic). */
  ended(chunk: number, now: number): void {
    // A ledger started late (UploadSession's near ledger) sees ends of grants it never saw.
    if (this.inProgress[chunk]! > 0) this.inProgress[chunk]!--;
    this.endedAt[chunk] = now;
  }

  of(chunk: number, now: number): Pick<ServeContext, "uploadsStarted" | "uploadsInProgress" | "sentRecently"> {
    return {
      uploadsStarted: this.started[chunk]!,
      uploadsInProgress: this.inProgress[chunk]!,
      sentRecently: now - this.endedAt[chunk]! < SENT_RECENTLY_MS,
    };
  }
}
