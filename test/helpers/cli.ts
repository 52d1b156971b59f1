import { join } from "node:path";
import { REPO_ROOT } from "./fixtures.ts";

export interface CliResult {
  code: number;
  stdout: string;
  stderr: string;
}

const BUN = join(REPO_ROOT, "node_modules", ".bin", "bun");
const MAIN = join(REPO_ROOT, "src", "cli", "main.ts");
export const COMPILED = join(REPO_ROOT, "dist", "bytetide");

/**
 * A line for the stderr of a process that outlived its timeout (and so was stopped by it),
 * so that a hang reads as one; "" for a process that ended in time.
 */
export function timeoutNote(started: number, args: string[], timeoutMs: number): string {
  return performance.now() - started >= timeoutMs ? `\n[test harness: bytetide ${args.join(" ")} was still running after ${timeoutMs} ms and was stopped]\n` : "";
}

/**
 * Runs bytetide from source as a real process and waits for it,
 * killing it if it outlives timeoutMs.
 */
export async function runCli(
  args: string[],
  options: { cwd?: string; env?: Record<string, string>; timeoutMs?: number; unprivileged?: boolean } = {},
): Promise<CliResult> {
  const program = [BUN, MAIN, ...args];
  // Permission checks mean nothing to root, so such tests drop to the 'nobody' user.
  const dropRoot = options.unprivileged && process.getuid?.() === 0;
  const cmd = dropRoot ? ["setpriv", "--reuid=65534", "--regid=65534", "--clear-groups", ...program] : program;
  const timeoutMs = options.timeoutMs ?? 30_000;
  const started = performance.now();
  const proc = Bun.spawn(cmd, {
    cwd: options.cwd,
    env: { ...process.env, ...options.env },
    stdout: "pipe",
    stderr: "pipe",
    timeout: timeoutMs,
  });
  const [stdout, stderr, code] = await Promise.all([new Response(proc.stdout).text(), new Response(proc.stderr).text(), proc.exited]);
  return { code, stdout, stderr: stderr + timeoutNote(started, args, timeoutMs) };
}

/**
 * `bytetide make` for a test's set-up: throws with make's stderr if it fails, so a broken
 * set-up is reported as itself rather than as whatever test first trips over the missing package.
 * The package is written where make puts it: `-o` in args, else <input>.bpkg.
 */
export async function makePackage(input: string, args: string[] = [], options: Parameters<typeof runCli>[1] = {}): Promise<CliResult> {
  const r = await runCli(["make", input, ...args], options);
  if (r.code !== 0) throw new Error(`set-up failed: bytetide make ${[input, ...args].join(" ")} exited ${r.code}:\n${r.stderr}`);
  return r;
}
