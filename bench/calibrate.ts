/**
 * The simulator against the lab, on one build: for each configuration, the lab swarm
 * (bench/swarm.ts: one seed and N getters on namespaces shaped to R Mbit/s, at the chunk size
 * `make` picks for --size unless --chunk-size says) `--runs` times, and `bytetide simulate` with the same N, R and size for random
 * seeds 1..--sims at the lab's RTT under load, twice: as a cluster (each node a machine of
 * its own: the network only), and as the lab is (every node on this one machine, moving a GiB
 * at the CPU cost the lab runs measured: --shared-cores, --cpu-per-gib). Reports the
 * slowest/T_min ratios, their means and how far each simulation is from the lab.
 * Target: within 10%. Needs root.
 *   bun bench/calibrate.ts [--configs 8x100,8x200,16x100] [--runs 2] [--sims 3] [--rtt 40ms] [--chunk-size S]
 */
import { availableParallelism } from "node:os";
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
    "chunk-size": { type: "string" },
  },
});
const root = join(import.meta.dir, "..");
const bun = process.execPath;
const chunkSize = values["chunk-size"] ? ["--chunk-size", values["chunk-size"]] : [];
const command = `bun bench/calibrate.ts --configs ${values.configs} --runs ${values.runs} --sims ${values.sims} --size ${values.size} --rtt ${values.rtt}${chunkSize.map((a) => ` ${a}`).join("")}`;
const mean = (xs: number[]) => xs.reduce((a, b) => a + b, 0) / xs.length;

async function json(cmd: string[]): Promise<Record<string, unknown>> {
  const proc = Bun.spawn(cmd, { cwd: root, stdout: "pipe", stderr: "ignore" });
  const [out, code] = await Promise.all([new Response(proc.stdout).text(), proc.exited]);
  if (code !== 0) throw new Error(`${cmd.join(" ")} exited ${code}`);
  // bench/swarm.ts prints one pretty-printed object; simulate --json one line.
  return JSON.parse(out);
}

/** `bytetide simulate` for random seeds 1..--sims: the slowest/T_min of each. */
async function simulations(hosts: string, mbit: string, extra: string[]): Promise<number[]> {
  const out: number[] = [];
  for (let seed = 1; seed <= Number(values.sims); seed++) {
    const r = await json([join(root, "dist", "bytetide"), "simulate", "--nodes", hosts, "--rate", `${mbit}M`, "--size", values.size!, "--rtt", values.rtt!, "--random-seed", String(seed), ...chunkSize, ...extra, "--json"]);
    // The lab counts from each launch against the line rate: compare like with like.
    out.push((r.line_rate as { slowest_over_bound: number }).slowest_over_bound);
  }
  return out;
}

const cores = availableParallelism();
const rows = [];
for (const config of values.configs!.split(",")) {
  const [hosts, mbit] = config.split("x");
  const lab: number[] = [];
  const cpuPerGiB: number[] = [];
  const saturated: number[] = [];
  for (let i = 0; i < Number(values.runs); i++) {
    const r = await json([bun, "bench/swarm.ts", "--hosts", hosts!, "--mbit", mbit!, "--size", values.size!, ...chunkSize, "--baseline", "none"]);
    if (r.skipped) {
      report("calibrate", { bench: "calibrate", command, skipped: r.skipped });
      process.exit(0);
    }
    lab.push(r.slowest_over_t_min as number);
    cpuPerGiB.push(r.cpu_seconds_per_gib as number);
    saturated.push(r.cpu_saturated_fraction as number);
  }
  const network = await simulations(hosts!, mbit!, []);
  const oneMachine = await simulations(hosts!, mbit!, ["--shared-cores", String(cores), "--cpu-per-gib", String(round(mean(cpuPerGiB), 2))]);
  const off = (sim: number[]) => round(mean(sim) / mean(lab) - 1);
  rows.push({
    hosts: Number(hosts),
    mbit: Number(mbit),
    lab_slowest_over_t_min: lab,
    lab_mean: round(mean(lab)),
    lab_cpu_seconds_per_gib: cpuPerGiB,
    lab_cpu_saturated_fraction: saturated,
    sim_network_only: network,
    sim_network_only_vs_lab: off(network),
    sim_one_machine: oneMachine,
    sim_one_machine_vs_lab: off(oneMachine),
    within_10_percent: Math.abs(off(oneMachine)) <= 0.1,
  });
}
report("calibrate", { bench: "calibrate", command, rtt: values.rtt, cores, rows, all_within_10_percent: rows.every((r) => r.within_10_percent) });
