export interface PeerAddress {
  host: string;
  port: number;
  /** The node's zone, when it is known (from its ZONE or a PEERS entry). */
  zone?: string;
}

export const peerLabel = (a: PeerAddress): string => (a.host.includes(":") ? `[${a.host}]:${a.port}` : `${a.host}:${a.port}`);

type State = "idle" | "connecting" | "connected" | "waiting" | "banned" | "gone" | "self";

export interface BookEntry {
  address: PeerAddress;
  state: State;
  failures: number;
  lastError: string;
  /** While waiting: when it may be dialled again, on the caller's clock (Infinity: never). */
  redialAt: number;
}

const REDIAL_DELAYS_MS = [250, 500, 1000, 2000];

/**
 * The listening addresses a node knows for its package, from --peer (IP literals or host
 * names) and from PEERS and HELLO messages (IP literals), and what became of each: the
 * basis for dialling and redialling with back-off. Bounded in size. No timers: a failed
 * address records when it is due again, and `due(now)` makes it dialable on the caller's
 * clock.
 */
export class AddressBook {
  private readonly entries = new Map<string, BookEntry>();
  /** Entries in each state: asked on every tick, so kept rather than counted. */
  private readonly inState: Record<State, number> = { idle: 0, connecting: 0, connected: 0, waiting: 0, banned: 0, gone: 0, self: 0 };
  /** No waiting entry is due before this: `due` has nothing to look for until then. */
  private nextRedialAt = Infinity;
  private stopped = false;

  constructor(private readonly capacity: number) {}

  /** Records an address; returns true when it was new. */
  learn(address: PeerAddress, connected = false): boolean {
    const label = peerLabel(address);
    const known = this.entries.get(label);
    if (known) {
      if (connected && (known.state === "idle" || known.state === "waiting")) this.setState(known, "connected");
      if (address.zone && address.zone !== known.address.zone) known.address = { ...known.address, zone: address.zone };
      return false;
    }
    if (this.entries.size >= this.capacity || address.port === 0) return false;
    const state = connected ? "connected" : "idle";
    this.entries.set(label, { address, state, failures: 0, lastError: "", redialAt: Infinity });
    this.inState[state]++;
    return true;
  }

  get size(): number {
    return this.entries.size;
  }

  has(label: string): boolean {
    return this.entries.has(label);
  }

  /** Addresses to dial now. */
  dialable(): BookEntry[] {
    if (this.inState.idle === 0) return [];
    return [...this.entries.values()].filter((e) => e.state === "idle");
  }

  /** Whether any address may still lead somewhere (now or after its back-off). */
  anyDialable(): boolean {
    return this.inState.idle + this.inState.waiting + this.inState.connecting > 0;
  }

  get connecting(): number {
    return this.inState.connecting;
  }

  /** Addresses being connected to that are known to be in `zone`. */
  connectingIn(zone: string): number {
    if (this.inState.connecting === 0) return 0;
    let n = 0;
    for (const e of this.entries.values()) if (e.state === "connecting" && e.address.zone === zone) n++;
    return n;
  }

  markConnecting(label: string): void {
    this.update(label, (e) => this.setState(e, "connecting"));
  }

  markConnected(label: string): void {
    this.update(label, (e) => {
      this.setState(e, "connected");
      e.failures = 0;
    });
  }

  /** The address failed or its connection ended at `now`: dial it again after a back-off. */
  markFailed(label: string, reason: string, now: number): void {
    this.update(label, (e) => {
      if (e.state === "banned" || e.state === "gone" || e.state === "self") return;
      e.lastError = reason;
      this.setState(e, "waiting");
      e.redialAt = Infinity;
      if (this.stopped) return;
      e.redialAt = now + REDIAL_DELAYS_MS[Math.min(e.failures, REDIAL_DELAYS_MS.length - 1)]!;
      this.nextRedialAt = Math.min(this.nextRedialAt, e.redialAt);
      e.failures++;
    });
  }

  /** Waiting addresses whose back-off is over by `now` become dialable; returns how many. */
  due(now: number): number {
    if (now < this.nextRedialAt) return 0;
    let n = 0;
    this.nextRedialAt = Infinity;
    for (const e of this.entries.values()) {
      if (e.state !== "waiting") continue;
      if (e.redialAt > now) this.nextRedialAt = Math.min(this.nextRedialAt, e.redialAt);
      else {
        this.setState(e, "idle");
        n++;
      }
    }
    return n;
  }

  markBanned(label: string, reason: string): void {
    this.update(label, (e) => {
      e.lastError = reason;
      this.setState(e, "banned");
    });
  }

  isBanned(label: string): boolean {
    return this.entries.get(label)?.state === "banned";
  }

  /** The peer does not have this package: never again. */
  markGone(label: string, reason: string): void {
    this.update(label, (e) => {
      e.lastError = reason;
      this.setState(e, "gone");
    });
  }

  /** The address is our own. */
  markSelf(label: string): void {
    this.update(label, (e) => this.setState(e, "self"));
  }

  describe(): string {
    return [...this.entries].map(([label, e]) => `${label}: ${e.lastError || e.state}`).join("; ");
  }

  /** No more redials (the download is over): waiting addresses stay waiting. */
  stopAll(): void {
    this.stopped = true;
    for (const e of this.entries.values()) e.redialAt = Infinity;
    this.nextRedialAt = Infinity;
  }

  private setState(e: BookEntry, state: State): void {
    this.inState[e.state]--;
    this.inState[state]++;
    e.state = state;
  }

  private update(label: string, change: (e: BookEntry) => void): void {
    const e = this.entries.get(label);
    if (e) change(e);
  }
}
