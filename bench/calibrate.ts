/**
 * The simulator against the lab, on one build: for each configuration, the lab swarm
 * (bench/swarm.ts: one seed and N getters on namespaces shaped to R Mbit/s, default chunk
 * size) `--runs` times, and `bytetide simulate` with the same N, R and size for random
 * seeds 1..--sims at the lab's RTT under load. Reports both slowest/T_min ratios, their
 * means and how far the simulator is from the lab. Target: within 10%. Needs root.
 *   bun bench/calibrate.ts [--configs 8x100,8x200,16x100] [--runs 2] [--sims 3] [--rtt 40ms]
 */
import { join } from "node:path";
import { parseArgs } from "node:util";
import { report, round } from "./harness.ts";

const { values } = parseArgs({
  options: {
    configs: { type: "string", default: "8x100,8x200,16x100" },
    runs: { type: "string", default: "2" },
    sims: { type: "string", default: "3" },
    size: { type: "string", default: "256MiB" },
    // The lab's RTT under load: each tbf queue holds up to 50 ms (ss -tmi: 37-51 ms).
    rtt: { type: "string", default: "40ms" },
  },
});
const root = join(import.meta.dir, "..");
const bun = process.execPath;
const command = `bun bench/calibrate.ts --configs ${values.configs} --runs ${values.runs} --sims ${values.sims} --size ${values.size} --rtt ${values.rtt}`;
const mean = (xs: number[]) => xs.reduce((a, b) => a + b, 0) / xs.length;

async function json(cmd: string[]): Promise<Record<string, unknown>> {
  const proc = Bun.spawn(cmd, { cwd: root, stdout: "pipe", stderr: "ignore" });
  const [out, code] = await Promise.all([new Response(proc.stdout).text(), proc.exited]);
  if (code !== 0) throw new Error(`${cmd.join(" ")} exited ${code}`);
  // bench/swarm.ts prints one pretty-printed object; simulate --json one line.
  return JSON.parse(out);
}

const rows = [];
for (const config of values.configs!.split(",")) {
  const [hosts, mbit] = config.split("x");
  const lab: number[] = [];
  for (let i = 0; i < Number(values.runs); i++) {
    const r = await json([bun, "bench/swarm.ts", "--hosts", hosts!, "--mbit", mbit!, "--size", values.size!, "--chunk-size", "4MiB"]);
    if (r.skipped) {
      report("calibrate", { bench: "calibrate", command, skipped: r.skipped });
      process.exit(0);
    }
    lab.push(r.slowest_over_t_min as number);
  }
  const sim: number[] = [];
  for (let seed = 1; seed <= Number(values.sims); seed++) {
    const r = await json([join(root, "dist", "bytetide"), "simulate", "--nodes", hosts!, "--rate", `${mbit}M`, "--size", values.size!, "--rtt", values.rtt!, "--random-seed", String(seed), "--json"]);
    sim.push(r.slowest_over_bound as number);
  }
  const off = mean(sim) / mean(lab) - 1;
  rows.push({ hosts: Number(hosts), mbit: Number(mbit), lab_slowest_over_t_min: lab, lab_mean: round(mean(lab)), sim_slowest_over_bound: sim, sim_mean: round(mean(sim)), sim_vs_lab: round(off), within_10_percent: Math.abs(off) <= 0.1 });
}
report("calibrate", { bench: "calibrate", command, rtt: values.rtt, rows, all_within_10_percent: rows.every((r) => r.within_10_percent) });
