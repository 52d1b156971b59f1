/**
 * Every connection of one node to one package's swarm, and where each stands: `pending`
 * while it shakes hands (or was refused and is closing), `active` once admitted as a peer
 * under a session key, `leaving` once it started closing (nothing it sends is read any
 * more). The core keeps the one table; the sessions know peers by key only, and an adapter
 * finds the connection a keyed action is for here. `C` is the adapter's handle.
 */
export type ConnectionState = "pending" | "active" | "leaving";

interface Entry<C> {
  connection: C;
  state: ConnectionState;
  /** The session key, once admitted. */
  key: string | null;
}

export class ConnectionTable<C> {
  private readonly entries = new Map<C, Entry<C>>();
  private readonly byKey = new Map<string, Entry<C>>();

  /** A connection begins its handshake (one we dialled, or one that arrived). */
  opened(connection: C): void {
    if (!this.entries.has(connection)) this.entries.set(connection, { connection, state: "pending", key: null });
  }

  /** The pending connection is a peer under `key` from now on. */
  admitted(connection: C, key: string): void {
    const entry: Entry<C> = { connection, state: "active", key };
    this.entries.set(connection, entry);
    this.byKey.set(key, entry);
  }

  /** The connection started closing; returns its key when it was a peer. */
  leaving(connection: C): string | null {
    const entry = this.entries.get(connection);
    if (!entry) return null;
    if (entry.state === "active") entry.state = "leaving";
    return entry.key;
  }

  /** The connection is gone; returns its key when it had been a peer. */
  closed(connection: C): string | null {
    const entry = this.entries.get(connection);
    if (!entry) return null;
    this.entries.delete(connection);
    if (entry.key !== null) this.byKey.delete(entry.key);
    return entry.key;
  }

  /** The key of an active connection: what it sends is read. Null while pending or leaving. */
  activeKey(connection: C): string | null {
    const entry = this.entries.get(connection);
    return entry?.state === "active" ? entry.key : null;
  }

  /** The key the connection was admitted under, whatever it stands at now; null if never. */
  keyOf(connection: C): string | null {
    return this.entries.get(connection)?.key ?? null;
  }

  /** The connection a peer's key names, while it is open (active or leaving). */
  get(key: string): C | undefined {
    return this.byKey.get(key)?.connection;
  }

  /** Whether the peer's connection is admitted and not closing: it may be asked for more. */
  isActive(key: string): boolean {
    return this.byKey.get(key)?.state === "active";
  }

  stateOf(connection: C): ConnectionState | undefined {
    return this.entries.get(connection)?.state;
  }

  /** Connections admitted and not yet closed. */
  get peerCount(): number {
    return this.byKey.size;
  }

  /** Every open connection, pending ones too. */
  all(): IterableIterator<C> {
    return this.entries.keys();
  }

  /** The connections of peers, active or leaving. */
  *peers(): IterableIterator<C> {
    for (const entry of this.byKey.values()) yield entry.connection;
  }
}
