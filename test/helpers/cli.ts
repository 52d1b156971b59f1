import type { Subprocess } from "bun";
import { chmodSync, copyFileSync, existsSync, mkdtempSync, statSync } from "node:fs";
import { tmpdir } from "node:os";
import { dirname, join } from "node:path";
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

const NOBODY = { uid: 65534, gid: 65534 };

/**
 * Why 'nobody' cannot search (x) the directory at path, or at one of its ancestors,
 * or undefined if it can reach it.
 */
export function unreachableByNobody(path: string): string | undefined {
  for (let p = path; ; p = dirname(p)) {
    const st = statSync(p);
    const bit = st.uid === NOBODY.uid ? 0o100 : st.gid === NOBODY.gid ? 0o010 : 0o001;
    if (!(st.mode & bit)) return `${p} (mode ${(st.mode & 0o7777).toString(8)}) cannot be searched by 'nobody'`;
    if (p === dirname(p)) return undefined;
  }
}

/** The copy, and the child that removes it (held here so that its stdin stays open). */
let nobodysCopy: { executable: string; remover: Subprocess } | undefined;

/**
 * Removes dir when this process ends, however it ends. bun test emits no "exit" event, and an
 * afterAll here would belong to whichever test file first ran a command as 'nobody'; so a
 * child waits for its stdin, a pipe only this process writes, to close, then removes dir.
 */
function removeAtExit(dir: string): Subprocess {
  const remover = Bun.spawn(["sh", "-c", 'cat >/dev/null; rm -rf -- "$1"', "sh", dir], { stdin: "pipe", stdout: "ignore", stderr: "ignore" });
  remover.unref();
  return remover;
}

/**
 * The compiled executable, copied once per test process into a fresh 0755 directory that
 * 'nobody' can reach. The clone itself may sit under a 0700 directory (mktemp -d makes one),
 * and then 'nobody' could run neither node_modules/.bin/bun nor src/, and every unprivileged
 * test would fail on that instead of on the path it is about.
 */
function executableForNobody(): string {
  if (nobodysCopy) return nobodysCopy.executable;
  if (!existsSync(COMPILED)) {
    throw new Error(`test harness: ${COMPILED} is missing; tests that drop to 'nobody' run it, since 'nobody' may not reach this clone's sources. Build it with ./scripts/bootstrap.sh (scripts/test.sh does).`);
  }
  const dir = mkdtempSync(join(tmpdir(), "bytetide-nobody-"));
  const remover = removeAtExit(dir);
  chmodSync(dir, 0o755);
  const copy = join(dir, "bytetide");
  copyFileSync(COMPILED, copy);
  chmodSync(copy, 0o755);
  const blocked = unreachableByNobody(dir);
  if (blocked) throw new Error(`test harness: ${blocked}, so it cannot run ${copy}; point TMPDIR at a directory it can reach`);
  nobodysCopy = { executable: copy, remover };
  return copy;
}

/**
 * Runs bytetide as a real process and waits for it, killing it if it outlives timeoutMs.
 * It runs from source, except that an unprivileged run as root runs the compiled executable
 * as 'nobody' (by default in the directory that holds that copy).
 */
export async function runCli(
  args: string[],
  options: { cwd?: string; env?: Record<string, string>; timeoutMs?: number; unprivileged?: boolean } = {},
): Promise<CliResult> {
  // Permission checks mean nothing to root, so such tests drop to the 'nobody' user.
  const dropRoot = options.unprivileged && process.getuid?.() === 0;
  let cmd = [BUN, MAIN, ...args];
  let cwd = options.cwd;
  if (dropRoot) {
    const executable = executableForNobody();
    cwd ??= dirname(executable);
    const blocked = unreachableByNobody(cwd);
    if (blocked) throw new Error(`test harness: ${blocked}, so it cannot be the working directory of bytetide ${args.join(" ")}`);
    cmd = ["setpriv", `--reuid=${NOBODY.uid}`, `--regid=${NOBODY.gid}`, "--clear-groups", executable, ...args];
  }
  const timeoutMs = options.timeoutMs ?? 30_000;
  const started = performance.now();
  const proc = Bun.spawn(cmd, {
    cwd,
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
