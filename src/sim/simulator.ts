import { seededRandom } from "../util/random.ts";
import type { PeerAddress } from "../swarm/address-book.ts";
import { peerLabel } from "../swarm/address-book.ts";
import { round } from "../util/units.ts";
import { EventQueue } from "./event-queue.ts";
import { FlowFinishes, FluidNetwork, Port } from "./network.ts";
import { fluidBound, percentile } from "./report.ts";
import { End, type Rack, SimNode, type World } from "./sim-node.ts";

const payloadRate = (node: SimNode): number => node.options.up.capacity;

export interface SimulationOptions {
  /** Downloaders (the seeds come on top). */
  nodes: number;
  seeds: number;
  /** NIC rates in bits per second, each way; downloaders take them in turn. */
  rates: number[];
  /** The seeds' NIC rate, bits per second. */
  seedRate: number;
  /** Package bytes. */
  size: number;
  chunkSize: number;
  rttMs: number;
  /** Fraction of downloaders launched late: at a random moment within the bound T_min. */
  joinLate: number;
  /** Fraction of downloaders that leave mid-way: at a random moment between 10% and 90% of T_min. */
  leave: number;
  randomSeed: number;
  /**
   * Every node on one machine of `cores` cores, where moving a GiB from one node to another
   * costs `cpuSecondsPerGiB` of CPU (sender, receiver and kernel together): the lab's case.
   * Without it each node has a machine of its own, as in a cluster.
   */
  sharedCpu?: { cores: number; cpuSecondsPerGiB: number };
  /**
   * The nodes spread evenly over `count` racks, the seeds in rack 0, each rack joined to the
   * spine by one uplink of `uplinkBitsPerSecond` each way. Without it the fabric is flat.
   * With `zones`, every node is given its rack as its zone (get --zone).
   */
  racks?: { count: number; uplinkBitsPerSecond: number; zones: boolean };
  /** Stop after this much simulated time even if nodes are still downloading. */
  maxSimulatedMs?: number;
}

export interface SimulationResult {
  nodes: number;
  seeds: number;
  rate_bits_per_second: number[];
  seed_rate_bits_per_second: number;
  package_bytes: number;
  chunk_size: number;
  chunk_count: number;
  rtt_ms: number;
  /** The one machine's cores and CPU cost per GiB moved (SimulationOptions.sharedCpu), or null. */
  shared_cpu: { cores: number; cpu_seconds_per_gib: number } | null;
  join_late: number;
  leave: number;
  random_seed: number;
  /** Downloaders that verified every chunk (leavers not counted), that left by design, that gave up, that were still going at the cut-off. */
  completed: number;
  left_mid_way: number;
  failed: number;
  unfinished: number;
  /** Seconds from each finishing downloader's own start (its get came up) to its last chunk. */
  completion_seconds: { p50: number; p99: number; max: number };
  /** T_min at the payload rate (PAYLOAD_SHARE of the line rate): what a perfect schedule could reach. */
  bound_seconds: number;
  p50_over_bound: number;
  p99_over_bound: number;
  slowest_over_bound: number;
  /**
   * The same swarm counted as the lab counts it (bench/swarm.ts): from each launch, against
   * T_min at the line rate. Its start-up second and the framing make its floor above 1.
   */
  line_rate: { bound_seconds: number; p50_over_bound: number; p99_over_bound: number; slowest_over_bound: number };
  /** What the seeds uploaded together, in copies of the package. */
  seed_upload_copies: number;
  simulated_seconds: number;
  wall_seconds: number;
  events: number;
  events_per_second: number;
  /** How often each session log event came, across all nodes. */
  log_events: Record<string, number>;
  /**
   * Every tenth of the bound: the share of the online downloaders' upload capacity in use,
   * and the share of the downloaders done. A perfect schedule keeps the first at 1 until
   * the end; where it falls short is where a run loses its time.
   */
  uplink_use: { at_bound: number; busy: number; done: number }[];
  /** Racks and each one's uplink to the spine, or null for a flat fabric. */
  racks: { count: number; uplink_bits_per_second: number; zones: boolean } | null;
  /** Bytes that came into a rack through its uplink, over the package size times (racks - 1): 1 is one copy per rack. Null without racks. */
  cross_rack_copies: number | null;
}

/**
 * The share of a NIC's line rate that carries payload: a full TCP segment of 1448 bytes
 * (MTU 1500, with timestamps) costs 1538 bytes on the wire with the Ethernet header, FCS,
 * preamble and inter-frame gap. The bound is computed at the payload rate, which no
 * schedule can beat, and at the line rate, as a user states it and the lab counts.
 */
export const PAYLOAD_SHARE = 1448 / 1538;

/** How far a run is, on the simulated clock and the wall's. */
export interface SimulationProgress {
  simulatedSeconds: number;
  /** The simulated time over the bound T_min. */
  overBound: number;
  /** Downloaders done with: complete, failed or gone. */
  settled: number;
  downloaders: number;
  events: number;
  wallSeconds: number;
}

const PROGRESS_EVERY_MS = 10_000;
const PROGRESS_CHECK_EVENTS = 65_536;

/**
 * A launched `get` comes up (reads the package, binds, dials) within this: processes a
 * provisioning tool launches together start spread out. In the lab, nine processes
 * launched at once on two cores sent their first bytes about half a second after launch.
 * Completion times count from each node's own start; the line-rate figures, as the lab's
 * clock does, from the launch.
 */
const STARTUP_MS = 1000;

/**
 * A swarm of simulated nodes in one process: seeds and downloaders running the production
 * sessions (sim-node.ts) over the fluid network (network.ts), on one event clock. Every
 * downloader is given the seeds' addresses, as `get --peer` is in the lab, and finds the
 * rest by peer exchange.
 */
export class Simulator implements World {
  readonly clock = new EventQueue();
  readonly network: FluidNetwork;
  private readonly finishes = new FlowFinishes(this.clock, (flow) => {
    const end = flow.tag as End;
    end.node.sent(end, flow);
  });
  readonly latencyMs: number;
  /** T_min in seconds at the payload rate; lineRateBound at the line rate. */
  readonly bound: number;
  readonly lineRateBound: number;
  /** Seeds first, then downloaders. */
  readonly nodes: SimNode[] = [];
  private readonly seeds: SimNode[] = [];
  private readonly downloaders: SimNode[] = [];
  private readonly byLabel = new Map<string, SimNode>();
  private readonly leavers = new Set<SimNode>();
  private readonly launchedAt = new Map<SimNode, number>();
  private readonly startedAt = new Map<SimNode, number>();
  private readonly random: () => number;
  /** Downloaders done with: complete, failed or gone. The run ends when all are. */
  private readonly settled = new Set<SimNode>();
  private readonly uplinkUse: SimulationResult["uplink_use"] = [];
  private readonly racks: Rack[];

  constructor(private readonly options: SimulationOptions) {
    this.latencyMs = options.rttMs / 2;
    const cpu = options.sharedCpu;
    this.network = new FluidNetwork(cpu ? new Port((cpu.cores * 2 ** 30) / cpu.cpuSecondsPerGiB) : null);
    this.random = seededRandom(options.randomSeed);
    const { nodes, seeds, size, chunkSize } = options;
    const chunkCount = Math.max(1, Math.ceil(size / chunkSize));
    const rateOf = (i: number) => options.rates[i % options.rates.length]! / 8;
    const rackCount = options.racks?.count ?? 0;
    const rackBytesPerSecond = ((options.racks?.uplinkBitsPerSecond ?? 0) / 8) * PAYLOAD_SHARE;
    this.racks = Array.from({ length: rackCount }, (_, index) => ({ index, up: new Port(rackBytesPerSecond), down: new Port(rackBytesPerSecond) }));
    for (let i = 0; i < seeds + nodes; i++) {
      const seed = i < seeds;
      const bytesPerSecond = seed ? options.seedRate / 8 : rateOf(i - seeds);
      const node = new SimNode(this, {
        index: i,
        chunkCount,
        chunkSize,
        packageBytes: size,
        seed,
        up: new Port(bytesPerSecond * PAYLOAD_SHARE),
        down: new Port(bytesPerSecond * PAYLOAD_SHARE),
        rack: rackCount > 0 ? this.racks[seed ? 0 : (i - seeds) % rackCount]! : null,
        zones: options.racks?.zones ?? false,
        random: seededRandom(Math.floor(this.random() * 2 ** 32)),
      });
      this.nodes.push(node);
      (seed ? this.seeds : this.downloaders).push(node);
      this.byLabel.set(node.label, node);
    }
    const boundAt = (rateOf: (node: SimNode) => number) =>
      fluidBound({
        size,
        seedUpload: this.seeds.reduce((sum, s) => sum + rateOf(s), 0),
        uploads: this.downloaders.map(rateOf),
        downloads: this.downloaders.map(rateOf),
        racks: {
          uplink: rateOf === payloadRate ? rackBytesPerSecond : rackBytesPerSecond / PAYLOAD_SHARE,
          others: this.racks.slice(1).map((rack) => {
            const members = this.downloaders.filter((d) => d.options.rack === rack);
            return { downloaders: members.length, upload: members.reduce((sum, d) => sum + rateOf(d), 0) };
          }),
        },
      });
    this.bound = boundAt(payloadRate);
    this.lineRateBound = boundAt((node) => node.options.up.capacity / PAYLOAD_SHARE);
  }

  /** Runs the swarm to the end; `onProgress` hears how far it is every `progressEveryMs` of wall time. */
  run(onProgress?: (progress: SimulationProgress) => void, progressEveryMs = PROGRESS_EVERY_MS): SimulationResult {
    const started = performance.now();
    const boundMs = this.bound * 1000;
    const bootstrap: PeerAddress[] = this.seeds.map((s) => s.address);
    for (const seed of this.seeds) seed.join([]);
    const late = this.pick(this.options.joinLate);
    const leaving = this.pick(this.options.leave);
    for (const node of this.downloaders) {
      const launch = late.has(node) ? this.random() * boundMs : 0;
      this.launchedAt.set(node, launch);
      this.clock.at(launch + this.random() * STARTUP_MS, () => {
        this.startedAt.set(node, this.clock.now);
        node.join(bootstrap);
      });
      if (leaving.has(node)) {
        this.leavers.add(node);
        this.clock.at(launch + (0.1 + 0.8 * this.random()) * boundMs, () => node.leave());
      }
    }
    this.sampleUplinks(1);
    const endAt = this.options.maxSimulatedMs ?? 100 * boundMs + 600_000;
    let lastReport = started;
    let sinceCheck = 0;
    this.clock.run(endAt, () => {
      if (this.settled.size === this.downloaders.length) return true;
      // The wall clock is read once every PROGRESS_CHECK_EVENTS: a long run says how far it is.
      if (onProgress && ++sinceCheck >= PROGRESS_CHECK_EVENTS) {
        sinceCheck = 0;
        const now = performance.now();
        if (now - lastReport >= progressEveryMs) {
          lastReport = now;
          onProgress({ simulatedSeconds: this.clock.now / 1000, overBound: this.clock.now / boundMs, settled: this.settled.size, downloaders: this.downloaders.length, events: this.clock.processed, wallSeconds: (now - started) / 1000 });
        }
      }
      return false;
    });
    return this.result((performance.now() - started) / 1000);
  }

  dial(node: SimNode, address: PeerAddress): void {
    const label = peerLabel(address);
    const handshake = 1.5 * this.options.rttMs;
    this.clock.after(handshake, () => {
      const target = this.byLabel.get(label);
      if (!node.online) return;
      if (!target?.online) return node.dialFailed(label, "connection refused");
      const ours = new End(node, label, label);
      const theirs = new End(target, undefined, node.ephemeralLabel());
      ours.remote = theirs;
      theirs.remote = ours;
      node.handshaken(ours, target);
      target.handshaken(theirs, node);
    });
  }

  reschedule(): void {
    this.finishes.changed(this.network.takeChanged());
  }

  completed(node: SimNode): void {
    if (!node.options.seed) this.settled.add(node);
  }

  departed(node: SimNode): void {
    if (!node.options.seed && !node.complete) this.settled.add(node);
  }

  /** Samples the downloaders' uplinks at `tenth` tenths of the bound, then again a tenth later, while any downloader is left. */
  private sampleUplinks(tenth: number): void {
    this.clock.at((tenth * this.bound * 1000) / 10, () => {
      let used = 0;
      let capacity = 0;
      for (const node of this.downloaders) {
        if (!node.online) continue;
        const { up } = node.options;
        capacity += up.capacity;
        for (const flow of up.flows) used += flow.rate;
      }
      const done = this.settled.size / this.downloaders.length;
      this.uplinkUse.push({ at_bound: tenth / 10, busy: round(capacity > 0 ? used / capacity : 0), done: round(done) });
      if (done < 1) this.sampleUplinks(tenth + 1);
    });
  }

  /** A random `fraction` of the downloaders. */
  private pick(fraction: number): Set<SimNode> {
    const shuffled = [...this.downloaders];
    for (let i = shuffled.length - 1; i > 0; i--) {
      const j = Math.floor(this.random() * (i + 1));
      [shuffled[i], shuffled[j]] = [shuffled[j]!, shuffled[i]!];
    }
    return new Set(shuffled.slice(0, Math.round(fraction * shuffled.length)));
  }

  private result(wallSeconds: number): SimulationResult {
    const o = this.options;
    const stayers = this.downloaders.filter((d) => !this.leavers.has(d));
    const finishing = stayers.filter((d) => d.complete && !Number.isNaN(d.completedAt));
    const secondsSince = (from: Map<SimNode, number>) => finishing.map((d) => (d.completedAt - from.get(d)!) / 1000).sort((a, b) => a - b);
    const times = secondsSince(this.startedAt);
    const p50 = percentile(times, 50);
    const p99 = percentile(times, 99);
    const max = times.at(-1) ?? Number.NaN;
    const logged: Record<string, number> = {};
    for (const node of this.nodes) for (const [event, n] of node.logged) logged[event] = (logged[event] ?? 0) + n;
    const seedUploaded = this.seeds.reduce((sum, s) => sum + s.core.upload.uploadedBytes, 0);
    const events = this.clock.processed;
    return {
      nodes: o.nodes,
      seeds: o.seeds,
      rate_bits_per_second: o.rates,
      seed_rate_bits_per_second: o.seedRate,
      package_bytes: o.size,
      chunk_size: o.chunkSize,
      chunk_count: Math.ceil(o.size / o.chunkSize),
      rtt_ms: o.rttMs,
      shared_cpu: o.sharedCpu ? { cores: o.sharedCpu.cores, cpu_seconds_per_gib: o.sharedCpu.cpuSecondsPerGiB } : null,
      join_late: o.joinLate,
      leave: o.leave,
      random_seed: o.randomSeed,
      completed: finishing.length,
      left_mid_way: this.downloaders.filter((d) => this.leavers.has(d)).length,
      failed: stayers.filter((d) => d.failure !== null).length,
      unfinished: stayers.filter((d) => !d.complete && d.failure === null).length,
      completion_seconds: { p50: round(p50), p99: round(p99), max: round(max) },
      bound_seconds: round(this.bound),
      ...overBound(times, this.bound),
      line_rate: { bound_seconds: round(this.lineRateBound), ...overBound(secondsSince(this.launchedAt), this.lineRateBound) },
      seed_upload_copies: round(seedUploaded / o.size),
      simulated_seconds: round(this.clock.now / 1000),
      wall_seconds: round(wallSeconds, 2),
      events,
      events_per_second: Math.round(events / Math.max(wallSeconds, 1e-9)),
      log_events: logged,
      uplink_use: this.uplinkUse,
      racks: o.racks ? { count: o.racks.count, uplink_bits_per_second: o.racks.uplinkBitsPerSecond, zones: o.racks.zones } : null,
      cross_rack_copies: o.racks && o.racks.count > 1 ? round(this.racks.reduce((sum, r) => sum + r.down.carriedBytes, 0) / (o.size * (o.racks.count - 1))) : null,
    };
  }
}

/** Completion times (sorted ascending) over a bound: the median, the 99th percentile and the slowest. */
function overBound(sorted: number[], bound: number): { p50_over_bound: number; p99_over_bound: number; slowest_over_bound: number } {
  return {
    p50_over_bound: round(percentile(sorted, 50) / bound),
    p99_over_bound: round(percentile(sorted, 99) / bound),
    slowest_over_bound: round((sorted.at(-1) ?? Number.NaN) / bound),
  };
}
