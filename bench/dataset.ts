/**
 * Many small files: a dataset of about 20,000 files of 0-64 KiB in nested directories plus two
 * large ones (about 1 GB in all). Times `make`, then a loopback `get` against an rsync daemon
 * over loopback (rsync -a), in the same run, and checks both trees are identical, modes
 * included. Outputs land on tmpfs (/dev/shm) unless --out says otherwise: a disk adds what
 * each side does to make the files durable (get syncs them before its rename; rsync does not).
 *   bun bench/dataset.ts [--files 20000] [--large 2x192MiB] [--runs 3] [--out DIR]
 * Target (docs/performance.md): get at least 1.5x as fast as rsync.
 */
import { chmodSync, existsSync, mkdirSync, readFileSync, rmSync, writeFileSync } from "node:fs";
import { join } from "node:path";
import { parseArgs } from "node:util";
import { parseSize } from "../src/util/units.ts";
import { freePort, measure, type Measured, medianRun, report, round, startDaemon } from "./harness.ts";

const { values } = parseArgs({
  options: {
    files: { type: "string", default: "20000" },
    large: { type: "string", default: "2x192MiB" },
    runs: { type: "string", default: "3" },
    dir: { type: "string", default: "/tmp/bytetide-bench/dataset" },
    out: { type: "string", default: "/dev/shm/bytetide-bench-dataset" },
  },
});
const fileCount = Number(values.files);
const [largeCount, largeSize] = [Number(values.large!.split("x")[0]), parseSize(values.large!.split("x")[1]!)!];
const runs = Number(values.runs);
const binary = join(import.meta.dir, "..", "dist", "bytetide");
const source = join(values.dir!, "data");
const outDir = values.out!;

/** A repeatable tree: sizes and modes from a seeded generator, bytes from the system's. */
function buildDataset(): number {
  let seed = 12345;
  const next = () => (seed = (seed * 1103515245 + 12345) % 2 ** 31) / 2 ** 31;
  let total = 0;
  for (let i = 0; i < fileCount; i++) {
    // 20 files a directory, 10 directories a parent: dNN/eNN/fileNNNNN.
    const dir = join(source, `d${Math.floor(i / 200)}`, `e${Math.floor(i / 20) % 10}`);
    if (i % 20 === 0) mkdirSync(dir, { recursive: true });
    const size = Math.floor(next() * 65_537);
    const path = join(dir, `file${i}.bin`);
    writeFileSync(path, crypto.getRandomValues(new Uint8Array(size)));
    if (next() < 0.1) chmodSync(path, 0o755);
    total += size;
  }
  for (let i = 0; i < largeCount; i++) {
    const path = join(source, `large-${i}.bin`);
    const block = new Uint8Array(1 << 20);
    writeFileSync(path, "");
    for (let at = 0; at < largeSize; at += block.length) writeFileSync(path, crypto.getRandomValues(block).subarray(0, Math.min(block.length, largeSize - at)), { flag: "a" });
    total += largeSize;
  }
  writeFileSync(join(values.dir!, "dataset.json"), JSON.stringify({ fileCount, largeCount, largeSize, total }));
  return total;
}

/** Every entry's path, type, mode and size, and every file's bytes, as one comparable text. */
function treeListing(root: string): string {
  // Directory sizes are the filesystem's (tmpfs and ext4 differ): sizes of files only.
  const r = Bun.spawnSync(["sh", "-c", `cd '${root}' && (find . ! -type f -printf '%P %y %m\\n'; find . -type f -printf '%P %y %m %s\\n') | sort && find . -type f -print0 | sort -z | xargs -0 cat | sha256sum`]);
  return r.stdout.toString();
}

const describe = (m: Measured) => ({ seconds: round(m.seconds), cpu_seconds: round(m.cpuSeconds) });

const stamp = join(values.dir!, "dataset.json");
const recorded = existsSync(stamp) ? JSON.parse(readFileSync(stamp, "utf8")) : null;
const total =
  recorded && recorded.fileCount === fileCount && recorded.largeCount === largeCount && recorded.largeSize === largeSize
    ? (recorded.total as number)
    : (rmSync(values.dir!, { recursive: true, force: true }), mkdirSync(source, { recursive: true }), buildDataset());
mkdirSync(outDir, { recursive: true });
const pkg = join(values.dir!, "data.bpkg");
const made = await measure([binary, "make", source, "-o", pkg, "--force", "--json"]);
const chunks = Number(/"chunks":(\d+)/.exec(made.stdout)?.[1]);
const chunkSize = Number(/"chunk_size":(\d+)/.exec(made.stdout)?.[1]);
// Warm the page cache for both, so neither pays for the first read.
await measure(["sh", "-c", `find '${source}' -type f -print0 | xargs -0 cat > /dev/null`]);
const expected = treeListing(source);

/** `runs` copies into `target`, each from scratch: their times, and whether every tree came out identical. */
async function copies(target: string, copy: () => Promise<Measured>): Promise<{ runs: Measured[]; identical: boolean }> {
  const all: Measured[] = [];
  let identical = true;
  for (let i = 0; i < runs; i++) {
    rmSync(target, { recursive: true, force: true });
    rmSync(`${target}.btstate`, { force: true });
    all.push(await copy());
    identical &&= treeListing(target) === expected;
  }
  rmSync(target, { recursive: true, force: true });
  return { runs: all, identical };
}

async function rsyncRuns(): Promise<{ runs: Measured[]; identical: boolean } | null> {
  if (!Bun.which("rsync")) return null;
  const port = freePort();
  const conf = join(outDir, "rsyncd.conf");
  writeFileSync(conf, `use chroot = no\npid file = ${join(outDir, "rsyncd.pid")}\n[data]\n  path = ${source}\n  read only = yes\n`);
  const daemon = Bun.spawn(["rsync", "--daemon", "--no-detach", `--config=${conf}`, `--port=${port}`, "--address=127.0.0.1"], { stdout: "ignore", stderr: "ignore" });
  await Bun.sleep(500);
  try {
    const target = join(outDir, "rsync");
    return await copies(target, () => measure(["rsync", "-a", `rsync://127.0.0.1:${port}/data/`, `${target}/`]));
  } finally {
    daemon.kill();
    await daemon.exited;
  }
}

async function getRuns(): Promise<{ runs: Measured[]; identical: boolean }> {
  const { proc, match } = await startDaemon([binary, "serve", pkg, "--listen", "127.0.0.1:0"], / on 127\.0\.0\.1:(\d+)/);
  try {
    const target = join(outDir, "get");
    return await copies(target, async () => {
      const m = await measure([binary, "get", pkg, "--peer", `127.0.0.1:${match[1]}`, "-o", target, "--linger", "0"]);
      if (!m.stdout.startsWith("VERIFY OK")) throw new Error(`get did not verify: ${m.stderr.slice(-500)}`);
      return m;
    });
  } finally {
    proc.kill("SIGTERM");
    await proc.exited;
  }
}

const get = await getRuns();
const rsync = await rsyncRuns();
const getMedian = medianRun(get.runs);
const rsyncMedian = rsync ? medianRun(rsync.runs) : null;
const ratio = rsyncMedian ? rsyncMedian.seconds / getMedian.seconds : null;
report("dataset", {
  bench: "dataset",
  command: `bench/run_bench dataset --files ${fileCount} --large ${values.large} --runs ${runs}`,
  files: fileCount + largeCount,
  bytes: total,
  chunk_size: chunkSize,
  chunks,
  output: outDir,
  make: describe(made),
  get: { ...describe(getMedian), MBps: round(total / 1e6 / getMedian.seconds, 1), tree_identical: get.identical },
  rsync: rsyncMedian ? { ...describe(rsyncMedian), MBps: round(total / 1e6 / rsyncMedian.seconds, 1), tree_identical: rsync!.identical } : "rsync not installed",
  speedup_get_over_rsync: ratio === null ? null : round(ratio, 2),
  targets: { get_at_least_1_5x_rsync: ratio === null ? null : ratio >= 1.5 },
});
