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
  const proc = Bun.spawn(cmd, {
    cwd: options.cwd,
    env: { ...process.env, ...options.env },
    stdout: "pipe",
    stderr: "pipe",
    timeout: options.timeoutMs ?? 30_000,
  });
  const [stdout, stderr, code] = await Promise.all([new Response(proc.stdout).text(), new Response(proc.stderr).text(), proc.exited]);
  return { code, stdout, stderr };
}
