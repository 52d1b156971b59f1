/**
 * What a rollout's reports cost its seed (issue 23, §5): a real `serve` with N gets reporting
 * to it, each a ReportLink (src/peer/report-link.ts, the code a get runs) on its own TCP
 * connection over loopback, sending a STATUS at the pace the seed asks (every 2 s up to 4,000
 * nodes, every 5 s at 10,000: src/ops/rollout.ts reportPaceMs), or with --fixed-interval every
 * 2 s whatever it asks (N / 2 messages a second, the load issue 23 names). Measures
 * the serve's CPU (share of one core, from /proc over --seconds) and its resident memory,
 * against the same serve idle beforehand; then its CPU again with one page polling
 * /api/swarm every 2 s.
 *   bun bench/reports.ts [--nodes 10000] [--seconds 20] [--fixed-interval] [--binary dist/bytetide]
 * Goal: at most 5% of one core and 50 MiB for 10,000 nodes.
 */
import { mkdirSync, readFileSync, writeFileSync } from "node:fs";
import { join } from "node:path";
import { parseArgs } from "node:util";
import { networkPolicy } from "../src/cli/network.ts";
import { ReportLink } from "../src/peer/report-link.ts";
import { decodePackage, packageId } from "../src/pkg/format.ts";
import { type NodeReport, REPORT_INTERVAL_MS } from "../src/protocol/status.ts";
import { reportPaceMs } from "../src/ops/rollout.ts";
import { measure, processCpu, report, round, startDaemon } from "./harness.ts";

const { values } = parseArgs({
  options: {
    nodes: { type: "string", default: "10000" },
    seconds: { type: "string", default: "20" },
    "fixed-interval": { type: "boolean", default: false },
    binary: { type: "string", default: join(import.meta.dir, "..", "dist", "bytetide") },
    dir: { type: "string", default: "/tmp/bytetide-bench/reports" },
  },
});
const nodes = Number(values.nodes);
const seconds = Number(values.seconds);
const fixedInterval = values["fixed-interval"]!;
const intervalMs = fixedInterval ? REPORT_INTERVAL_MS : reportPaceMs(nodes);
const binary = values.binary!;
const dir = values.dir!;
mkdirSync(dir, { recursive: true });
const payload = join(dir, "weights.bin");
writeFileSync(payload, new Uint8Array(1024 * 1024));
await measure([binary, "make", payload, "--force", "-q"]);
const id = packageId(decodePackage(new Uint8Array(readFileSync(`${payload}.bpkg`))));

const rssMiB = (pid: number, field: "VmRSS" | "VmHWM") => Number(new RegExp(`${field}:\\s+(\\d+) kB`).exec(readFileSync(`/proc/${pid}/status`, "utf8"))![1]) / 1024;
const { proc, match } = await startDaemon([binary, "serve", `${payload}.bpkg`, "--listen", "127.0.0.1:0", "--metrics", "127.0.0.1:0", "--max-connections", String(nodes + 100)], / on 127\.0\.0\.1:(\d+)\n(?:.*\n)*metrics on (http:\S+)/);
const port = Number(match[1]);
const swarmUrl = match[2]!.replace("/metrics", "/api/swarm");

/** The serve's CPU as a share of one core over `ms`; with `page`, polling /api/swarm every 2 s as an open page would. */
async function cpuShare(ms: number, page: boolean): Promise<number> {
  const before = processCpu(proc.pid);
  const started = performance.now();
  while (performance.now() - started < ms) {
    if (page) await (await fetch(swarmUrl)).arrayBuffer();
    await Bun.sleep(2_000);
  }
  return (processCpu(proc.pid) - before) / ((performance.now() - started) / 1000);
}

async function nodesKnown(): Promise<number> {
  const { packages } = (await (await fetch(swarmUrl)).json()) as { packages: { nodes: number }[] };
  return packages[0]?.nodes ?? 0;
}

const idleCpu = await cpuShare(6_000, false);
const idleRss = rssMiB(proc.pid, "VmRSS");

const network = networkPolicy("bench", {});
const started = performance.now();
const links: ReportLink[] = [];
for (let i = 0; i < nodes; i++) {
  const report: NodeReport = { name: `node-${i}`, zone: `rack-${i % 40}`, state: "downloading", verifiedBytes: 0, totalBytes: 140e9, rateBytesPerSecond: 0, peers: 8, errorCode: "", errorMessage: "", version: "0.1.0" };
  const link = new ReportLink({ host: "127.0.0.1", port }, network, () => {
    report.verifiedBytes = Math.min(report.totalBytes, (performance.now() - started) * 1e5);
    report.rateBytesPerSecond = 1e8;
    return { package: id, report };
  }, !fixedInterval);
  link.start();
  links.push(link);
  // A few hundred handshakes at a time: the listen backlog is finite.
  if (i % 250 === 249) await Bun.sleep(50);
}
const rampDeadline = Date.now() + 180_000;
let known = 0;
while ((known = await nodesKnown()) < nodes && Date.now() < rampDeadline) await Bun.sleep(1_000);
const rampSeconds = (performance.now() - started) / 1000;
const busyCpu = await cpuShare(seconds * 1000, false);
const busyRss = rssMiB(proc.pid, "VmRSS");
const pageCpu = await cpuShare(seconds * 1000, true);
const peakRss = rssMiB(proc.pid, "VmHWM");
for (const link of links) link.stop();
proc.kill("SIGTERM");
await proc.exited;

const reportCpu = Math.max(0, busyCpu - idleCpu);
const reportMemory = busyRss - idleRss;
report("reports", {
  bench: "reports",
  command: `bench/run_bench reports --nodes ${nodes} --seconds ${seconds}${fixedInterval ? " --fixed-interval" : ""}`,
  nodes,
  nodes_known_to_the_seed: known,
  report_interval_s: intervalMs / 1000,
  reports_per_second: Math.round(nodes / (intervalMs / 1000)),
  ramp_seconds: round(rampSeconds, 1),
  serve_cpu_share_idle: round(idleCpu, 4),
  serve_cpu_share_reporting: round(busyCpu, 4),
  serve_cpu_share_for_reports: round(reportCpu, 4),
  serve_cpu_share_with_a_page_polling: round(pageCpu, 4),
  serve_rss_MiB_idle: round(idleRss, 1),
  serve_rss_MiB_reporting: round(busyRss, 1),
  serve_peak_rss_MiB: round(peakRss, 1),
  serve_memory_for_reports_MiB: round(reportMemory, 1),
  targets: {
    all_nodes_known: known === nodes,
    cpu_at_most_5_pct_of_a_core: reportCpu <= 0.05,
    memory_at_most_50_MiB: reportMemory <= 50,
  },
});
process.exit(0);
