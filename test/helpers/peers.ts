import type { Subprocess } from "bun";
import { readFileSync } from "node:fs";
import { join } from "node:path";
import { readPackage } from "../../src/pkg/io.ts";
import { decodeState } from "../../src/storage/state.ts";
import { timeoutNote } from "./cli.ts";
import { REPO_ROOT } from "./fixtures.ts";
import { watch, type Watched } from "./process.ts";

const BUN = join(REPO_ROOT, "node_modules", ".bin", "bun");
const MAIN = join(REPO_ROOT, "src", "cli", "main.ts");
const live = new Set<Subprocess>();

/**
 * Kills every process spawnCli started that is still running. Called once, after the last
 * test file (preload.ts): a spawn's timeout dies with the test runner, so a test that fails
 * before stopping its seed would otherwise leave the seed running for ever.
 */
export function killLiveProcesses(): void {
  for (const p of live) p.kill("SIGKILL");
}

/** A bytetide process started by a test. */
export type Running = Watched;

/** Starts bytetide as a real process; it is killed when the test run ends if still running. */
export function spawnCli(args: string[], timeoutMs = 90_000): Running {
  const started = performance.now();
  const proc = Bun.spawn([BUN, MAIN, ...args], { stdin: "ignore", stdout: "pipe", stderr: "pipe", timeout: timeoutMs });
  live.add(proc);
  const running = watch(proc, `bytetide ${args.join(" ")}`, () => timeoutNote(started, args, timeoutMs));
  void running.done.then(() => live.delete(proc));
  return running;
}

export interface Seed {
  port: number;
  address: string;
  proc: Subprocess;
  /** SIGTERM, then the exit code and the log. */
  stop(): Promise<{ code: number; stderr: string }>;
}

/** Starts `bytetide serve` on a free loopback port (IPv4 unless host says otherwise) and waits until it listens. */
export async function startSeed(args: string[], host = "127.0.0.1"): Promise<Seed> {
  const bracketed = host.includes(":") ? `[${host}]` : host;
  // A --listen in args (given later) wins over the free-port default.
  const running = spawnCli(["serve", "--listen", `${bracketed}:0`, ...args], 180_000);
  const port = Number((await running.waitFor(/ on \S+:(\d+)\n/))[1]);
  return {
    port,
    address: `${bracketed}:${port}`,
    proc: running.proc,
    async stop() {
      running.proc.kill("SIGTERM");
      const { code, stderr } = await running.done;
      return { code, stderr };
    },
  };
}

/**
 * Polls a running get's progress file until it records at least `target` verified chunks,
 * and returns the count seen. Throws, saying what it waited for, if the get exits first or
 * timeoutMs passes.
 */
export async function waitForVerified(get: Running, pkgPath: string, statePath: string, target: number, timeoutMs = 60_000): Promise<number> {
  const deadline = performance.now() + timeoutMs;
  const ended: { code?: number } = {};
  void get.done.then((r) => (ended.code = r.code));
  for (;;) {
    const { count } = await verifiedChunks(pkgPath, statePath);
    if (count >= target) return count;
    const gaveUp = ended.code !== undefined ? `the get exited (code ${ended.code}) first` : performance.now() > deadline ? `${timeoutMs} ms passed` : null;
    if (gaveUp) throw new Error(`waited for ${statePath} to record ${target} verified chunks; it has ${count} and ${gaveUp}. get's log:\n${get.stderr}`);
    await Bun.sleep(3);
  }
}

/** How many chunks a download's progress file records as verified (0 when there is none yet). */
export async function verifiedChunks(pkgPath: string, statePath: string): Promise<{ count: number; clean: boolean }> {
  const pkg = await readPackage(pkgPath);
  let bytes: Uint8Array;
  try {
    bytes = readFileSync(statePath);
  } catch {
    return { count: 0, clean: false };
  }
  const state = decodeState(bytes, pkg.root, pkg.chunkHashes.length / 32);
  return "problem" in state ? { count: 0, clean: false } : { count: state.verified.count, clean: state.clean };
}
