/**
 * Start-up: `bytetide --version` against a compiled hello-world (the floor any Bun
 * executable pays), both built and timed in the same run.
 *   bun bench/startup.ts [--runs 61]
 * Target (docs/performance.md): bytetide --version median <= 20 ms.
 */
import { mkdtempSync, rmSync, writeFileSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { parseArgs } from "node:util";
import { report, round } from "./harness.ts";

const { values } = parseArgs({ options: { runs: { type: "string", default: "61" } } });
const runs = Number(values.runs);
const root = join(import.meta.dir, "..");
const binary = join(root, "dist", "bytetide");
const dir = mkdtempSync(join(tmpdir(), "bytetide-startup-"));

/** The median of the samples. */
function medianMs(samples: number[]): number {
  const sorted = samples.toSorted((a, b) => a - b);
  return sorted[Math.floor(sorted.length / 2)]!;
}

function timeOnce(cmd: string[]): number {
  const started = performance.now();
  const r = Bun.spawnSync(cmd, { stdout: "ignore", stderr: "ignore" });
  if (r.exitCode !== 0) throw new Error(`${cmd.join(" ")} exited ${r.exitCode}`);
  return performance.now() - started;
}

try {
  const hello = join(dir, "hello");
  writeFileSync(join(dir, "hello.ts"), 'console.log("hello");\n');
  const built = Bun.spawnSync([process.execPath, "build", "--compile", join(dir, "hello.ts"), "--outfile", hello], { stdout: "ignore", stderr: "pipe" });
  if (built.exitCode !== 0) throw new Error(`building the baseline failed: ${built.stderr}`);
  const version: number[] = [];
  const baseline: number[] = [];
  // Interleaved, so both see the same machine.
  for (let i = 0; i < runs; i++) {
    version.push(timeOnce([binary, "--version"]));
    baseline.push(timeOnce([hello]));
  }
  const ms = medianMs(version);
  const floor = medianMs(baseline);
  report("startup", {
    bench: "startup",
    command: `bench/run_bench startup --runs ${runs}`,
    runs,
    version_median_ms: round(ms, 1),
    compiled_hello_median_ms: round(floor, 1),
    ratio_version_over_hello: round(ms / floor, 2),
    targets: { version_median_at_most_20_ms: ms <= 20 },
  });
} finally {
  rmSync(dir, { recursive: true, force: true });
}
