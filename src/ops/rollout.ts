import { MAX_REPORT_INTERVAL_MS, type NodeReport, type NodeState, REPORT_INTERVAL_MS } from "../protocol/status.ts";
import type { Clock } from "../util/clock.ts";

/** What a seed shows: the node's own state, or what its silence or its lack of progress says. */
export type ShownState = NodeState | "lost" | "stalled";

/**
 * Problems first, as `kubectl get pods` lists them: what needs an operator, then what is
 * still on its way, then what is finished.
 */
export const SHOWN_ORDER: readonly ShownState[] = ["failed", "lost", "stalled", "stopping", "starting", "downloading", "verifying", "done"];

export interface RolloutLimits {
  /** Nodes remembered, all packages together; the oldest finished go first. */
  maxEntries: number;
  /** Silence after which a node that has not finished is shown `lost`. */
  lostAfterMs: number;
  /** Time without a verified byte after which a downloading node is shown `stalled`. */
  stalledAfterMs: number;
  /** Nodes named as the slowest, per package. */
  slowestShown: number;
  /** How long one encoding of the view (document) serves every reader: 100,000 nodes make about 30 MiB of JSON. */
  documentMaxAgeMs: number;
}

export const ROLLOUT_LIMITS: RolloutLimits = { maxEntries: 100_000, lostAfterMs: 30_000, stalledAfterMs: 60_000, slowestShown: 5, documentMaxAgeMs: 1_000 };

/** Reports a second a seed takes before it asks its nodes to report less often (docs/performance.md, "Reports"). */
export const REPORTS_PER_SECOND = 2_000;

/**
 * The pace a seed asks of its nodes when `reporters` report to it: every REPORT_INTERVAL_MS
 * up to 2 × REPORTS_PER_SECOND of them, then in whole seconds so that all of them make
 * about REPORTS_PER_SECOND (10,000 nodes: every 5 s), up to MAX_REPORT_INTERVAL_MS; past
 * 20,000 nodes the rate grows again. A node is `lost` after three of the slowest paces.
 */
export function reportPaceMs(reporters: number): number {
  return Math.min(MAX_REPORT_INTERVAL_MS, Math.max(REPORT_INTERVAL_MS, Math.ceil(reporters / REPORTS_PER_SECOND) * 1000));
}

export interface NodeRow extends Omit<NodeReport, "state"> {
  state: ShownState;
  /** The state the node last reported, which `lost` and `stalled` hide. */
  reportedState: NodeState;
  secondsSinceHeard: number;
}

export interface PackageRollout {
  package: string;
  nodes: number;
  byState: Record<ShownState, number>;
  totalBytes: number;
  verifiedBytes: number;
  /** Bytes the nodes not yet done still need. */
  bytesRemaining: number;
  /** The nodes' own recent receive rates, summed; a lost node's rate is not counted. */
  rateBytesPerSecond: number;
  /** bytesRemaining at rateBytesPerSecond; null when nothing moves, or nothing remains to move. */
  etaSeconds: number | null;
  /** The nodes still on their way with the least verified, least first. */
  slowest: string[];
  rows: NodeRow[];
}

interface Entry {
  packageId: string;
  report: NodeReport;
  heardAt: number;
  /** When its verified bytes last grew (or it first reported). */
  progressAt: number;
}

const finished = (state: NodeState): boolean => state === "done" || state === "failed";
const fraction = (r: { verifiedBytes: number; totalBytes: number }): number => (r.totalBytes > 0 ? r.verifiedBytes / r.totalBytes : 1);

/**
 * What the nodes told a seed of their downloads: one entry per node and package, kept
 * within limits.maxEntries, and per package the counts by state, the bytes still to
 * deliver, the aggregate rate and an ETA. Pure: it takes the time from its clock, so the
 * simulator and tests drive it as the seed does.
 */
export class RolloutBook {
  /** Per package id, its nodes by name. */
  private readonly packages = new Map<string, Map<string, Entry>>();
  /** Every entry, least recently heard first. Entries are their own keys: a node's report costs no key string. */
  private readonly recency = new Set<Entry>();
  /** The finished entries, in the order they finished: the first to go when full. */
  private readonly finishedEntries = new Set<Entry>();
  /** The last document, held weakly: readers still sending it keep it, and no one else does (100,000 nodes make 30 MiB). */
  private encoded: { at: number; bytes: WeakRef<Uint8Array> } | null = null;

  constructor(
    private readonly now: Clock,
    readonly limits: RolloutLimits = ROLLOUT_LIMITS,
  ) {}

  get size(): number {
    return this.recency.size;
  }

  report(packageId: string, report: NodeReport): void {
    const now = this.now();
    let entry = this.packages.get(packageId)?.get(report.name);
    const wasFinished = entry !== undefined && finished(entry.report.state);
    if (entry) {
      if (report.verifiedBytes > entry.report.verifiedBytes) entry.progressAt = now;
      entry.report = report;
      entry.heardAt = now;
      this.recency.delete(entry);
    } else {
      this.makeRoom();
      entry = { packageId, report, heardAt: now, progressAt: now };
      let nodes = this.packages.get(packageId);
      if (!nodes) this.packages.set(packageId, (nodes = new Map()));
      nodes.set(report.name, entry);
    }
    this.recency.add(entry);
    if (!finished(report.state)) this.finishedEntries.delete(entry);
    else if (!wasFinished) this.finishedEntries.add(entry);
  }

  /** Every package's rollout, in package order. */
  view(): PackageRollout[] {
    const now = this.now();
    return [...this.packages.keys()].sort().map((id) => {
      const rows: NodeRow[] = [];
      for (const entry of this.packages.get(id)!.values()) {
        rows.push({ ...entry.report, state: this.shown(entry, now), reportedState: entry.report.state, secondsSinceHeard: (now - entry.heardAt) / 1000 });
      }
      return this.summarise(id, rows);
    });
  }

  /**
   * The view as JSON (`{"packages": [...]}`, what /api/swarm and `status` get), encoded at
   * most once per limits.documentMaxAgeMs and shared by every reader meanwhile: so many
   * readers at once cost one copy, and one encoding.
   */
  document(): Uint8Array {
    const now = this.now();
    const shared = this.encoded && now - this.encoded.at < this.limits.documentMaxAgeMs ? this.encoded.bytes.deref() : undefined;
    if (shared) return shared;
    const bytes = new TextEncoder().encode(JSON.stringify({ packages: this.view() }));
    this.encoded = { at: now, bytes: new WeakRef(bytes) };
    return bytes;
  }

  private shown(entry: Entry, now: number): ShownState {
    const { state } = entry.report;
    if (finished(state)) return state;
    if (now - entry.heardAt > this.limits.lostAfterMs) return "lost";
    if (state === "downloading" && now - entry.progressAt > this.limits.stalledAfterMs) return "stalled";
    return state;
  }

  private summarise(packageId: string, rows: NodeRow[]): PackageRollout {
    const byState = Object.fromEntries(SHOWN_ORDER.map((s) => [s, 0])) as Record<ShownState, number>;
    let totalBytes = 0;
    let verifiedBytes = 0;
    let rate = 0;
    for (const row of rows) {
      byState[row.state]++;
      totalBytes += row.totalBytes;
      verifiedBytes += Math.min(row.verifiedBytes, row.totalBytes);
      if (row.state !== "lost") rate += row.rateBytesPerSecond;
    }
    const bytesRemaining = totalBytes - verifiedBytes;
    rows.sort((a, b) => SHOWN_ORDER.indexOf(a.state) - SHOWN_ORDER.indexOf(b.state) || fraction(a) - fraction(b) || (a.name < b.name ? -1 : a.name > b.name ? 1 : 0));
    const onTheirWay = rows.filter((r) => !finished(r.reportedState)).sort((a, b) => fraction(a) - fraction(b));
    return {
      package: packageId,
      nodes: rows.length,
      byState,
      totalBytes,
      verifiedBytes,
      bytesRemaining,
      rateBytesPerSecond: rate,
      etaSeconds: bytesRemaining > 0 && rate > 0 ? bytesRemaining / rate : null,
      slowest: onTheirWay.slice(0, this.limits.slowestShown).map((r) => r.name),
      rows,
    };
  }

  /** Forgets one entry when full: the oldest finished, else the one heard from least recently. */
  private makeRoom(): void {
    if (this.recency.size < this.limits.maxEntries) return;
    const victim = this.finishedEntries.values().next().value ?? this.recency.values().next().value;
    if (victim === undefined) return;
    this.recency.delete(victim);
    this.finishedEntries.delete(victim);
    const nodes = this.packages.get(victim.packageId)!;
    nodes.delete(victim.report.name);
    if (nodes.size === 0) this.packages.delete(victim.packageId);
  }
}
