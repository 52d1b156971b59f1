/**
 * The swarm at cluster scale, in the simulator (issue 21): each scenario at the default
 * settings a user gets, for random seeds 1..--random-seeds, reported as the worst of them
 * against its goal, with the simulator's own wall time and peak RSS. Ratios count each
 * node from its own start against T_min at the payload rate (docs/performance.md, "The
 * simulator"). Prints one table and the JSON.
 *   bun bench/scale.ts [--random-seeds 3] [--only NAME,...] [--with-10000]
 * The 10,000-node row runs only with --with-10000 (it takes the better part of an hour).
 */
import { join } from "node:path";
import { parseArgs } from "node:util";
import { measure, report, round } from "./harness.ts";

interface Goal {
  p99: number;
  slowest?: number;
  seedCopies: number;
  wallSeconds?: number;
  rssBytes?: number;
  /** With racks: bytes into racks over the package size times (racks - 1). */
  crossRackCopies?: number;
}

interface Scenario {
  name: string;
  args: string[];
  goal: Goal;
  heavy?: boolean;
}

const SCENARIOS: Scenario[] = [
  { name: "200x100M", args: ["--nodes", "200", "--rate", "100M", "--size", "256MiB"], goal: { p99: 1.2, slowest: 1.3, seedCopies: 1.1 } },
  { name: "1000x1G", args: ["--nodes", "1000", "--rate", "1G", "--size", "1GiB"], goal: { p99: 1.25, slowest: 1.4, seedCopies: 1.1, wallSeconds: 60 } },
  { name: "2000x10G", args: ["--nodes", "2000", "--rate", "10G", "--size", "1GiB"], goal: { p99: 1.25, slowest: 1.4, seedCopies: 1.1 } },
  { name: "1000x1G,10G", args: ["--nodes", "1000", "--rate", "1G,10G", "--size", "4GiB"], goal: { p99: 1.3, slowest: 1.5, seedCopies: 1.2 } },
  { name: "1000x1G-churn", args: ["--nodes", "1000", "--rate", "1G", "--size", "1GiB", "--join-late", "0.1", "--leave", "0.1"], goal: { p99: 1.3, seedCopies: 1.2 } },
  {
    name: "1000x10G-racks",
    args: ["--nodes", "1000", "--rate", "10G", "--size", "4GiB", "--racks", "20", "--rack-uplink", "100G"],
    goal: { p99: 1.3, seedCopies: 1.1, crossRackCopies: 1.3 },
  },
  // The same racks, the swarm told nothing of them: beside the row above, what zones are worth.
  { name: "1000x10G-racks-no-zones", args: ["--nodes", "1000", "--rate", "10G", "--size", "4GiB", "--racks", "20", "--rack-uplink", "100G", "--no-zones"], goal: { p99: 1.3, seedCopies: 1.1, crossRackCopies: 1.3 } },
  { name: "10000x10G", args: ["--nodes", "10000", "--rate", "10G", "--size", "10GiB"], goal: { p99: 1.25, slowest: 1.5, seedCopies: 1.1, wallSeconds: 3600, rssBytes: 16e9 }, heavy: true },
];

const { values } = parseArgs({
  options: {
    "random-seeds": { type: "string", default: "3" },
    only: { type: "string" },
    "with-10000": { type: "boolean", default: false },
  },
});
const root = join(import.meta.dir, "..");
const seeds = Number(values["random-seeds"]);
const only = values.only?.split(",");
const chosen = SCENARIOS.filter((s) => (only ? only.includes(s.name) : !s.heavy || values["with-10000"]));

interface Run {
  seed: number;
  p99: number;
  slowest: number;
  seedCopies: number;
  lineRateP99: number;
  completed: number;
  unfinished: number;
  failed: number;
  wallSeconds: number;
  rssBytes: number;
  /** NaN without racks. */
  crossRackCopies: number;
}

const rows: Record<string, unknown>[] = [];
for (const scenario of chosen) {
  const command = `bytetide simulate ${scenario.args.join(" ")} --json --random-seed K`;
  const runs: Run[] = [];
  for (let seed = 1; seed <= seeds; seed++) {
    const m = await measure([join(root, "dist", "bytetide"), "simulate", ...scenario.args, "--json", "--random-seed", String(seed)], { timeoutMs: 4 * 3600_000 });
    const r = JSON.parse(m.stdout.trim().split("\n").at(-1)!);
    runs.push({ seed, p99: r.p99_over_bound, slowest: r.slowest_over_bound, seedCopies: r.seed_upload_copies, lineRateP99: r.line_rate.p99_over_bound, completed: r.completed, unfinished: r.unfinished, failed: r.failed, wallSeconds: m.seconds, rssBytes: m.maxRssBytes, crossRackCopies: r.cross_rack_copies ?? Number.NaN });
  }
  const worst = (key: keyof Run) => Math.max(...runs.map((r) => r[key]));
  const g = scenario.goal;
  const checks = {
    p99: worst("p99") <= g.p99,
    slowest: g.slowest === undefined || worst("slowest") <= g.slowest,
    seed_copies: worst("seedCopies") <= g.seedCopies,
    wall: g.wallSeconds === undefined || worst("wallSeconds") <= g.wallSeconds,
    rss: g.rssBytes === undefined || worst("rssBytes") <= g.rssBytes,
    cross_rack_copies: g.crossRackCopies === undefined || worst("crossRackCopies") <= g.crossRackCopies,
    all_completed: runs.every((r) => r.failed + r.unfinished === 0),
  };
  rows.push({
    scenario: scenario.name,
    command,
    goal: g,
    worst: { p99: worst("p99"), slowest: worst("slowest"), seed_copies: worst("seedCopies"), line_rate_p99: worst("lineRateP99"), wall_seconds: round(worst("wallSeconds"), 1), rss_gb: round(worst("rssBytes") / 1e9, 2), ...(g.crossRackCopies === undefined ? {} : { cross_rack_copies: worst("crossRackCopies") }) },
    checks,
    met: Object.values(checks).every(Boolean),
    runs,
  });
}

for (const row of rows) {
  const w = row.worst as Record<string, number>;
  const g = row.goal as Goal;
  console.error(
    `${String(row.scenario).padEnd(16)} p99 ${w.p99} (goal ${g.p99})  slowest ${w.slowest}${g.slowest ? ` (goal ${g.slowest})` : ""}  seed ${w.seed_copies} (goal ${g.seedCopies})  line-rate p99 ${w.line_rate_p99}${g.crossRackCopies ? `  cross-rack copies ${w.cross_rack_copies} (goal ${g.crossRackCopies})` : ""}  wall ${w.wall_seconds} s  RSS ${w.rss_gb} GB  ${row.met ? "met" : "NOT MET"}`,
  );
}
report("scale", { bench: "scale", random_seeds: seeds, rows });
