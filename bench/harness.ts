import { mkdirSync, readdirSync, readFileSync, writeFileSync } from "node:fs";
import { join } from "node:path";
import { round } from "../src/util/units.ts";

export interface Measured {
  seconds: number;
  maxRssBytes: number;
  cpuSeconds: number;
  /** CPU of the process's first thread (Bun's JS thread and event loop) and of all others. */
  mainThreadCpuSeconds: number;
  otherThreadsCpuSeconds: number;
  stdout: string;
  stderr: string;
}

const CLOCK_TICKS_PER_SECOND = 100;

/** utime + stime of every thread of a process, in seconds, by thread id. */
export function threadCpu(pid: number): Map<number, number> {
  const out = new Map<number, number>();
  try {
    for (const tid of readdirSync(`/proc/${pid}/task`)) {
      const stat = readFileSync(`/proc/${pid}/task/${tid}/stat`, "utf8");
      const fields = stat.slice(stat.lastIndexOf(")") + 2).split(" ");
      out.set(Number(tid), (Number(fields[11]) + Number(fields[12])) / CLOCK_TICKS_PER_SECOND);
    }
  } catch {
    // The process or a thread ended between the listing and the read.
  }
  return out;
}

/** utime + stime of a process, every thread it ever had included, in seconds. */
export function processCpu(pid: number): number {
  const stat = readFileSync(`/proc/${pid}/stat`, "utf8");
  const fields = stat.slice(stat.lastIndexOf(")") + 2).split(" ");
  return (Number(fields[11]) + Number(fields[12])) / CLOCK_TICKS_PER_SECOND;
}

/** Runs a command to completion and measures wall time, CPU time (split by thread) and peak RSS. */
export async function measure(cmd: string[], options: { timeoutMs?: number; env?: Record<string, string> } = {}): Promise<Measured> {
  const started = performance.now();
  const proc = Bun.spawn(cmd, { stdout: "pipe", stderr: "pipe", timeout: options.timeoutMs ?? 600_000, env: { ...process.env, ...options.env } });
  const threads = new Map<number, number>();
  const sampler = setInterval(() => {
    for (const [tid, cpu] of threadCpu(proc.pid)) threads.set(tid, cpu);
  }, 20);
  const [stdout, stderr, code] = await Promise.all([new Response(proc.stdout).text(), new Response(proc.stderr).text(), proc.exited]);
  clearInterval(sampler);
  const seconds = (performance.now() - started) / 1000;
  if (code !== 0) throw new Error(`${cmd.join(" ")} exited ${code}: ${stderr.trim()}`);
  const usage = proc.resourceUsage()!;
  const cpuSeconds = Number(usage.cpuTime.total) / 1e6;
  // The last sample misses at most 20 ms of the JS thread; the rest of the total is the other threads'.
  const mainThreadCpuSeconds = Math.min(cpuSeconds, threads.get(proc.pid) ?? 0);
  return { seconds, maxRssBytes: usage.maxRSS, cpuSeconds, mainThreadCpuSeconds, otherThreadsCpuSeconds: cpuSeconds - mainThreadCpuSeconds, stdout, stderr };
}

/** Peak RSS (VmHWM) of a running process, in bytes. */
export function peakRss(pid: number): number {
  const m = /VmHWM:\s+(\d+) kB/.exec(readFileSync(`/proc/${pid}/status`, "utf8"));
  return m ? Number(m[1]) * 1024 : 0;
}

/** The run of median wall time. */
export const medianRun = (all: Measured[]): Measured => all.toSorted((a, b) => a.seconds - b.seconds)[Math.floor(all.length / 2)]!;

/** The median of `runs` measurements: this machine is shared and noisy. */
export async function medianOf(runs: number, cmd: string[], before: () => void = () => {}, options: { env?: Record<string, string> } = {}): Promise<Measured> {
  const all: Measured[] = [];
  for (let i = 0; i < runs; i++) {
    before();
    all.push(await measure(cmd, options));
  }
  return medianRun(all);
}

export { round };
export const mib = (bytes: number): number => round(bytes / 2 ** 20, 1);

/** Prints the result as JSON and keeps a copy in bench/results/. */
export function report(name: string, result: object): void {
  const json = JSON.stringify(result, null, 2);
  console.log(json);
  const dir = join(import.meta.dir, "results");
  mkdirSync(dir, { recursive: true });
  writeFileSync(join(dir, `${name}-${new Date().toISOString().replace(/[:.]/g, "-")}.json`), `${json}\n`);
}

/** Starts a long-running command and waits until its stdout matches `ready`. */
export async function startDaemon(cmd: string[], ready: RegExp, timeoutMs = 15_000): Promise<{ proc: ReturnType<typeof Bun.spawn>; match: RegExpExecArray }> {
  const proc = Bun.spawn(cmd, { stdout: "pipe", stderr: "ignore" });
  const reader = (proc.stdout as ReadableStream<Uint8Array>).getReader();
  const deadline = Date.now() + timeoutMs;
  let text = "";
  let match: RegExpExecArray | null = null;
  while (!(match = ready.exec(text))) {
    const next = await Promise.race([reader.read(), Bun.sleep(Math.max(0, deadline - Date.now())).then(() => null)]);
    if (!next || next.done) {
      proc.kill();
      throw new Error(`${cmd.join(" ")} did not become ready: ${text}`);
    }
    text += new TextDecoder().decode(next.value);
  }
  reader.releaseLock();
  void (proc.stdout as ReadableStream<Uint8Array>).pipeTo(new WritableStream()).catch(() => {});
  return { proc, match };
}

/** A TCP port that was free a moment ago. */
export function freePort(): number {
  const probe = Bun.listen({ hostname: "127.0.0.1", port: 0, socket: { data() {} } });
  const port = probe.port;
  probe.stop(true);
  return port;
}
