import { join } from "node:path";
import { REPO_ROOT } from "./fixtures.ts";
import type { PipedProcess, ProcessResult } from "./process.ts";

const NETLAB = join(REPO_ROOT, "scripts", "netlab.sh");
export const BINARY = join(REPO_ROOT, "dist", "bytetide");

/** Namespaces need root and iproute2; CI runs as root. */
export const netlabAvailable = process.getuid?.() === 0 && Bun.which("ip") !== null && Bun.which("tc") !== null;

export type HostProcess = PipedProcess;
export { watch, type Watched } from "./process.ts";

export interface HostOptions {
  /** The whole environment of the process (default: the test's own). */
  env?: Record<string, string | undefined>;
  cwd?: string;
}

export interface Lab {
  addr(i: number): string;
  /** Host i's name, as every host's /etc/hosts knows it; throws for an unnamed host. */
  name(i: number): string;
  /** Runs the compiled bytetide on host i. */
  spawn(i: number, args: string[], timeoutMs?: number, options?: HostOptions): HostProcess;
  /** Runs any program on host i (curl, sh, ...). */
  exec(i: number, argv: string[], timeoutMs?: number, options?: HostOptions): HostProcess;
  /** Host i is now names[i], on every host at once: a name moves, as a Service or a restarted pod's does. */
  rename(names: string[]): void;
  /** With zones: bytes that crossed the link between them, both ways, so far. */
  crossedBytes(): number;
  down(): void;
}

function netlab(prefix: string, subnet: string, args: string[], env: Record<string, string> = {}): string {
  const r = Bun.spawnSync([NETLAB, ...args], { env: { ...process.env, NETLAB_PREFIX: prefix, NETLAB_SUBNET: subnet, ...env }, timeout: 60_000 });
  if (r.exitCode !== 0) throw new Error(`netlab ${args.join(" ")} failed: ${r.stderr.toString()}`);
  return r.stdout.toString().trim();
}

/**
 * Creates `hosts` emulated hosts shaped to `mbit` each way; call down() when done.
 * names[i] names host i on every host (through /etc/netns/<ns>/hosts), so commands can
 * say `--peer seed:7654`; subnet picks the /24 inside the lab (default 10.77.0). With
 * `zones`, hosts 0..split-1 and the rest are two zones joined by one link of linkMbit.
 */
export function createLab(family: string, hosts: number, mbit: number, initialNames: string[] = [], subnet = "10.77.0", zones?: { split: number; linkMbit: number }): Lab {
  // Namespace names are machine-wide: two suites on one machine (two CI runs, a developer's
  // run beside CI) must not tear down each other's labs. So each process owns its own
  // prefix, and clears what dead processes of the same family left behind.
  removeOrphanLabs(family, subnet);
  const prefix = `${family}${process.pid}`;
  netlab(prefix, subnet, ["up", String(hosts), String(mbit), ...initialNames], zones ? { NETLAB_ZONES: `${zones.split}:${zones.linkMbit}` } : {});
  let names = initialNames;
  const exec = (i: number, argv: string[], timeoutMs = 180_000, options: HostOptions = {}): HostProcess =>
    Bun.spawn(["ip", "netns", "exec", `${prefix}-h${i}`, ...argv], {
      stdin: "ignore",
      stdout: "pipe",
      stderr: "pipe",
      timeout: timeoutMs,
      env: options.env ?? process.env,
      cwd: options.cwd,
    });
  return {
    addr: (i) => `${subnet}.${i + 1}`,
    name: (i) => {
      const name = names[i];
      if (name === undefined) throw new Error(`netlab host ${i} has no name`);
      return name;
    },
    spawn: (i, args, timeoutMs, options) => exec(i, [BINARY, ...args], timeoutMs, options),
    exec,
    rename: (next) => {
      netlab(prefix, subnet, ["names", ...next]);
      names = next;
    },
    crossedBytes: () => Number(netlab(prefix, subnet, ["crossed"])),
    down: () => netlab(prefix, subnet, ["down"]),
  };
}

/** Labs of `family` whose creating process is gone: a run that was killed before its down(). */
function removeOrphanLabs(family: string, subnet: string): void {
  const listing = Bun.spawnSync(["ip", "netns", "list"], { timeout: 10_000 }).stdout.toString();
  const owners = new Set([...listing.matchAll(new RegExp(`^${family}(\\d+)-(?:core|h\\d+)\\b`, "gm"))].map((m) => Number(m[1])));
  for (const pid of owners) {
    if (pid === process.pid || processAlive(pid)) continue;
    netlab(`${family}${pid}`, subnet, ["down"]);
  }
}

function processAlive(pid: number): boolean {
  try {
    process.kill(pid, 0);
    return true;
  } catch {
    return false;
  }
}

export async function outputOf(proc: HostProcess): Promise<ProcessResult> {
  const [stdout, stderr, code] = await Promise.all([new Response(proc.stdout).text(), new Response(proc.stderr).text(), proc.exited]);
  return { code, stdout, stderr };
}

