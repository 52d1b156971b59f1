import { afterAll, describe, expect, test } from "bun:test";
import { cpSync, existsSync, lstatSync, mkdirSync, readdirSync, readFileSync, rmSync, statSync, writeFileSync } from "node:fs";
import { join } from "node:path";
import { makePackage, runCli } from "../helpers/cli.ts";
import { expectCleanError, ndjson } from "../helpers/expect.ts";
import { seededBytes, tempDir } from "../helpers/fixtures.ts";
import { startSeed } from "../helpers/peers.ts";

/** A new user's mistakes (issue 20): each is refused, or read as meant, in one line and with its exit code. */
const dir = tempDir("bytetide-new-user");
const data = join(dir, "data.bin");
const payload = seededBytes(300_000, 2020);
writeFileSync(data, payload);
await makePackage(data, ["--chunk-size", "64KiB"]);
const pkg = `${data}.bpkg`;
// 300 000 bytes in 64 KiB chunks.
const CHUNKS = 5;

// A directory package of three files, for --reuse.
const tree = join(dir, "tree");
const TREE = { "a.bin": seededBytes(300_000, 1), "sub/b.bin": seededBytes(200_000, 2), "c.bin": seededBytes(150_000, 3) };
for (const [path, bytes] of Object.entries(TREE)) {
  mkdirSync(join(tree, path, ".."), { recursive: true });
  writeFileSync(join(tree, path), bytes);
}
await makePackage(tree, ["--chunk-size", "64KiB"]);
const treePkg = `${tree}.bpkg`;

const seed = await startSeed([pkg]);
const treeSeed = await startSeed([treePkg]);
afterAll(() => Promise.all([seed.stop(), treeSeed.stop()]));

let fresh = 0;
/** A new empty directory for one test, so that what a command leaves behind can be listed. */
function scratch(label: string): string {
  const path = join(dir, `${label}-${++fresh}`);
  mkdirSync(path);
  return path;
}

const isRoot = process.getuid?.() === 0;
const get = (out: string, ...extra: string[]) => runCli(["get", pkg, "--peer", seed.address, "-o", out, "--linger", "0", ...extra]);
const specialOutput = (path: string, kind: string) =>
  `bytetide: get: ${path}: is ${kind}; get writes only regular files and directories and never replaces one, even with --force (give -o a path on a filesystem)`;

/** A TCP port held open by this process for the length of `body`, so that a bind to it fails. */
async function withBusyPort<T>(body: (address: string) => Promise<T>): Promise<T> {
  const busy = Bun.listen({ hostname: "127.0.0.1", port: 0, socket: { data() {} } });
  try {
    return await body(`127.0.0.1:${busy.port}`);
  } finally {
    busy.stop(true);
  }
}

describe("get never writes to a device or a pipe at -o, even with --force", () => {
  for (const [how, force] of [["with --force", ["--force"]], ["without --force", []]] as const) {
    test.skipIf(!isRoot)(`a character device at -o exits 6 and names it, ${how}; the node stays a device and no .part or .btstate appears (needs root, to make a device node)`, async () => {
      const at = scratch("chardev");
      const node = join(at, "nulldev");
      expect(Bun.spawnSync(["mknod", node, "c", "1", "3"]).exitCode).toBe(0);
      const r = await get(node, ...force);
      expect(expectCleanError(r, 6)).toBe(specialOutput(node, "a character device"));
      expect(lstatSync(node).isCharacterDevice()).toBe(true);
      expect(existsSync(`${node}.part`)).toBe(false);
      expect(existsSync(`${node}.btstate`)).toBe(false);
      expect(readdirSync(at)).toEqual(["nulldev"]);
    });

    test(`a named pipe at -o exits 6 and names it, ${how}; the pipe is left as it was`, async () => {
      const at = scratch("fifo");
      const fifo = join(at, "pipe");
      expect(Bun.spawnSync(["mkfifo", fifo]).exitCode).toBe(0);
      const r = await get(fifo, ...force);
      expect(expectCleanError(r, 6)).toBe(specialOutput(fifo, "a named pipe"));
      expect(lstatSync(fifo).isFIFO()).toBe(true);
      expect(readdirSync(at)).toEqual(["pipe"]);
    });
  }

  test("a named pipe where the progress file goes is refused too, naming the .btstate", async () => {
    const at = scratch("fifo-state");
    const out = join(at, "out.bin");
    expect(Bun.spawnSync(["mkfifo", `${out}.btstate`]).exitCode).toBe(0);
    const r = await get(out);
    expect(expectCleanError(r, 6)).toBe(specialOutput(`${out}.btstate`, "a named pipe"));
    expect(lstatSync(`${out}.btstate`).isFIFO()).toBe(true);
    expect(readdirSync(at)).toEqual(["out.bin.btstate"]);
  });
});

describe("-o - is not standard output", () => {
  test("get -o - exits 2, says why, and writes no file named '-'", async () => {
    const cwd = scratch("dash");
    const r = await runCli(["get", pkg, "--peer", seed.address, "-o", "-", "--linger", "0"], { cwd });
    expect(expectCleanError(r, 2)).toBe(
      "bytetide: get: -o -: cannot write to standard output (chunks arrive in any order, and only a verified whole is ever published); give a path",
    );
    expect(r.stdout).toBe("");
    expect(readdirSync(cwd)).toEqual([]);
  });
});

describe("-o makes at most the last level of its directory, as rsync does", () => {
  test("two missing levels exit 7, naming the missing directory, and neither level is made", async () => {
    const at = scratch("deep");
    const out = join(at, "a", "b", "out.bin");
    const r = await get(out);
    expect(expectCleanError(r, 7)).toBe(`bytetide: get: ${out}: cannot be written: ${join(at, "a", "b")}: no such file or directory`);
    expect(existsSync(join(at, "a"))).toBe(false);
  });

  test("one missing level is made, and the get completes into it", async () => {
    const at = scratch("shallow");
    const out = join(at, "new", "out.bin");
    const r = await get(out);
    expect(r.code, r.stderr).toBe(0);
    expect(r.stdout).toStartWith("VERIFY OK ");
    expect(statSync(join(at, "new")).isDirectory()).toBe(true);
    expect(readdirSync(join(at, "new"))).toEqual(["out.bin"]);
    expect(readFileSync(out)).toEqual(Buffer.from(payload));
  });
});

describe("--metrics is bound before anything is served, and a bad one stops the start (exit 2)", () => {
  test("serve --metrics with a bare port exits 2 by itself and asks for host:port", async () => {
    const r = await runCli(["serve", pkg, "--listen", "127.0.0.1:0", "--metrics", "9465"], { timeoutMs: 20_000 });
    expect(expectCleanError(r, 2)).toBe("bytetide: serve: --metrics 9465: expected host:port (IPv6 as [addr]:port)");
    expect(r.stdout).toBe("");
  });

  test("serve --metrics at an address in use exits 2 by itself, naming it, and never says it is serving", async () => {
    await withBusyPort(async (busy) => {
      const r = await runCli(["serve", pkg, "--listen", "127.0.0.1:0", "--metrics", busy], { timeoutMs: 20_000 });
      expect(expectCleanError(r, 2)).toBe(`bytetide: serve: --metrics ${busy}: address already in use`);
      expect(r.stdout).toBe("");
    });
  });

  test("get --metrics at an address in use exits 2 with 'get: ' said once, and leaves no .part or .btstate", async () => {
    const at = scratch("get-metrics-busy");
    const out = join(at, "new", "out.bin");
    await withBusyPort(async (busy) => {
      const r = await get(out, "--metrics", busy);
      const line = expectCleanError(r, 2);
      expect(line).toStartWith("bytetide: get: --metrics");
      expect(line).not.toContain("get: get:");
      expect(line).toBe(`bytetide: get: --metrics ${busy}: address already in use`);
    });
    expect(readdirSync(at)).toEqual([]);
  });

  test("get --metrics with a bare port exits 2 with 'get: ' said once, and leaves nothing behind", async () => {
    const at = scratch("get-metrics-bad");
    // Not even the output's directory, which the get would have made.
    const r = await get(join(at, "new", "out.bin"), "--metrics", "9465");
    expect(expectCleanError(r, 2)).toBe("bytetide: get: --metrics 9465: expected host:port (IPv6 as [addr]:port)");
    expect(readdirSync(at)).toEqual([]);
  });
});

describe("--peer needs a host and a port other than 0 (exit 2)", () => {
  test("--peer 127.0.0.1:0 exits 2 and says port 0 is no peer's port", async () => {
    const r = await runCli(["get", pkg, "--peer", "127.0.0.1:0"]);
    expect(expectCleanError(r, 2)).toBe("bytetide: get: --peer 127.0.0.1:0: port 0 is no peer's port (a serve's default is 7654)");
  });

  test("--peer :7654 exits 2 and asks for HOST[:PORT]", async () => {
    const r = await runCli(["get", pkg, "--peer", ":7654"]);
    expect(expectCleanError(r, 2)).toBe("bytetide: get: --peer :7654: expected HOST[:PORT] (IPv6 as [addr]:port)");
  });
});

describe("rates take 0 as no limit and an explicit bit suffix, and refuse the ambiguous 100mb", () => {
  test.each(["0", "100Mbit"])("get --max-download-rate %s is accepted and the get completes", async (rate) => {
    const at = scratch("rate");
    const out = join(at, "out.bin");
    const r = await get(out, "--max-download-rate", rate);
    expect(r.code, r.stderr).toBe(0);
    expect(r.stdout).toStartWith("VERIFY OK ");
    expect(readFileSync(out)).toEqual(Buffer.from(payload));
  });

  test.each([
    ["get", "max-download-rate", ["get", pkg, "--peer", seed.address]],
    ["get", "max-upload-rate", ["get", pkg, "--peer", seed.address]],
    ["serve", "max-upload-rate", ["serve", pkg, "--listen", "127.0.0.1:0"]],
  ])("%s --%s 100mb exits 2 and says the unit: bytes per second, or bits said as such", async (command, flag, argv) => {
    const r = await runCli([...argv, `--${flag}`, "100mb"], { timeoutMs: 20_000 });
    expect(expectCleanError(r, 2)).toBe(
      `bytetide: ${command}: --${flag} 100mb: expected a rate in bytes per second, such as 100M (100 MB/s), 50MiB or 800Mbit (bits); 0 for no limit`,
    );
  });

  test("serve --max-upload-rate 0 starts, serves a whole get, and exits 0 on SIGTERM", async () => {
    const unlimited = await startSeed([pkg, "--max-upload-rate", "0"]);
    const at = scratch("serve-rate-0");
    const out = join(at, "out.bin");
    const r = await runCli(["get", pkg, "--peer", unlimited.address, "-o", out, "--linger", "0"]);
    const stopped = await unlimited.stop();
    expect(r.code, r.stderr).toBe(0);
    expect(readFileSync(out)).toEqual(Buffer.from(payload));
    expect(stopped.code, stopped.stderr).toBe(0);
  });
});

describe("a stray argument is named", () => {
  test("get pkg --linger 5 minutes exits 2 and names 'minutes'", async () => {
    const r = await runCli(["get", pkg, "--linger", "5", "minutes"]);
    expect(expectCleanError(r, 2)).toBe("bytetide: get: unexpected argument 'minutes': expected one .bpkg file or bytetide:// URL (see 'bytetide get --help')");
  });
});

describe("data given where its .bpkg was meant gets a hint (exit 4)", () => {
  const lonely = join(dir, "lonely");
  mkdirSync(lonely);
  const lone = join(lonely, "weights.bin");
  writeFileSync(lone, seededBytes(100_000, 77));
  const junkPackage = join(lonely, "junk.bpkg");
  writeFileSync(junkPackage, seededBytes(100_000, 78));
  const runs = {
    get: (path: string) => runCli(["get", path, "--peer", seed.address, "-o", join(lonely, "never.bin")]),
    inspect: (path: string) => runCli(["inspect", path]),
  };

  for (const [command, run] of Object.entries(runs)) {
    test(`${command} of a data file with its .bpkg beside it exits 4, ending 'did you mean <path>.bpkg?'`, async () => {
      expect(expectCleanError(await run(data), 4)).toBe(`bytetide: ${data}: not a bytetide package (bad magic); did you mean ${data}.bpkg?`);
    });

    test(`${command} of a data file with no .bpkg beside it exits 4 and suggests 'bytetide make <path>'`, async () => {
      expect(expectCleanError(await run(lone), 4)).toBe(`bytetide: ${lone}: not a bytetide package (bad magic); to package this data, run 'bytetide make ${lone}'`);
    });

    test(`${command} of a damaged file named .bpkg exits 4 with no hint`, async () => {
      expect(expectCleanError(await run(junkPackage), 4)).toBe(`bytetide: ${junkPackage}: not a bytetide package (bad magic)`);
    });
  }

  test("no output is made for the get that was refused", () => {
    expect(readdirSync(lonely).sort()).toEqual(["junk.bpkg", "weights.bin"]);
  });
});

describe("a bare bytetide is a usage error", () => {
  test("bytetide with no arguments exits 2 with the usage on stderr and nothing on stdout", async () => {
    const r = await runCli([]);
    expect(r.code).toBe(2);
    expect(r.stdout).toBe("");
    expect(r.stderr).toContain("Usage: bytetide <command> [options]");
    const help = await runCli(["--help"]);
    expect(r.stderr).toBe(help.stdout);
  });

  test("bytetide --help still exits 0 with the usage on stdout", async () => {
    const r = await runCli(["--help"]);
    expect(r.code).toBe(0);
    expect(r.stderr).toBe("");
    expect(r.stdout).toContain("Usage: bytetide <command> [options]");
  });
});

describe("ls lists only its own exit codes and flags", () => {
  test("ls --help's exit codes mention neither --listen nor --metrics", async () => {
    const r = await runCli(["ls", "--help"]);
    expect(r.code).toBe(0);
    const exitCodes = r.stdout.slice(r.stdout.indexOf("Exit codes:"));
    expect(exitCodes).toStartWith("Exit codes:");
    expect(exitCodes).toContain("2    bad arguments: unknown flag, a bad HOST[:PORT], an unreadable --secret-file or --tls-* file");
    expect(exitCodes).not.toContain("--listen");
    expect(exitCodes).not.toContain("--metrics");
  });

  test.each(["--listen", "--metrics"])("ls %s x is an unknown flag, exit 2", async (flag) => {
    const r = await runCli(["ls", flag, "x"]);
    expect(expectCleanError(r, 2)).toBe(`bytetide: ls: unknown flag ${flag} (see 'bytetide ls --help')`);
  });
});

describe("done's rate counts only the bytes received", () => {
  test("a get --reuse that finds all but one file reports received_bytes as the sum of received_from, and reused + received as the whole", async () => {
    const old = join(dir, "old-tree");
    cpSync(tree, old, { recursive: true });
    rmSync(join(old, "sub", "b.bin"));
    const out = join(scratch("reuse"), "tree");
    const r = await runCli(["get", treePkg, "--reuse", old, "--peer", treeSeed.address, "-o", out, "--linger", "0", "--json"]);
    expect(r.code, r.stderr).toBe(0);
    const done = ndjson(r.stdout).find((e) => e.event === "done")!;
    const total = Object.values(TREE).reduce((n, bytes) => n + bytes.length, 0);
    const receivedFrom = Object.values(done.received_from as Record<string, number>).reduce((n, x) => n + x, 0);
    expect(done.bytes).toBe(total);
    expect(done.received_bytes).toBe(receivedFrom);
    expect(done.received_bytes as number).toBeLessThan(total);
    expect((done.reused_bytes as number) + (done.received_bytes as number)).toBe(total);
    // Chunks never span files, so what crossed the network is the missing file exactly.
    expect(done.received_bytes).toBe(TREE["sub/b.bin"].length);
    expect(readFileSync(join(out, "sub", "b.bin"))).toEqual(Buffer.from(TREE["sub/b.bin"]));
  });
});

describe("a start that reaches no peer leaves nothing behind (exit 8)", () => {
  const unreachable = (out: string) => runCli(["get", pkg, "--peer", "127.0.0.1:9", "--retry-for", "1s", "-o", out, "--quiet"]);
  const noPeer = new RegExp(`^bytetide: get: no peer could supply the ${CHUNKS} missing chunks \\(127\\.0\\.0\\.1:9: .+\\); no chunk verified yet, nothing to keep$`);

  test("into an existing directory: neither OUT.part nor OUT.btstate is left", async () => {
    const at = scratch("no-peer");
    const out = join(at, "out.bin");
    const r = await unreachable(out);
    expect(expectCleanError(r, 8)).toMatch(noPeer);
    expect(existsSync(`${out}.part`)).toBe(false);
    expect(existsSync(`${out}.btstate`)).toBe(false);
    expect(readdirSync(at)).toEqual([]);
  });

  test("into a directory it made for the output: that directory is removed again", async () => {
    const at = scratch("no-peer-made");
    const r = await unreachable(join(at, "new", "out.bin"));
    expect(expectCleanError(r, 8)).toMatch(noPeer);
    expect(readdirSync(at)).toEqual([]);
  });
});
