/**
 * A swarm on emulated hosts: one seed and N getters, each host's uplink and downlink shaped
 * to R Mbit/s (scripts/netlab.sh), every getter told only the seed's address.
 *   bun bench/swarm.ts [--hosts 16] [--mbit 200] [--size 256MiB] [--chunk-size S]
 * Without --chunk-size, the package has the chunk size `make` picks for its size, as a user gets.
 * Records every getter's completion time and compares the slowest with the fluid-model lower
 * bound T_min = max(F/u_s, F/d_min, N·F/(u_s + Σu_i)) (Kumar & Ross) and with the
 * client-server bound N·F/u_s. Target: slowest <= 1.25 x T_min. Needs root.
 */
import { mkdirSync, readFileSync, rmSync } from "node:fs";
import { availableParallelism } from "node:os";
import { join } from "node:path";
import { parseArgs } from "node:util";
import { parseSize } from "../src/util/units.ts";
import { measure, report, round } from "./harness.ts";

const { values } = parseArgs({
  options: {
    hosts: { type: "string", default: "16" },
    mbit: { type: "string", default: "200" },
    size: { type: "string", default: "256MiB" },
    "chunk-size": { type: "string" },
    dir: { type: "string", default: "/dev/shm/bytetide-swarm" },
  },
});
const hosts = Number(values.hosts);
const mbit = Number(values.mbit);
const size = parseSize(values.size!)!;
const root = join(import.meta.dir, "..");
const binary = join(root, "dist", "bytetide");
const netlab = join(root, "scripts", "netlab.sh");
const prefix = "btlb";
const command = `bench/run_bench swarm --hosts ${hosts} --mbit ${mbit} --size ${values.size}${values["chunk-size"] ? ` --chunk-size ${values["chunk-size"]}` : ""}`;

if (process.getuid?.() !== 0 || !Bun.which("ip") || !Bun.which("tc")) {
  report("swarm", { bench: "swarm", command, skipped: "needs root, ip and tc to build network namespaces" });
  process.exit(0);
}

/** Jiffies (1/100 s of one core) the whole machine spent busy and in total, from /proc/stat. */
function cpuTimes(): { busy: number; total: number } {
  const f = readFileSync("/proc/stat", "utf8").split("\n")[0]!.trim().split(/\s+/).slice(1).map(Number);
  const idle = f[3]! + f[4]!;
  const total = f.reduce((a, b) => a + b, 0);
  return { busy: total - idle, total };
}

/** A sample counts as saturated when the machine was at least this busy over it. */
const SATURATED = 0.95;
const SAMPLE_MS = 100;

/** Samples the machine's CPU every SAMPLE_MS: how busy it was in each interval (a fraction, and jiffies), and when. */
function cpuSampler(): { stop: () => { at: number; busy: number; jiffies: number }[] } {
  const samples: { at: number; busy: number; jiffies: number }[] = [];
  let last = cpuTimes();
  const timer = setInterval(() => {
    const now = cpuTimes();
    if (now.total > last.total) samples.push({ at: Date.now(), busy: (now.busy - last.busy) / (now.total - last.total), jiffies: now.busy - last.busy });
    last = now;
  }, SAMPLE_MS);
  return { stop: () => (clearInterval(timer), samples) };
}

const lab = (...args: string[]) => {
  const r = Bun.spawnSync([netlab, ...args], { env: { ...process.env, NETLAB_PREFIX: prefix } });
  if (r.exitCode !== 0) throw new Error(`netlab ${args.join(" ")}: ${r.stderr}`);
};
const addr = (i: number) => `10.77.0.${i + 1}`;
const inHost = (i: number, args: string[]) =>
  Bun.spawn(["ip", "netns", "exec", `${prefix}-h${i}`, binary, ...args], { stdin: "ignore", stdout: "pipe", stderr: "pipe", timeout: 900_000 });

rmSync(values.dir!, { recursive: true, force: true });
mkdirSync(values.dir!, { recursive: true });
const file = join(values.dir!, "payload.bin");
await measure(["sh", "-c", `head -c ${size} /dev/urandom > '${file}'`]);
const made = await measure([binary, "make", file, ...(values["chunk-size"] ? ["--chunk-size", values["chunk-size"]] : []), "--force", "--json"]);
const chunkSize = Number(/"chunk_size":(\d+)/.exec(made.stdout)?.[1]);
const pkg = `${file}.bpkg`;

lab("up", String(hosts + 1), String(mbit));
try {
  const seed = inHost(0, ["serve", pkg, "--listen", `${addr(0)}:7654`]);
  await Bun.sleep(500);
  const cpuBefore = cpuTimes();
  const sampler = cpuSampler();
  const t0 = Date.now();
  const gets = Array.from({ length: hosts }, (_, k) =>
    inHost(k + 1, ["get", pkg, "--peer", `${addr(0)}:7654`, "--listen", `${addr(k + 1)}:7654`, "-o", join(values.dir!, `host-${k + 1}`, "payload.bin"), "--linger", "60s"]),
  );
  const logs = await Promise.all(
    gets.map(async (p) => {
      const [out, err, code] = await Promise.all([new Response(p.stdout).text(), new Response(p.stderr).text(), p.exited]);
      return { ok: code === 0 && out.startsWith("VERIFY OK"), err };
    }),
  );
  const wall = (Date.now() - t0) / 1000;
  const cpuAfter = cpuTimes();
  const samples = sampler.stop();
  seed.kill("SIGTERM");
  const seedLog = await new Response(seed.stderr).text();

  const completion = logs.map((l) => {
    const at = /^(\S+) get done /m.exec(l.err)?.[1];
    return at ? (Date.parse(at) - t0) / 1000 : NaN;
  });
  const uploads = logs.map((l) => Number(/ exit uploaded_bytes=(\d+)/.exec(l.err)?.[1] ?? 0));
  const seedUploaded = Number(/ uploaded package=\S+ bytes=(\d+)/.exec(seedLog)?.[1] ?? NaN);
  const rate = (mbit * 1e6) / 8;
  const tMin = Math.max(size / rate, size / rate, (hosts * size) / (rate + hosts * rate));
  const slowest = Math.max(...completion);
  const busy = (cpuAfter.busy - cpuBefore.busy) / (cpuAfter.total - cpuBefore.total);
  // Until the slowest finished: the lingering that follows is idle and would dilute the figures.
  const transfer = samples.filter((x) => x.at <= t0 + slowest * 1000);
  const saturated = transfer.filter((x) => x.busy >= SATURATED).length / Math.max(1, transfer.length);
  const transferBusy = transfer.reduce((a, x) => a + x.busy, 0) / Math.max(1, transfer.length);
  // What moving the bytes cost, every process and the kernel together, while they moved: the simulator's --cpu-per-gib.
  const cpuSeconds = transfer.reduce((a, x) => a + x.jiffies, 0) / 100;
  report("swarm", {
    bench: "swarm",
    command,
    hosts,
    mbit_per_host: mbit,
    package_bytes: size,
    chunk_size: chunkSize,
    cores: availableParallelism(),
    all_verified: logs.every((l) => l.ok),
    completion_seconds: completion.map((c) => round(c, 2)).sort((a, b) => a - b),
    slowest_seconds: round(slowest, 2),
    t_min_seconds: round(tMin, 2),
    slowest_over_t_min: round(slowest / tMin, 3),
    client_server_bound_seconds: round((hosts * size) / rate, 2),
    seed_upload_over_F: round(seedUploaded / size, 3),
    getter_uploads_MiB: uploads.map((u) => round(u / 2 ** 20, 1)),
    machine_cpu_busy_pct: round(busy * 100, 1),
    cpu_busy_pct_until_slowest: round(transferBusy * 100, 1),
    cpu_saturated_fraction: round(saturated, 3),
    cpu_seconds_until_slowest: round(cpuSeconds, 1),
    cpu_seconds_per_gib: round(cpuSeconds / ((hosts * size) / 2 ** 30), 2),
    wall_seconds_until_all_exited: round(wall, 2),
    targets: { slowest_within_1_25_t_min: slowest <= 1.25 * tMin, stretch_within_1_1_t_min: slowest <= 1.1 * tMin },
  });
} finally {
  lab("down");
  rmSync(values.dir!, { recursive: true, force: true });
}
