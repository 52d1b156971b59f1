import type { Subprocess } from "bun";
import { afterAll } from "bun:test";
import { readFileSync } from "node:fs";
import { join } from "node:path";
import { readPackage } from "../../src/pkg/io.ts";
import { decodeState } from "../../src/storage/state.ts";
import { REPO_ROOT } from "./fixtures.ts";

const BUN = join(REPO_ROOT, "node_modules", ".bin", "bun");
const MAIN = join(REPO_ROOT, "src", "cli", "main.ts");
const live = new Set<Subprocess>();
afterAll(() => {
  for (const p of live) p.kill("SIGKILL");
});

export interface Running {
  proc: Subprocess<"ignore", "pipe", "pipe">;
  /** Resolves with exit code and everything printed. */
  done: Promise<{ code: number; stdout: string; stderr: string }>;
}

/** Starts bytetide as a real process; it is killed when the test file ends if still running. */
export function spawnCli(args: string[], timeoutMs = 60_000): Running {
  const proc = Bun.spawn([BUN, MAIN, ...args], { stdin: "ignore", stdout: "pipe", stderr: "pipe", timeout: timeoutMs });
  live.add(proc);
  const stdout = new Response(proc.stdout).text();
  const stderr = new Response(proc.stderr).text();
  const done = Promise.all([proc.exited, stdout, stderr]).then(([code, out, err]) => {
    live.delete(proc);
    return { code, stdout: out, stderr: err };
  });
  return { proc, done };
}

export interface Seed {
  port: number;
  address: string;
  proc: Subprocess;
  /** SIGTERM, then the exit code and the log. */
  stop(): Promise<{ code: number; stderr: string }>;
}

/** Starts `bytetide serve` on 127.0.0.1 with a free port and waits until it listens. */
export async function startSeed(args: string[], timeoutMs = 120_000): Promise<Seed> {
  const proc = Bun.spawn([BUN, MAIN, "serve", "--listen", "127.0.0.1:0", ...args], { stdin: "ignore", stdout: "pipe", stderr: "pipe", timeout: timeoutMs });
  live.add(proc);
  const stderr = new Response(proc.stderr).text();
  const reader = proc.stdout.getReader();
  let text = "";
  const deadline = Date.now() + 15_000;
  while (!/ on 127\.0\.0\.1:(\d+)/.test(text)) {
    const { value, done } = await Promise.race([reader.read(), Bun.sleep(Math.max(0, deadline - Date.now())).then(() => ({ value: undefined, done: true }))]);
    if (done) throw new Error(`serve did not start: ${text} ${await Promise.race([stderr, Bun.sleep(500).then(() => "")])}`);
    text += new TextDecoder().decode(value);
  }
  reader.releaseLock();
  void proc.stdout.pipeTo(new WritableStream()).catch(() => {});
  const port = Number(/ on 127\.0\.0\.1:(\d+)/.exec(text)![1]);
  return {
    port,
    address: `127.0.0.1:${port}`,
    proc,
    async stop() {
      proc.kill("SIGTERM");
      const code = await proc.exited;
      live.delete(proc);
      return { code, stderr: await stderr };
    },
  };
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
