import { mkdirSync, writeFileSync } from "node:fs";
import { join } from "node:path";

export interface Measured {
  seconds: number;
  maxRssBytes: number;
  cpuSeconds: number;
  stdout: string;
}

/** Runs a command to completion and measures wall time, CPU time and peak RSS. */
export async function measure(cmd: string[], timeoutMs = 600_000): Promise<Measured> {
  const started = performance.now();
  const proc = Bun.spawn(cmd, { stdout: "pipe", stderr: "pipe", timeout: timeoutMs });
  const [stdout, stderr, code] = await Promise.all([new Response(proc.stdout).text(), new Response(proc.stderr).text(), proc.exited]);
  const seconds = (performance.now() - started) / 1000;
  if (code !== 0) throw new Error(`${cmd.join(" ")} exited ${code}: ${stderr.trim()}`);
  const usage = proc.resourceUsage()!;
  return { seconds, maxRssBytes: usage.maxRSS, cpuSeconds: Number(usage.cpuTime.total) / 1e6, stdout };
}

/** The median of `runs` measurements: this machine is shared and noisy. */
export async function medianOf(runs: number, cmd: string[]): Promise<Measured> {
  const all: Measured[] = [];
  for (let i = 0; i < runs; i++) all.push(await measure(cmd));
  all.sort((a, b) => a.seconds - b.seconds);
  return all[Math.floor(all.length / 2)]!;
}

export const round = (x: number, digits = 3): number => Number(x.toFixed(digits));
export const mib = (bytes: number): number => round(bytes / 2 ** 20, 1);

/** Prints the result as JSON and keeps a copy in bench/results/. */
export function report(name: string, result: object): void {
  const json = JSON.stringify(result, null, 2);
  console.log(json);
  const dir = join(import.meta.dir, "results");
  mkdirSync(dir, { recursive: true });
  writeFileSync(join(dir, `${name}-${new Date().toISOString().replace(/[:.]/g, "-")}.json`), `${json}\n`);
}
