import type { Subprocess } from "bun";
import { join } from "node:path";
import { REPO_ROOT } from "./fixtures.ts";

const NETLAB = join(REPO_ROOT, "scripts", "netlab.sh");
export const BINARY = join(REPO_ROOT, "dist", "bytetide");

/** Namespaces need root and iproute2; CI runs as root. */
export const netlabAvailable = process.getuid?.() === 0 && Bun.which("ip") !== null && Bun.which("tc") !== null;

export interface Lab {
  addr(i: number): string;
  /** Runs the compiled bytetide on host i. */
  spawn(i: number, args: string[], timeoutMs?: number): Subprocess<"ignore", "pipe", "pipe">;
  down(): void;
}

function netlab(prefix: string, ...args: string[]): string {
  const r = Bun.spawnSync([NETLAB, ...args], { env: { ...process.env, NETLAB_PREFIX: prefix }, timeout: 60_000 });
  if (r.exitCode !== 0) throw new Error(`netlab ${args.join(" ")} failed: ${r.stderr.toString()}`);
  return r.stdout.toString().trim();
}

/** Creates `hosts` emulated hosts shaped to `mbit` each way; call down() when done. */
export function createLab(prefix: string, hosts: number, mbit: number): Lab {
  netlab(prefix, "up", String(hosts), String(mbit));
  return {
    addr: (i) => `10.77.0.${i + 1}`,
    spawn: (i, args, timeoutMs = 180_000) =>
      Bun.spawn(["ip", "netns", "exec", `${prefix}-h${i}`, BINARY, ...args], { stdin: "ignore", stdout: "pipe", stderr: "pipe", timeout: timeoutMs }),
    down: () => netlab(prefix, "down"),
  };
}

export async function outputOf(proc: Subprocess<"ignore", "pipe", "pipe">): Promise<{ code: number; stdout: string; stderr: string }> {
  const [stdout, stderr, code] = await Promise.all([new Response(proc.stdout).text(), new Response(proc.stderr).text(), proc.exited]);
  return { code, stdout, stderr };
}
