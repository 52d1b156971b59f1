/**
 * The simulator's network: a fabric in which each node has an uplink and a downlink of
 * fixed capacity (a NIC and its switch port), and the only bottlenecks are those links and,
 * when the nodes sit in racks, each rack's uplink to the spine (one port each way, crossed
 * by every transfer between racks).
 * Each transfer (a flow, one chunk from one node to another) gets a weighted max-min fair
 * share: every link divides its capacity among its flows in proportion to their weights,
 * except that a flow held lower at its other end leaves the difference to the rest.
 * Competing TCP flows share a link roughly so, but not equally: one flow's congestion
 * window runs ahead while another's recovers from a loss. The weights model that spread;
 * without them every transfer started together ends together, and a simulated swarm moves
 * in lockstep that no real one does.
 *
 * A network may also have one shared port that every flow crosses: the CPU of one machine
 * that hosts every node, as in the lab (bench/swarm.ts), where moving a byte from one
 * process to another costs CPU time on the same two cores whatever the links allow. Its
 * capacity is the bytes per second those cores can move.
 *
 * The allocation is kept incrementally: when a flow starts or ends, its ports recompute
 * their water level, and a change spreads along the flows it affects until it settles. A
 * full recomputation per event would cost O(flows), which a 10,000-node swarm cannot afford.
 */

import type { EventQueue } from "./event-queue.ts";

/** One direction of one node's NIC, of a rack's uplink, or the shared CPU. */
export class Port {
  /** The flows crossing this port now. */
  readonly flows: Flow[] = [];
  /** Bytes of the flows that crossed this port and are done (finished or stopped). */
  carriedBytes = 0;
  /**
   * The water level, per unit of weight: the most a flow may get here. Flows held lower
   * elsewhere get their own rate; the others get this times their weight. For a port with
   * room to spare, what its largest flow could grow to.
   */
  level: number;
  /** Queued for recomputation. */
  queued = false;

  constructor(
    /** Bytes per second. */
    readonly capacity: number,
  ) {
    this.level = capacity;
  }
}

export class Flow {
  /** Bytes sent up to `at`. */
  sent = 0;
  /** Bytes per second since `at`. */
  rate = 0;
  /** Milliseconds, the last time `sent` was brought up to date. */
  at: number;
  /**
   * When the simulator's finish event for this flow is due (Infinity: none). A slower rate
   * leaves it be: it fires early and is set again, rather than one event per change of rate.
   */
  finishEventAt = Infinity;
  active = true;
  /** Where the flow sits in each of its ports' lists, for removal in O(1). */
  upIndex: number;
  downIndex: number;
  readonly throughIndex: number[];
  /** Whatever the caller needs to find the flow's owner when it finishes. */
  tag: unknown = null;

  constructor(
    /** The sender's uplink. */
    readonly up: Port,
    /** The receiver's downlink. */
    readonly down: Port,
    /** The other ports on its way: rack uplinks, the shared port; most flows cross none. */
    readonly through: Port[],
    readonly bytes: number,
    /** Its claim on a shared link relative to the others'. */
    readonly weight: number,
    now: number,
  ) {
    this.at = now;
    this.upIndex = up.flows.push(this) - 1;
    this.downIndex = down.flows.push(this) - 1;
    this.throughIndex = through.length === 0 ? NO_INDICES : through.map((port) => port.flows.push(this) - 1);
  }

  /** Every port on its way. */
  get ports(): Port[] {
    return this.through.length === 0 ? [this.up, this.down] : [this.up, this.down, ...this.through];
  }

  /** Bytes sent by `now`, at the current rate. */
  sentBy(now: number): number {
    return Math.min(this.bytes, this.sent + (this.rate * (now - this.at)) / 1000);
  }

  /** The most the flow may get: its weight at the lowest level on its way. */
  get fairRate(): number {
    return this.weight * this.levelElsewhere(null);
  }

  /** The lowest level on its way, leaving out `port`: what holds it at `port`. */
  levelElsewhere(port: Port | null): number {
    // The hottest call of a simulation: most flows cross only their two NICs.
    let level = this.up === port ? Infinity : this.up.level;
    if (this.down !== port && this.down.level < level) level = this.down.level;
    const through = this.through;
    for (let i = 0; i < through.length; i++) {
      const p = through[i]!;
      if (p !== port && p.level < level) level = p.level;
    }
    return level;
  }

  /** When the last byte leaves, at the current rate. */
  finishAt(): number {
    return this.rate > 0 ? this.at + ((this.bytes - this.sent) * 1000) / this.rate : Infinity;
  }
}

const NO_PORTS: Port[] = [];
const NO_INDICES: number[] = [];

/** A change of a port's level smaller than this (relative) does not spread further. */
const SETTLED = 1e-3;
/** Recomputations allowed per change, so one event's cost stays bounded; what is left settles with later events. */
const MAX_RECOMPUTES_PER_CHANGE = 256;

export class FluidNetwork {
  /** Flows whose rate changed since the last `takeChanged`: their finish time moved. */
  private changed: Flow[] = [];
  private readonly work: Port[] = [];
  private constraints = new Float64Array(64);
  private order = new Uint32Array(64);

  constructor(
    /** A port every flow crosses (see above), or none. */
    private readonly shared: Port | null = null,
  ) {}

  /** A flow of `bytes` from the sender's uplink to the receiver's downlink, crossing `through` (rack uplinks) too. */
  start(up: Port, down: Port, bytes: number, weight: number, now: number, through: Port[] = NO_PORTS): Flow {
    const flow = new Flow(up, down, this.shared ? [...through, this.shared] : through, bytes, weight, now);
    this.rebalance(flow.ports, now);
    // A new flow's rate is set by the recomputation of its ports.
    if (flow.rate === 0) this.setRate(flow, flow.fairRate, now);
    return flow;
  }

  /** The flow finished or was called off: its share goes to the others. */
  stop(flow: Flow, now: number): void {
    if (!flow.active) return;
    flow.sent = flow.sentBy(now);
    flow.at = now;
    flow.active = false;
    const ports = flow.ports;
    for (const port of ports) {
      port.carriedBytes += flow.sent;
      removeFrom(port, flow);
    }
    this.rebalance(ports, now);
  }

  /** The flows whose finish time moved since the last call. */
  takeChanged(): Flow[] {
    const out = this.changed.filter((f) => f.active);
    this.changed = [];
    return out;
  }

  private rebalance(ports: Port[], now: number): void {
    for (const p of ports) this.enqueue(p);
    let budget = MAX_RECOMPUTES_PER_CHANGE;
    while (this.work.length > 0) {
      const port = this.work.pop()!;
      port.queued = false;
      if (budget-- <= 0) continue;
      const before = port.level;
      port.level = this.waterLevel(port);
      const moved = Math.abs(port.level - before) > SETTLED * before;
      for (const flow of port.flows) {
        const rate = flow.fairRate;
        if (Math.abs(rate - flow.rate) <= SETTLED * rate) continue;
        this.setRate(flow, rate, now);
        // The flow's other ports may now have more, or less, to give the rest.
        if (!moved) continue;
        if (flow.up !== port) this.enqueue(flow.up);
        if (flow.down !== port) this.enqueue(flow.down);
        const through = flow.through;
        for (let i = 0; i < through.length; i++) if (through[i] !== port) this.enqueue(through[i]!);
      }
    }
  }

  /** Weighted max-min water-filling at one port, each flow capped by the level at its other end. */
  private waterLevel(port: Port): number {
    const { flows } = port;
    const n = flows.length;
    if (n === 0) return port.capacity;
    if (this.constraints.length < n) {
      this.constraints = new Float64Array(2 * n);
      this.order = new Uint32Array(2 * n);
    }
    const caps = this.constraints;
    const order = this.order;
    let weights = 0;
    // Sorted by cap as they come (insertion): a port has a few flows, and this runs on every
    // change of rate, where a typed array's sort with a comparator cost a tenth of the run.
    for (let i = 0; i < n; i++) {
      const f = flows[i]!;
      const cap = f.levelElsewhere(port);
      caps[i] = cap;
      weights += f.weight;
      let at = i;
      while (at > 0 && caps[order[at - 1]!]! > cap) {
        order[at] = order[at - 1]!;
        at--;
      }
      order[at] = i;
    }
    let remaining = port.capacity;
    for (let k = 0; k < n; k++) {
      const i = order[k]!;
      const fair = remaining / weights;
      if (caps[i]! >= fair) return fair;
      remaining -= caps[i]! * flows[i]!.weight;
      weights -= flows[i]!.weight;
    }
    // Every flow is held lower elsewhere: the largest could still grow by what is left.
    return caps[order[n - 1]!]! + remaining / flows[order[n - 1]!]!.weight;
  }

  private setRate(flow: Flow, rate: number, now: number): void {
    flow.sent = flow.sentBy(now);
    flow.at = now;
    flow.rate = rate;
    this.changed.push(flow);
  }

  private enqueue(port: Port): void {
    if (port.queued) return;
    port.queued = true;
    this.work.push(port);
  }
}

/** Takes the flow out of the port's list, moving the last one into its place. */
function removeFrom(port: Port, flow: Flow): void {
  const at = indexAt(flow, port);
  const last = port.flows.pop()!;
  if (at === port.flows.length) return;
  port.flows[at] = last;
  setIndexAt(last, port, at);
}

function indexAt(flow: Flow, port: Port): number {
  if (flow.up === port) return flow.upIndex;
  if (flow.down === port) return flow.downIndex;
  return flow.throughIndex[flow.through.indexOf(port)]!;
}

function setIndexAt(flow: Flow, port: Port, at: number): void {
  if (flow.up === port) flow.upIndex = at;
  else if (flow.down === port) flow.downIndex = at;
  else flow.throughIndex[flow.through.indexOf(port)] = at;
}

/** A flow whose last byte is due within this of its finish event counts as finished then (rounding). */
const FINISH_SLACK_MS = 1e-6;

/**
 * Puts each flow's finish on the clock and reports it when its last byte has left. Only a
 * finish that moved earlier needs a new event; one that moved later is caught by the event
 * already due, which then sets itself again. Rates change several times per chunk: one
 * event per change would be most of the simulator's events.
 */
export class FlowFinishes {
  constructor(
    private readonly clock: EventQueue,
    private readonly done: (flow: Flow) => void,
  ) {}

  /** These flows' rates changed (FluidNetwork.takeChanged). */
  changed(flows: Flow[]): void {
    for (const flow of flows) {
      const at = flow.finishAt();
      if (at < flow.finishEventAt) this.schedule(flow, at);
    }
  }

  private schedule(flow: Flow, at: number): void {
    flow.finishEventAt = at;
    this.clock.at(at, () => this.due(flow, at));
  }

  private due(flow: Flow, at: number): void {
    // Superseded by an earlier event, or the flow is gone.
    if (!flow.active || flow.finishEventAt !== at) return;
    const finish = flow.finishAt();
    if (finish > this.clock.now + FINISH_SLACK_MS) this.schedule(flow, finish);
    else this.done(flow);
  }
}
