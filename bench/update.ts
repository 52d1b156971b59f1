/**
 * An update: "version 1", about 1 GiB over 8 files, and "version 2", which rewrites three
 * regions of one file and appends to another. A node holding version 1 fetches version 2
 * by id with --reuse (the README's update workflow), against a full get of version 2 in
 * the same run, both over loopback from one serve, outputs on tmpfs.
 *   bun bench/update.ts [--file-size 128MiB] [--runs 3]
 * Target (issue 12): bytes received <= the changed bytes plus one chunk per changed region.
 */
import { existsSync, mkdirSync, openSync, closeSync, rmSync, writeSync, copyFileSync, appendFileSync } from "node:fs";
import { join } from "node:path";
import { parseArgs } from "node:util";
import { parseSize } from "../src/util/units.ts";
import { freePort, measure, type Measured, medianRun, report, round, startDaemon } from "./harness.ts";

const { values } = parseArgs({
  options: {
    "file-size": { type: "string", default: "128MiB" },
    runs: { type: "string", default: "3" },
    dir: { type: "string", default: "/tmp/bytetide-bench/update" },
    out: { type: "string", default: "/dev/shm/bytetide-bench-update" },
  },
});
const FILES = 8;
const fileSize = parseSize(values["file-size"]!)!;
const runs = Number(values.runs);
const binary = join(import.meta.dir, "..", "dist", "bytetide");
const v1 = join(values.dir!, "v1", "weights");
const v2 = join(values.dir!, "v2", "weights");
const outDir = values.out!;

// Version 2: three regions of 100 kB rewritten in shard 2, 10 MiB appended to shard 5.
const REWRITES = [0.1, 0.5, 0.9].map((at) => ({ file: 2, offset: Math.floor((fileSize * at) / 4096) * 4096 + 1234, length: 100_000 }));
const APPEND = { file: 5, length: 10 * 1024 * 1024 };
const changedBytes = REWRITES.reduce((n, r) => n + r.length, 0) + APPEND.length;
const changedRegions = REWRITES.length + 1;

function buildVersions(): void {
  if (existsSync(join(v2, `shard-${FILES - 1}.bin`))) return;
  mkdirSync(v1, { recursive: true });
  mkdirSync(v2, { recursive: true });
  const block = new Uint8Array(1 << 20);
  for (let f = 0; f < FILES; f++) {
    const path = join(v1, `shard-${f}.bin`);
    const fd = openSync(path, "w");
    for (let at = 0; at < fileSize; at += block.length) writeSync(fd, crypto.getRandomValues(block).subarray(0, Math.min(block.length, fileSize - at)));
    closeSync(fd);
    copyFileSync(path, join(v2, `shard-${f}.bin`));
  }
  for (const r of REWRITES) {
    const fd = openSync(join(v2, `shard-${r.file}.bin`), "r+");
    writeSync(fd, crypto.getRandomValues(new Uint8Array(r.length)), 0, r.length, r.offset);
    closeSync(fd);
  }
  const appended = new Uint8Array(APPEND.length);
  for (let at = 0; at < appended.length; at += 65_536) crypto.getRandomValues(appended.subarray(at, at + 65_536));
  appendFileSync(join(v2, `shard-${APPEND.file}.bin`), appended);
}

const run = (args: string[]) => measure([binary, ...args]);
const jsonOf = (stdout: string) => stdout.trim().split("\n").map((l) => JSON.parse(l) as Record<string, unknown>);

buildVersions();
for (const v of [v1, v2]) if (!existsSync(`${v}.bpkg`)) await run(["make", v, "--quiet"]);
mkdirSync(outDir, { recursive: true });
const diff = JSON.parse((await run(["diff", `${v1}.bpkg`, `${v2}.bpkg`, "--json"])).stdout);
// By default version 2 (just over 1 GiB) gets 1 MiB chunks where version 1 has 512 KiB, and
// diff cannot compare hashes of different chunk sizes; --reuse compares bytes and does not
// care. Version 2 made with version 1's chunk size shows what diff counts then.
const sameChunks = join(values.dir!, "v2-same-chunk-size.bpkg");
if (!existsSync(sameChunks)) await run(["make", v2, "-o", sameChunks, "--chunk-size", String(diff.old.chunk_size), "--quiet"]);
const diffSameChunks = JSON.parse((await run(["diff", `${v1}.bpkg`, sameChunks, "--json"])).stdout);
const id = diff.new.id as string;
const port = freePort();
const seed = await startDaemon([binary, "serve", `${v2}.bpkg`, "--listen", `127.0.0.1:${port}`], /serving 1 package/);

/** One get of version 2 into a fresh output; the bytes it received and reused, from its done event. */
async function getV2(extra: string[]): Promise<Measured & { received: number; reused: number }> {
  const target = join(outDir, "weights");
  rmSync(target, { recursive: true, force: true });
  const m = await run(["get", `bytetide://127.0.0.1:${port}/${id}`, "-o", target, "--linger", "0", "--json", ...extra]);
  const done = jsonOf(m.stdout).find((e) => e.event === "done")!;
  const received = Object.values(done.received_from as Record<string, number>).reduce((n, x) => n + x, 0);
  return { ...m, received, reused: done.reused_bytes as number };
}

const withReuse: Awaited<ReturnType<typeof getV2>>[] = [];
const full: Awaited<ReturnType<typeof getV2>>[] = [];
try {
  // Alternated, so a slow minute of this shared machine falls on both.
  for (let i = 0; i < runs; i++) {
    withReuse.push(await getV2(["--reuse", v1]));
    full.push(await getV2([]));
  }
} finally {
  seed.proc.kill("SIGTERM");
  await seed.proc.exited;
  rmSync(outDir, { recursive: true, force: true });
}

const reuseMedian = medianRun(withReuse) as (typeof withReuse)[number];
const fullMedian = medianRun(full) as (typeof full)[number];
const chunkSize = diff.new.chunk_size as number;
const bound = changedBytes + changedRegions * chunkSize;
const describe = (m: typeof reuseMedian) => ({ seconds: round(m.seconds, 3), cpu_seconds: round(m.cpuSeconds, 2), bytes_received: m.received, bytes_reused: m.reused });
report("update", {
  bench: "update",
  command: `bench/run_bench update --file-size ${values["file-size"]} --runs ${runs}`,
  files: FILES,
  v1_bytes: diff.old.bytes,
  v2_bytes: diff.new.bytes,
  chunk_size: chunkSize,
  changed_bytes: changedBytes,
  changed_regions: changedRegions,
  diff: { chunk_size_differs: diff.chunk_size_differs, changed: diff.changed.length, bytes_to_fetch: diff.bytes_to_fetch },
  diff_with_v1_chunk_size: { chunk_size: diffSameChunks.new.chunk_size, changed: diffSameChunks.changed, chunks_shared: diffSameChunks.chunks_shared, bytes_to_fetch: diffSameChunks.bytes_to_fetch },
  get_by_id_with_reuse: describe(reuseMedian),
  full_get: describe(fullMedian),
  bytes_received_ratio: round(reuseMedian.received / fullMedian.received, 4),
  speedup_with_reuse: round(fullMedian.seconds / reuseMedian.seconds, 2),
  received_bound: bound,
  targets: { received_at_most_changed_plus_one_chunk_per_region: reuseMedian.received <= bound },
});
