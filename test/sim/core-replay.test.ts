import { expect, test } from "bun:test";
import { simCoreConfig } from "../../src/sim/sim-node.ts";
import { Simulator } from "../../src/sim/simulator.ts";
import { SwarmCore, type SwarmAction, type SwarmEvent } from "../../src/swarm/core.ts";
import { seededRandom } from "../../src/util/random.ts";

const MiB = 1024 * 1024;

/** Connections are the adapter's own handles: compared by what they are named. */
const named = (value: unknown): unknown => JSON.parse(JSON.stringify(value, (key, v) => (key === "connection" ? `connection ${v.label}` : v instanceof Uint8Array ? [...v] : v)));

test("the simulator's node decides nothing of its own: its core's events, replayed through a test adapter on the same clock, give the same actions", () => {
  // Racks with zones and a node that leaves mid-way, so that every kind of event comes up.
  const sim = new Simulator({ nodes: 12, seeds: 1, rates: [1e8], seedRate: 1e8, size: 16 * MiB, chunkSize: MiB / 2, rttMs: 1, joinLate: 0.2, leave: 0.3, randomSeed: 7, racks: { count: 3, uplinkBitsPerSecond: 2e8, zones: true } });
  for (const node of sim.nodes) node.recording = [];
  const result = sim.run();
  expect(result.completed).toBeGreaterThan(0);
  const kinds = new Set<string>();
  for (const node of sim.nodes) {
    const recorded = node.recording!;
    let now = 0;
    const replay = new SwarmCore<unknown>(simCoreConfig(node.options, node.peerId, () => now, seededRandom(node.coreSeed)));
    for (const { at, event, actions } of recorded) {
      now = at;
      kinds.add(event.type);
      const again: readonly SwarmAction<unknown>[] = replay.handle(event as SwarmEvent<unknown>);
      expect(named(again)).toEqual(named(actions));
    }
  }
  for (const kind of ["start", "tick", "arrived", "message", "piece", "closed", "verified", "written", "upload-sent", "upload-ended", "stop"]) expect(kinds).toContain(kind);
});
