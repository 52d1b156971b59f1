/**
 * CPU per GiB of one serve -> get over loopback, for builds side by side (issue 22).
 *   bun bench/cpu.ts [--builds dist/bytetide,OTHER] [--size 1GiB] [--chunk-size S] [--rounds 3] [--pin-get CPUS] [--pin-serve CPUS]
 * Each round runs every build in turn: a serve that has proved its chunks (one get first),
 * then a get into tmpfs; the builds alternate so that a noisy machine weighs on each
 * alike. Per build: the medians of the get's CPU seconds per GiB, all threads and the JS
 * thread alone (per-thread /proc sampling), of the serve's per GiB sent, and throughput.
 * --pin-get and --pin-serve run the processes under `taskset -c` (how a get grows with cores).
 */
import { existsSync, rmSync, statSync } from "node:fs";
import { join } from "node:path";
import { parseArgs } from "node:util";
import { parseSize } from "../src/util/units.ts";
import { measure, processCpu, report, round, startDaemon } from "./harness.ts";

const { values } = parseArgs({
  options: {
    builds: { type: "string", default: join(import.meta.dir, "..", "dist", "bytetide") },
    size: { type: "string", default: "1GiB" },
    /** Default: what make picks for the size. */
    "chunk-size": { type: "string" },
    rounds: { type: "string", default: "3" },
    "pin-get": { type: "string" },
    "pin-serve": { type: "string" },
    dir: { type: "string", default: "/tmp/bytetide-bench" },
    out: { type: "string", default: "/dev/shm/bytetide-bench-cpu" },
  },
});
const builds = values.builds!.split(",");
const size = parseSize(values.size!)!;
const gib = size / 2 ** 30;
const rounds = Number(values.rounds);
const pinned = (cpus: string | undefined, cmd: string[]) => (cpus ? ["taskset", "-c", cpus, ...cmd] : cmd);
const file = join(values.dir!, `cpu-${size}.bin`);
if (!existsSync(file) || statSync(file).size !== size) await measure(["sh", "-c", `mkdir -p '${values.dir}' && head -c ${size} /dev/urandom > '${file}'`]);

interface Run {
  MBps: number;
  get_cpu_s_per_GiB: number;
  get_event_loop_cpu_s_per_GiB: number;
  serve_cpu_s_per_GiB: number;
}

/** One get of the payload from a fresh serve of `build`, after a first get that has the serve prove every chunk. */
async function run(build: string): Promise<Run> {
  const pkg = `${file}.${builds.indexOf(build)}.bpkg`;
  await measure([build, "make", file, "-o", pkg, "--force", ...(values["chunk-size"] ? ["--chunk-size", values["chunk-size"]] : [])]);
  const { proc, match } = await startDaemon(pinned(values["pin-serve"], [build, "serve", pkg, "--data", file, "--listen", "127.0.0.1:0"]), / on 127\.0\.0\.1:(\d+)/);
  try {
    const get = pinned(values["pin-get"], [build, "get", pkg, "--peer", `127.0.0.1:${match[1]}`, "-o", values.out!, "--linger", "0"]);
    rmSync(values.out!, { recursive: true, force: true });
    await measure(get);
    rmSync(values.out!, { recursive: true, force: true });
    const serveBefore = processCpu(proc.pid);
    const m = await measure(get);
    const serveCpu = processCpu(proc.pid) - serveBefore;
    return {
      MBps: round(size / 1e6 / m.seconds, 1),
      get_cpu_s_per_GiB: round(m.cpuSeconds / gib, 3),
      get_event_loop_cpu_s_per_GiB: round(m.mainThreadCpuSeconds / gib, 3),
      serve_cpu_s_per_GiB: round(serveCpu / gib, 3),
    };
  } finally {
    proc.kill("SIGTERM");
    await proc.exited;
    rmSync(values.out!, { recursive: true, force: true });
  }
}

const runs = new Map<string, Run[]>(builds.map((b) => [b, []]));
for (let i = 0; i < rounds; i++) for (const build of builds) runs.get(build)!.push(await run(build));
const median = (xs: number[]) => xs.toSorted((a, b) => a - b)[Math.floor(xs.length / 2)]!;
report("cpu", {
  bench: "cpu",
  command: `bench/run_bench cpu --builds ${values.builds} --size ${values.size}${values["chunk-size"] ? ` --chunk-size ${values["chunk-size"]}` : ""} --rounds ${rounds}${values["pin-get"] ? ` --pin-get ${values["pin-get"]}` : ""}${values["pin-serve"] ? ` --pin-serve ${values["pin-serve"]}` : ""}`,
  package_bytes: size,
  builds: builds.map((build) => {
    const all = runs.get(build)!;
    const of = (key: keyof Run) => median(all.map((r) => r[key]));
    return { build, median: { MBps: of("MBps"), get_cpu_s_per_GiB: of("get_cpu_s_per_GiB"), get_event_loop_cpu_s_per_GiB: of("get_event_loop_cpu_s_per_GiB"), serve_cpu_s_per_GiB: of("serve_cpu_s_per_GiB") }, runs: all };
  }),
});
