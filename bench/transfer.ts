/**
 * Loopback transfer: one seed sends one package to one get, against nginx + curl in the same run.
 *   bun bench/transfer.ts [--size 1GiB] [--rss-size 4GiB] [--runs 3]
 * Cases: c1 and c16 requests in flight, verifying with the native addon ("pool": on the N-API
 * pool for chunks over 1 MiB, on the JS thread for the default 512 KiB of a 1 GiB package)
 * or with BYTETIDE_HASHER=js ("single": Bun.CryptoHasher, always on the JS thread). Output
 * lands on tmpfs (/dev/shm), so the disk does not set the pace.
 * Then the cost of a chunk: the same bytes in 64 KiB and in 4 MiB chunks, a get of each
 * from a serve that has already proved its chunks; the difference in CPU over the difference
 * in chunk count is what one chunk costs the get and the serve beyond its bytes.
 * Baselines: nginx -> curl, then openssl; and nginx -> curl | tee | sha256sum, downloading
 * and hashing at once.
 * Targets (docs/performance.md): pool throughput >= 1.5x "curl download + openssl verify"
 * and >= 1x the pipelined one; the get <= 1 CPU-s per GiB, <= 0.6 of it on the JS thread;
 * the serve <= 0.3 CPU-s per GiB sent; the get's peak RSS <= 150 MiB for a 4 GiB package;
 * 64 KiB chunks reach >= 0.8x the 4 MiB throughput; <= 50 us of CPU per chunk for get and
 * for serve.
 */
import { existsSync, mkdirSync, rmSync, statSync, writeFileSync } from "node:fs";
import { availableParallelism } from "node:os";
import { join } from "node:path";
import { parseArgs } from "node:util";
import { parseSize } from "../src/util/units.ts";
import { freePort, measure, type Measured, medianOf, mib, peakRss, processCpu, report, round, startDaemon } from "./harness.ts";

const { values } = parseArgs({
  options: {
    size: { type: "string", default: "1GiB" },
    "rss-size": { type: "string", default: "4GiB" },
    runs: { type: "string", default: "3" },
    dir: { type: "string", default: "/tmp/bytetide-bench" },
    out: { type: "string", default: "/dev/shm/bytetide-bench-out" },
  },
});
const size = parseSize(values.size!)!;
const rssSize = parseSize(values["rss-size"]!)!;
const runs = Number(values.runs);
const binary = join(import.meta.dir, "..", "dist", "bytetide");
const dataDir = values.dir!;
const outDir = values.out!;
mkdirSync(dataDir, { recursive: true });
mkdirSync(outDir, { recursive: true });

/** A file of random bytes and its package, at the chunk size `make` picks for it. */
async function payload(bytes: number): Promise<{ file: string; pkg: string; chunkSize: number }> {
  const file = join(dataDir, `transfer-${bytes}.bin`);
  if (!existsSync(file) || statSync(file).size !== bytes) await measure(["sh", "-c", `head -c ${bytes} /dev/urandom > '${file}'`]);
  const pkg = `${file}.bpkg`;
  const made = await measure([binary, "make", file, "-o", pkg, "--force", "--json"]);
  await measure(["sh", "-c", `cat '${file}' > /dev/null`]);
  return { file, pkg, chunkSize: Number(/"chunk_size":(\d+)/.exec(made.stdout)?.[1]) };
}

async function withSeed<T>(pkg: string, body: (address: string, pid: number) => Promise<T>): Promise<T> {
  const { proc, match } = await startDaemon([binary, "serve", pkg, "--listen", "127.0.0.1:0"], / on 127\.0\.0\.1:(\d+)/);
  try {
    return await body(`127.0.0.1:${match[1]}`, proc.pid);
  } finally {
    proc.kill("SIGTERM");
    await proc.exited;
  }
}

const doneField = (m: Measured, name: string): number => Number(new RegExp(`${name}=([\\d.]+)`).exec(m.stderr)?.[1] ?? NaN);

function describeGet(m: Measured, bytes: number) {
  return {
    seconds: round(m.seconds),
    throughput_MBps: round(bytes / 1e6 / m.seconds, 1),
    p50_ms: doneField(m, "chunk_latency_p50_ms"),
    p95_ms: doneField(m, "chunk_latency_p95_ms"),
    p99_ms: doneField(m, "chunk_latency_p99_ms"),
    in_flight_requests_peak: doneField(m, "in_flight_peak"),
    cpu_pct: round((m.cpuSeconds / m.seconds) * 100, 0),
    event_loop_cpu_s: round(m.mainThreadCpuSeconds, 2),
    worker_cpu_s: round(m.otherThreadsCpuSeconds, 2),
    cpu_s_per_GiB: round(m.cpuSeconds / (bytes / 2 ** 30), 2),
    event_loop_cpu_s_per_GiB: round(m.mainThreadCpuSeconds / (bytes / 2 ** 30), 2),
    get_peak_rss_MiB: mib(m.maxRssBytes),
  };
}

async function baseline(file: string, bytes: number) {
  if (!Bun.which("nginx") || !Bun.which("curl") || !Bun.which("openssl") || !Bun.which("sha256sum")) return null;
  const conf = join(outDir, "nginx");
  mkdirSync(conf, { recursive: true });
  const port = freePort();
  writeFileSync(
    join(conf, "nginx.conf"),
    `daemon off; worker_processes 1; pid ${conf}/nginx.pid; error_log ${conf}/error.log;
events {}
http {
  access_log off; sendfile on; tcp_nopush on;
  client_body_temp_path ${conf}; proxy_temp_path ${conf}; fastcgi_temp_path ${conf}; uwsgi_temp_path ${conf}; scgi_temp_path ${conf};
  server { listen 127.0.0.1:${port}; root ${dataDir}; }
}
`,
  );
  const nginx = Bun.spawn(["nginx", "-c", join(conf, "nginx.conf"), "-p", conf], { stdout: "ignore", stderr: "ignore" });
  await Bun.sleep(300);
  try {
    const target = join(outDir, "curl.bin");
    const url = `http://127.0.0.1:${port}/${file.split("/").at(-1)}`;
    const curl = await medianOf(runs, ["curl", "-sS", "-o", target, url], () => rmSync(target, { force: true }));
    const openssl = await medianOf(runs, ["openssl", "dgst", "-sha256", target]);
    // Downloading and hashing at once, the file still written: what a script does at its best.
    const pipelined = await medianOf(runs, ["sh", "-c", `curl -sS '${url}' | tee '${target}' | sha256sum`], () => rmSync(target, { force: true }));
    rmSync(target, { force: true });
    const seconds = curl.seconds + openssl.seconds;
    return {
      curl_MBps: round(bytes / 1e6 / curl.seconds, 1),
      openssl_MBps: round(bytes / 1e6 / openssl.seconds, 1),
      curl_then_openssl_seconds: round(seconds),
      curl_then_openssl_MBps: round(bytes / 1e6 / seconds, 1),
      curl_tee_sha256sum_seconds: round(pipelined.seconds),
      curl_tee_sha256sum_MBps: round(bytes / 1e6 / pipelined.seconds, 1),
    };
  } finally {
    nginx.kill("SIGQUIT");
    await nginx.exited;
  }
}

const main = await payload(size);
const base = await baseline(main.file, size);
const cases: Record<string, ReturnType<typeof describeGet>> = {};
let seedPeakRss = 0;
/** The serve's CPU seconds per GiB sent, over the c16-pool gets: it has proved its chunks by then. */
let serveCpuPerGiB = 0;
await withSeed(main.pkg, async (address, seedPid) => {
  const target = join(outDir, "get.bin");
  for (const concurrency of [1, 16]) {
    for (const [mode, hasherName] of [["pool", "native"], ["single", "js"]] as const) {
      const get = [binary, "get", main.pkg, "--peer", address, "-o", target, "--linger", "0", "--concurrency", String(concurrency)];
      const seedBefore = processCpu(seedPid);
      const median = await medianOf(runs, get, () => rmSync(target, { force: true }), { env: { BYTETIDE_HASHER: hasherName } });
      if (concurrency === 16 && mode === "pool") serveCpuPerGiB = (processCpu(seedPid) - seedBefore) / runs / (size / 2 ** 30);
      cases[`c${concurrency}-${mode}`] = describeGet(median, size);
    }
  }
  rmSync(target, { force: true });
  seedPeakRss = peakRss(seedPid);
});

const large = await payload(rssSize);
const largeRun = await withSeed(large.pkg, async (address) => {
  const target = join(outDir, "get-large.bin");
  rmSync(target, { force: true });
  const m = await measure([binary, "get", large.pkg, "--peer", address, "-o", target, "--linger", "0", "--concurrency", "16"]);
  rmSync(target, { force: true });
  return describeGet(m, rssSize);
});

/** Gets of the main payload cut into `chunkSize` chunks: median wall and get CPU, and the serve's CPU over the same gets. */
async function chunkCase(chunkSize: string) {
  const pkg = join(dataDir, `chunks-${chunkSize}.bpkg`);
  await measure([binary, "make", main.file, "-o", pkg, "--chunk-size", chunkSize, "--force"]);
  const chunks = Math.ceil(size / parseSize(chunkSize)!);
  return withSeed(pkg, async (address, seedPid) => {
    const target = join(outDir, `chunks-${chunkSize}.bin`);
    const get = [binary, "get", pkg, "--peer", address, "-o", target, "--linger", "0"];
    const clear = () => rmSync(target, { force: true });
    // The first get has the serve prove every chunk (hashing, read once): left out.
    clear();
    await measure(get);
    const seedBefore = processCpu(seedPid);
    const median = await medianOf(runs, get, clear);
    const seedCpu = (processCpu(seedPid) - seedBefore) / runs;
    clear();
    return { chunk_size: chunkSize, chunks, seconds: round(median.seconds), throughput_MBps: round(size / 1e6 / median.seconds, 1), get_cpu_s: round(median.cpuSeconds, 2), serve_cpu_s: round(seedCpu, 2) };
  });
}

const smallChunks = await chunkCase("64KiB");
const largeChunks = await chunkCase("4MiB");
const perChunkUs = (a: number, b: number) => round(((a - b) / (smallChunks.chunks - largeChunks.chunks)) * 1e6, 0);
const chunkCost = {
  cases: [smallChunks, largeChunks],
  throughput_ratio_64KiB_over_4MiB: round(smallChunks.throughput_MBps / largeChunks.throughput_MBps, 2),
  get_cpu_us_per_chunk: perChunkUs(smallChunks.get_cpu_s, largeChunks.get_cpu_s),
  serve_cpu_us_per_chunk: perChunkUs(smallChunks.serve_cpu_s, largeChunks.serve_cpu_s),
};

const best = cases["c16-pool"]!;
const ratio = base ? best.throughput_MBps / base.curl_then_openssl_MBps : null;
const pipelinedRatio = base ? best.throughput_MBps / base.curl_tee_sha256sum_MBps : null;
report("transfer", {
  bench: "transfer",
  command: `bench/run_bench transfer --size ${values.size} --rss-size ${values["rss-size"]} --runs ${runs}`,
  bytetide: (await measure([binary, "--version"])).stdout.trim(),
  cores: availableParallelism(),
  package_bytes: size,
  chunk_size: main.chunkSize,
  output: `tmpfs (${outDir})`,
  runs,
  baseline_nginx_curl_openssl: base ?? "nginx, curl or openssl not installed",
  cases,
  seed_peak_rss_MiB: mib(seedPeakRss),
  serve_cpu_s_per_GiB: round(serveCpuPerGiB, 2),
  large_package: { bytes: rssSize, ...largeRun },
  chunk_cost: chunkCost,
  throughput_ratio_c16_pool_vs_curl_then_openssl: ratio === null ? null : round(ratio, 2),
  throughput_ratio_c16_pool_vs_curl_tee_sha256sum: pipelinedRatio === null ? null : round(pipelinedRatio, 2),
  targets: {
    throughput_ratio_at_least_1_5: ratio === null ? null : ratio >= 1.5,
    throughput_at_least_curl_tee_sha256sum: pipelinedRatio === null ? null : pipelinedRatio >= 1,
    get_at_most_1_cpu_s_per_GiB: best.cpu_s_per_GiB <= 1,
    get_event_loop_at_most_0_6_cpu_s_per_GiB: best.event_loop_cpu_s_per_GiB <= 0.6,
    serve_at_most_0_3_cpu_s_per_GiB: serveCpuPerGiB <= 0.3,
    get_peak_rss_4GiB_at_most_150_MiB: largeRun.get_peak_rss_MiB <= 150,
    chunks_64KiB_at_least_0_8_of_4MiB: chunkCost.throughput_ratio_64KiB_over_4MiB >= 0.8,
    get_at_most_50_us_per_chunk: chunkCost.get_cpu_us_per_chunk <= 50,
    serve_at_most_50_us_per_chunk: chunkCost.serve_cpu_us_per_chunk <= 50,
  },
});
