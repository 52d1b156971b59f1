import { defaultChunkSize } from "../../pkg/format.ts";
import { BtError } from "../../errors.ts";
import { type SimulationProgress, type SimulationResult, Simulator } from "../../sim/simulator.ts";
import { loggerFor } from "../../util/log.ts";
import { formatBytes, parseRate, parseSize } from "../../util/units.ts";
import { chunkSizeFlag, durationFlag, expectPositionals, integerFlag, parseArgs } from "../args.ts";
import type { Command } from "../command.ts";
import { OUTPUT_FLAGS, OUTPUT_HELP, outputMode } from "../output.ts";

export const simulate: Command = {
  name: "simulate",
  summary: "run the swarm's own rules for many nodes over a modelled network, in one process",
  flags: {
    nodes: { type: "string" },
    seeds: { type: "string" },
    rate: { type: "string" },
    "seed-rate": { type: "string" },
    size: { type: "string" },
    "chunk-size": { type: "string" },
    rtt: { type: "string" },
    "join-late": { type: "string" },
    leave: { type: "string" },
    "random-seed": { type: "string" },
    "shared-cores": { type: "string" },
    "cpu-per-gib": { type: "string" },
    racks: { type: "string" },
    "rack-uplink": { type: "string" },
    "no-zones": { type: "boolean" },
    ...OUTPUT_FLAGS,
  },
  exitCodes: {},
  help: `Usage: bytetide simulate [--nodes N] [--seeds N] [--rate R] [--seed-rate R] [--size S] [--chunk-size S]
                         [--rtt D] [--join-late F] [--leave F] [--random-seed K]
                         [--shared-cores N --cpu-per-gib S] [--racks R --rack-uplink RATE [--no-zones]] [--json]

Runs a swarm of N downloaders and the seeds in one process, on a simulated clock: every
node runs the same download, upload and peers sessions as 'get' and 'serve', over a
modelled network instead of sockets. Each node has an uplink and a downlink of the given
rate, transfers share each link max-min fairly (weighted, as competing TCP flows do), and
every message takes half the RTT; a received chunk is hashed at the native hasher's speed.
Every downloader is told only the seeds' addresses, as 'get --peer' is, and finds the
others through peer exchange. Other CPU, disk, TCP slow start and losses are left out
(docs/performance.md).

Reports each downloader's completion time, from its own start (its get up, within 1 s of
its launch), against the fluid-model lower bound T_min = max(F/u_s, F/d_min,
N*F/(u_s + sum u_i)) (Kumar & Ross) at the payload rate (1448/1538 of the line rate:
TCP and Ethernet framing), what the seeds uploaded, and the simulator's own speed.
With racks, every rack without a seed must also take a copy in through its uplink L, and
its n_r downloaders can be fed only by their own uplinks U_r and that one: T_min is then
also at least F/L and, for each such rack, n_r*F/(U_r + L).
Beside it, the same run as the lab counts it: from each launch, T_min at the line rate.
The same --random-seed gives the same run.

Options:
  --nodes N             downloaders, 1 to 100000 (default 8)
  --seeds N             seeds, 1 to 1000 (default 1)
  --rate R              each node's NIC rate, each way, in bits per second as written on a
                        NIC: 100M is 100 Mbit/s, 10G is 10 Gbit/s (default 1G); 10Gbit
                        and 1.25GB (bytes) say their unit. A list such as 1G,10G gives a
                        mix, taken by the nodes in turn.
  --seed-rate R         the seeds' NIC rate in bits per second (default: the first --rate)
  --size S              package bytes, e.g. 256MiB or 10GiB (default 256MiB)
  --chunk-size S        chunk bytes, a power of two from 64KiB to 64MiB (default: as 'make'
                        picks for --size; 256KiB for 256MiB, 8MiB for 10GiB)
  --rtt D               round-trip time between any two nodes (default 1ms)
  --join-late F         fraction of downloaders launched late, at a random moment within
                        T_min (default 0)
  --leave F             fraction of downloaders that leave mid-way, between 10% and 90% of
                        T_min after their launch; they are not counted as completions (default 0)
  --random-seed K       seed of every random choice, a whole number (default 1)
  --shared-cores N      put every node on one machine of N cores, as the lab (bench/swarm.ts)
                        does: moving bytes between nodes then competes for that CPU
  --cpu-per-gib S       with --shared-cores: CPU seconds that moving one GiB from one node
                        to another costs, sender, receiver and kernel together (the lab's
                        bench/swarm.ts reports it as cpu_seconds_per_gib)
  --racks R             spread the downloaders evenly over R racks (node i in rack i mod R),
                        the seeds in rack 0; each rack reaches the others through one
                        uplink to the spine, crossed by every transfer between racks
  --rack-uplink RATE    with --racks: each rack uplink's rate, each way, in bits per second
                        (100G: 50 nodes of 10 Gbit/s behind it are 5:1 oversubscribed).
                        Every node is given its rack as its zone, as get --zone does
  --no-zones            with --racks: the same racks, with no zones given: the swarm
                        does not know where the racks are
  -h, --help            show this help

${OUTPUT_HELP}

A run still going after 10 s prints how far it is on stderr every 10 s (simulated time,
its share of the bound, downloaders done, events), with --json too; -q does not.

With --json, one 'result' event: the scenario, completed / left_mid_way / failed /
unfinished counts, completion_seconds {p50, p99, max}, bound_seconds, p50_over_bound,
p99_over_bound, slowest_over_bound, line_rate {bound_seconds, p50_over_bound,
p99_over_bound, slowest_over_bound}, seed_upload_copies, simulated_seconds, wall_seconds,
events, events_per_second, log_events (the sessions' log events, counted) and uplink_use
(every tenth of the bound: the share of the downloaders' upload capacity in use, and of
the downloaders done), racks {count, uplink_bits_per_second, zones} and cross_rack_copies (bytes
that came into racks through their uplinks, over the package size times R - 1; 1 is one
copy per rack), both null without --racks.`,

  async run(argv) {
    const args = parseArgs("simulate", argv, simulate.flags);
    const mode = outputMode("simulate", args.flags);
    expectPositionals("simulate", args, 0, 0, "no arguments, only flags");
    const f = args.flags;
    const rates = String(f.rate ?? "1G")
      .split(",")
      .map((r) => bitRateFlag("rate", r));
    const size = sizeFlag(f.size);
    const sim = new Simulator({
      nodes: integerFlag("simulate", "nodes", f.nodes, 8, 1, 100_000),
      seeds: integerFlag("simulate", "seeds", f.seeds, 1, 1, 1000),
      rates,
      seedRate: f["seed-rate"] === undefined ? rates[0]! : bitRateFlag("seed-rate", String(f["seed-rate"])),
      size,
      chunkSize: chunkSizeFlag("simulate", f["chunk-size"]) ?? defaultChunkSize(size),
      rttMs: rttFlag(f.rtt),
      joinLate: fractionFlag("join-late", f["join-late"]),
      leave: fractionFlag("leave", f.leave),
      randomSeed: integerFlag("simulate", "random-seed", f["random-seed"], 1, 0, 2 ** 32 - 1),
      sharedCpu: sharedCpuFlags(f["shared-cores"], f["cpu-per-gib"]),
      racks: racksFlags(f.racks, f["rack-uplink"], f["no-zones"] === true),
    });
    // A run of thousands of nodes takes minutes to hours: a line on stderr every 10 s says how far it is (stdout stays the result).
    const result = sim.run(mode === "quiet" ? undefined : (p) => console.error(progressLine(p)));
    if (mode === "json") loggerFor("simulate", mode).event("result", { ...result });
    else if (mode === "text") console.log(summary(result));
    return 0;
  },
};

function progressLine(p: SimulationProgress): string {
  const events = p.events >= 1e6 ? `${(p.events / 1e6).toFixed(1)} M` : String(p.events);
  return `simulate: ${p.simulatedSeconds.toFixed(3)} s simulated (${p.overBound.toFixed(2)} of the bound), ${p.settled} of ${p.downloaders} downloaders done, ${events} events in ${Math.round(p.wallSeconds)} s`;
}

function bitRateFlag(flag: string, value: string): number {
  const bytes = parseRate(value, "bits");
  if (bytes === null || bytes <= 0) throw new BtError("BT_E_USAGE", `simulate: --${flag} ${value}: expected a rate in bits per second, as written on a NIC, such as 100M (100 Mbit/s), 10Gbit or 1.25GB (bytes)`);
  return bytes * 8;
}

function sizeFlag(value: unknown): number {
  if (value === undefined) return 256 * 2 ** 20;
  const size = parseSize(String(value));
  if (size === null || size <= 0) throw new BtError("BT_E_USAGE", `simulate: --size ${value}: expected a size such as 256MiB or 10GiB`);
  return size;
}

function rttFlag(value: unknown): number {
  const ms = durationFlag("simulate", "rtt", value, 1);
  if (ms > 10_000) throw new BtError("BT_E_USAGE", `simulate: --rtt ${value}: expected a duration up to 10s, such as 1ms or 40ms`);
  return ms;
}

function sharedCpuFlags(cores: unknown, perGiB: unknown): { cores: number; cpuSecondsPerGiB: number } | undefined {
  if (cores === undefined && perGiB === undefined) return undefined;
  if (cores === undefined || perGiB === undefined) throw new BtError("BT_E_USAGE", "simulate: --shared-cores and --cpu-per-gib go together");
  const cpuSecondsPerGiB = Number(perGiB);
  if (!(cpuSecondsPerGiB > 0 && cpuSecondsPerGiB <= 1000)) throw new BtError("BT_E_USAGE", `simulate: --cpu-per-gib ${perGiB}: expected CPU seconds, such as 6.5`);
  return { cores: integerFlag("simulate", "shared-cores", cores, 1, 1, 1024), cpuSecondsPerGiB };
}

function racksFlags(racks: unknown, uplink: unknown, noZones: boolean): { count: number; uplinkBitsPerSecond: number; zones: boolean } | undefined {
  if (racks === undefined && uplink === undefined) {
    if (noZones) throw new BtError("BT_E_USAGE", "simulate: --no-zones goes with --racks");
    return undefined;
  }
  if (racks === undefined || uplink === undefined) throw new BtError("BT_E_USAGE", "simulate: --racks and --rack-uplink go together");
  return { count: integerFlag("simulate", "racks", racks, 1, 1, 10_000), uplinkBitsPerSecond: bitRateFlag("rack-uplink", String(uplink)), zones: !noZones };
}

function fractionFlag(flag: string, value: unknown): number {
  if (value === undefined) return 0;
  const n = Number(value);
  if (!(n >= 0 && n <= 1)) throw new BtError("BT_E_USAGE", `simulate: --${flag} ${value}: expected a fraction from 0 to 1, such as 0.1`);
  return n;
}

function summary(r: SimulationResult): string {
  const c = r.completion_seconds;
  return [
    `${r.nodes} downloaders, ${r.seeds} seed(s); ${formatBytes(r.package_bytes)} in ${r.chunk_count} chunks; rate ${r.rate_bits_per_second.map(bits).join(",")}, seeds ${bits(r.seed_rate_bits_per_second)}; RTT ${r.rtt_ms} ms${r.shared_cpu ? `; one machine of ${r.shared_cpu.cores} cores, ${r.shared_cpu.cpu_seconds_per_gib} CPU s per GiB moved` : ""}`,
    `completed ${r.completed}, left mid-way ${r.left_mid_way}, failed ${r.failed}, unfinished ${r.unfinished}`,
    `completion p50 ${c.p50} s, p99 ${c.p99} s, slowest ${c.max} s; bound T_min ${r.bound_seconds} s`,
    `over the bound: p50 ${r.p50_over_bound}x, p99 ${r.p99_over_bound}x, slowest ${r.slowest_over_bound}x; seeds uploaded ${r.seed_upload_copies} copies`,
    `at the line rate from launch (as the lab counts): bound ${r.line_rate.bound_seconds} s; p50 ${r.line_rate.p50_over_bound}x, p99 ${r.line_rate.p99_over_bound}x, slowest ${r.line_rate.slowest_over_bound}x`,
    ...(r.racks ? [`${r.racks.count} racks, uplinks ${bits(r.racks.uplink_bits_per_second)}: ${r.cross_rack_copies ?? 0} copies per rack crossed the spine`] : []),
    `simulated ${r.simulated_seconds} s in ${r.wall_seconds} s (${r.events} events, ${r.events_per_second}/s)`,
  ].join("\n");
}

const bits = (rate: number): string => (rate >= 1e9 ? `${rate / 1e9}Gbit/s` : rate >= 1e6 ? `${rate / 1e6}Mbit/s` : `${rate / 1e3}kbit/s`);
