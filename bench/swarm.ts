/**
 * A swarm on emulated hosts: one seed and N getters, each host's uplink and downlink shaped
 * to R Mbit/s (scripts/netlab.sh), every getter told only the seed's address.
 *   bun bench/swarm.ts [--hosts 16] [--mbit 200] [--size 256MiB] [--chunk-size S] [--baseline aria2|none]
 * Without --chunk-size, the package has the chunk size `make` picks for its size, as a user gets.
 * Records every getter's completion time and compares the slowest with the fluid-model lower
 * bound T_min = max(F/u_s, F/d_min, N·F/(u_s + Σu_i)) (Kumar & Ross) and with the
 * client-server bound N·F/u_s. Then, on the same lab in the same run, the baseline: aria2c
 * with opentracker (Debian packages aria2, opentracker, mktorrent), pieces the size of
 * bytetide's chunks, every getter told only the tracker on the seed's host. Each side's CPU is
 * sampled: a run whose machine was saturated more than 5% of the time is marked invalid.
 * Targets: slowest <= 1.25 x T_min and below aria2's; the seed uploads <= 1.1 copies; CPU per
 * delivered GiB <= aria2's. Needs root.
 */
import { existsSync, mkdirSync, readFileSync, rmSync, writeFileSync } from "node:fs";
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
    baseline: { type: "string", default: "aria2" },
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
const command = `bench/run_bench swarm --hosts ${hosts} --mbit ${mbit} --size ${values.size}${values["chunk-size"] ? ` --chunk-size ${values["chunk-size"]}` : ""} --baseline ${values.baseline}`;

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
const inHost = (i: number, cmd: string[]) =>
  Bun.spawn(["ip", "netns", "exec", `${prefix}-h${i}`, ...cmd], { stdin: "ignore", stdout: "pipe", stderr: "pipe", timeout: 900_000 });
/** Bytes the host has sent on its link: the seed's upload, protocol and headers included. */
const sentBytes = (i: number) => Number(Bun.spawnSync(["ip", "netns", "exec", `${prefix}-h${i}`, "cat", "/sys/class/net/eth0/statistics/tx_bytes"]).stdout.toString());

/** A run's figures against the bound, with the machine's CPU until its slowest getter finished. */
function figures(started: number, completion: number[], samples: ReturnType<ReturnType<typeof cpuSampler>["stop"]>, seedSent: number) {
  const slowest = Math.max(...completion);
  // Until the slowest finished: the lingering that follows is idle and would dilute the figures.
  const transfer = samples.filter((x) => x.at <= started + slowest * 1000);
  const saturated = transfer.filter((x) => x.busy >= SATURATED).length / Math.max(1, transfer.length);
  // What moving the bytes cost, every process and the kernel together, while they moved: the simulator's --cpu-per-gib.
  const cpuSeconds = transfer.reduce((a, x) => a + x.jiffies, 0) / 100;
  return {
    completion_seconds: completion.map((c) => round(c, 2)).sort((a, b) => a - b),
    slowest_seconds: round(slowest, 2),
    slowest_over_t_min: round(slowest / tMin, 3),
    seed_wire_upload_over_F: round(seedSent / size, 3),
    cpu_busy_pct_until_slowest: round((transfer.reduce((a, x) => a + x.busy, 0) / Math.max(1, transfer.length)) * 100, 1),
    cpu_saturated_fraction: round(saturated, 3),
    cpu_seconds_until_slowest: round(cpuSeconds, 1),
    cpu_seconds_per_gib: round(cpuSeconds / ((hosts * size) / 2 ** 30), 2),
    valid: saturated <= MAX_SATURATED,
  };
}

/** Saturated more than this share of the time, a run measures the machine, not the swarm. */
const MAX_SATURATED = 0.05;
const rate = (mbit * 1e6) / 8;
const tMin = Math.max(size / rate, size / rate, (hosts * size) / (rate + hosts * rate));

async function runBytetide() {
  const seed = inHost(0, [binary, "serve", pkg, "--listen", `${addr(0)}:7654`]);
  await Bun.sleep(500);
  const sentBefore = sentBytes(0);
  const sampler = cpuSampler();
  const t0 = Date.now();
  const gets = Array.from({ length: hosts }, (_, k) =>
    inHost(k + 1, [binary, "get", pkg, "--peer", `${addr(0)}:7654`, "--listen", `${addr(k + 1)}:7654`, "-o", join(values.dir!, `host-${k + 1}`, "payload.bin"), "--linger", "60s"]),
  );
  const logs = await Promise.all(
    gets.map(async (p) => {
      const [out, err, code] = await Promise.all([new Response(p.stdout).text(), new Response(p.stderr).text(), p.exited]);
      return { ok: code === 0 && out.startsWith("VERIFY OK"), err };
    }),
  );
  const wall = (Date.now() - t0) / 1000;
  const samples = sampler.stop();
  const seedSent = sentBytes(0) - sentBefore;
  seed.kill("SIGTERM");
  const seedLog = await new Response(seed.stderr).text();
  for (let k = 1; k <= hosts; k++) rmSync(join(values.dir!, `host-${k}`), { recursive: true, force: true });
  const completion = logs.map((l) => {
    const at = /^(\S+) get done /m.exec(l.err)?.[1];
    return at ? (Date.parse(at) - t0) / 1000 : NaN;
  });
  const uploads = logs.map((l) => Number(/ exit uploaded_bytes=(\d+)/.exec(l.err)?.[1] ?? 0));
  const seedUploaded = Number(/ uploaded package=\S+ bytes=(\d+)/.exec(seedLog)?.[1] ?? NaN);
  return {
    all_verified: logs.every((l) => l.ok),
    ...figures(t0, completion, samples, seedSent),
    seed_upload_over_F: round(seedUploaded / size, 3),
    getter_uploads_MiB: uploads.map((u) => round(u / 2 ** 20, 1)),
    wall_seconds_until_all_exited: round(wall, 2),
  };
}

/** aria2c seeding from host 0 beside opentracker, getters on the others; each getter's finish is stamped by a hook. */
async function runAria2() {
  const missing = ["aria2c", "opentracker", "mktorrent"].filter((tool) => !Bun.which(tool));
  if (missing.length > 0) return { skipped: `${missing.join(", ")} not installed (Debian packages aria2, opentracker, mktorrent)` };
  const torrent = join(values.dir!, "payload.torrent");
  await measure(["mktorrent", "-a", `http://${addr(0)}:6969/announce`, "-l", String(Math.log2(chunkSize)), "-o", torrent, file]);
  // Debian's opentracker serves only whitelisted torrents; it reads the list inside its chroot.
  const infoHash = /Info Hash: ([0-9a-f]{40})/.exec((await measure(["aria2c", "-S", torrent])).stdout)![1]!;
  writeFileSync(join(values.dir!, "whitelist"), `${infoHash}\n`, { mode: 0o644 });
  const hook = join(values.dir!, "done.sh");
  writeFileSync(hook, '#!/bin/sh\ndate +%s%3N > "$3.done"\n', { mode: 0o755 });
  const common = ["--seed-ratio=0.0", "--enable-dht=false", "--enable-dht6=false", "--bt-enable-lpd=false", "--listen-port=6881", "--console-log-level=warn", "--summary-interval=0"];
  const tracker = inHost(0, ["opentracker", "-i", addr(0), "-p", "6969", "-P", "6969", "-d", values.dir!, "-w", "whitelist"]);
  const seed = inHost(0, ["aria2c", `--dir=${values.dir}`, "-V", "--bt-seed-unverified=true", ...common, torrent]);
  await Bun.sleep(1000);
  const sentBefore = sentBytes(0);
  const sampler = cpuSampler();
  const t0 = Date.now();
  const targets = Array.from({ length: hosts }, (_, k) => join(values.dir!, `aria-${k + 1}`));
  const getters = targets.map((dir, k) => inHost(k + 1, ["aria2c", `--dir=${dir}`, "--file-allocation=none", `--on-bt-download-complete=${hook}`, ...common, torrent]));
  const doneFiles = targets.map((dir) => join(dir, "payload.bin.done"));
  const deadline = t0 + Math.max(120_000, 30 * tMin * 1000);
  while (!doneFiles.every((f) => existsSync(f)) && Date.now() < deadline) await Bun.sleep(100);
  const samples = sampler.stop();
  const seedSent = sentBytes(0) - sentBefore;
  for (const p of [...getters, seed, tracker]) p.kill("SIGKILL");
  await Promise.all([...getters, seed, tracker].map((p) => p.exited));
  const completion = doneFiles.map((f) => (existsSync(f) ? (Number(readFileSync(f, "utf8")) - t0) / 1000 : NaN));
  const original = new Bun.CryptoHasher("sha256").update(readFileSync(file)).digest("hex");
  const verified = targets.every((dir) => existsSync(join(dir, "payload.bin")) && new Bun.CryptoHasher("sha256").update(readFileSync(join(dir, "payload.bin"))).digest("hex") === original);
  for (const dir of targets) rmSync(dir, { recursive: true, force: true });
  return { all_verified: verified, ...figures(t0, completion, samples, seedSent) };
}

rmSync(values.dir!, { recursive: true, force: true });
mkdirSync(values.dir!, { recursive: true });
const file = join(values.dir!, "payload.bin");
await measure(["sh", "-c", `head -c ${size} /dev/urandom > '${file}'`]);
const made = await measure([binary, "make", file, ...(values["chunk-size"] ? ["--chunk-size", values["chunk-size"]] : []), "--force", "--json"]);
const chunkSize = Number(/"chunk_size":(\d+)/.exec(made.stdout)?.[1]);
const pkg = `${file}.bpkg`;

lab("up", String(hosts + 1), String(mbit));
try {
  const ours = await runBytetide();
  const aria2 = values.baseline === "aria2" ? await runAria2() : null;
  const theirs = aria2 && "slowest_over_t_min" in aria2 ? aria2 : null;
  report("swarm", {
    bench: "swarm",
    command,
    hosts,
    mbit_per_host: mbit,
    package_bytes: size,
    chunk_size: chunkSize,
    cores: availableParallelism(),
    t_min_seconds: round(tMin, 2),
    client_server_bound_seconds: round((hosts * size) / rate, 2),
    ...ours,
    aria2: aria2 ?? "not run (--baseline none)",
    targets: {
      slowest_within_1_25_t_min: ours.slowest_over_t_min <= 1.25,
      slowest_below_aria2: theirs ? ours.slowest_over_t_min < theirs.slowest_over_t_min : null,
      seed_within_1_1_copies: ours.seed_upload_over_F <= 1.1,
      cpu_per_gib_at_most_aria2: theirs ? ours.cpu_seconds_per_gib <= theirs.cpu_seconds_per_gib : null,
      both_runs_valid: ours.valid && (theirs?.valid ?? true),
    },
  });
} finally {
  lab("down");
  rmSync(values.dir!, { recursive: true, force: true });
}
