/**
 * `bytetide make` throughput and memory against `openssl dgst -sha256`, in one run.
 *   bun bench/make.ts [--size 2GiB] [--sparse-size 8GiB] [--runs 3] [--dir /tmp/bytetide-bench]
 * Targets (docs/performance.md): throughput >= 1.6x openssl; peak RSS <= 100 MiB and the
 * same (within 10%) for the 2 GiB file and the 8 GiB sparse file.
 */
import { existsSync, mkdirSync, rmSync, statSync, truncateSync } from "node:fs";
import { availableParallelism } from "node:os";
import { join } from "node:path";
import { parseArgs } from "node:util";
import { parseSize } from "../src/util/units.ts";
import { measure, medianOf, mib, report, round } from "./harness.ts";

const { values } = parseArgs({
  options: {
    size: { type: "string", default: "2GiB" },
    "sparse-size": { type: "string", default: "8GiB" },
    runs: { type: "string", default: "3" },
    dir: { type: "string", default: "/tmp/bytetide-bench" },
  },
});
const size = parseSize(values.size!)!;
const sparseSize = parseSize(values["sparse-size"]!)!;
const runs = Number(values.runs);
const binary = join(import.meta.dir, "..", "dist", "bytetide");

mkdirSync(values.dir!, { recursive: true });
const dense = join(values.dir!, `dense-${size}.bin`);
const sparse = join(values.dir!, `sparse-${sparseSize}.bin`);
if (!existsSync(dense) || statSync(dense).size !== size) {
  // Random bytes, so nothing downstream can shortcut on content.
  await measure(["sh", "-c", `head -c ${size} /dev/urandom > '${dense}'`]);
}
rmSync(sparse, { force: true });
Bun.write(sparse, "");
truncateSync(sparse, sparseSize);

// Warm the page cache so both tools hash from memory, as the target specifies.
await measure(["cat", dense, "-o", "/dev/null"]).catch(() => measure(["sh", "-c", `cat '${dense}' > /dev/null`]));

const version = (await measure([binary, "--version"])).stdout.trim();
const openssl = await medianOf(runs, ["openssl", "dgst", "-sha256", dense]);
const make = await medianOf(runs, [binary, "make", dense, "-o", join(values.dir!, "dense.bpkg"), "--force"]);
const makeSparse = await measure([binary, "make", sparse, "-o", join(values.dir!, "sparse.bpkg"), "--force"]);
rmSync(sparse, { force: true });

const opensslMBps = size / 1e6 / openssl.seconds;
const makeMBps = size / 1e6 / make.seconds;
const rssRatio = makeSparse.maxRssBytes / make.maxRssBytes;
report("make", {
  bench: "make",
  command: `bun bench/make.ts --size ${values.size} --sparse-size ${values["sparse-size"]} --runs ${runs}`,
  bytetide: version,
  cores: availableParallelism(),
  file_bytes: size,
  runs,
  openssl_sha256: { seconds: round(openssl.seconds), MBps: round(opensslMBps, 1), cpu_seconds: round(openssl.cpuSeconds) },
  make: {
    seconds: round(make.seconds),
    MBps: round(makeMBps, 1),
    cpu_seconds: round(make.cpuSeconds),
    cores_busy: round(make.cpuSeconds / make.seconds, 2),
    peak_rss_MiB: mib(make.maxRssBytes),
  },
  make_sparse: { file_bytes: sparseSize, seconds: round(makeSparse.seconds), MBps: round(sparseSize / 1e6 / makeSparse.seconds, 1), peak_rss_MiB: mib(makeSparse.maxRssBytes) },
  throughput_ratio_vs_openssl: round(makeMBps / opensslMBps, 2),
  rss_ratio_sparse_vs_dense: round(rssRatio, 3),
  targets: {
    throughput_ratio_at_least_1_6: makeMBps / opensslMBps >= 1.6,
    peak_rss_at_most_100_MiB: Math.max(make.maxRssBytes, makeSparse.maxRssBytes) <= 100 * 2 ** 20,
    rss_independent_of_size_within_10pct: Math.abs(rssRatio - 1) <= 0.1,
  },
});
