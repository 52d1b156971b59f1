/**
 * README.md as a script: every command its ```sh and ```console blocks show, and every
 * synopsis in its headings, is run here as written, with only paths moved (/data,
 * /models) and the compiled dist/bytetide standing for `bytetide`. Console samples are
 * checked line by line against what the command prints. Network commands run in a netlab
 * in 10.0.0.0/24 (inside its namespaces only) whose first host is named seed-host, so
 * both `--peer seed-host:7654` and `--peer 10.0.0.1:7654` work unchanged. A command
 * added to the README without a runner here, or a runner whose command left the README,
 * fails the first test.
 */
import { hostname } from "node:os";
import { afterAll, expect, test } from "bun:test";
import { copyFileSync, mkdirSync, readFileSync, writeFileSync } from "node:fs";
import { join } from "node:path";
import { REPO_ROOT, seededBytes, tempDir } from "../helpers/fixtures.ts";
import { containerEnv, mapPaths, shellWords, treeDigest, writeWeights } from "../helpers/deploy.ts";
import { documentedCommands, eventMismatch, headingSynopses, lineShape, sampleEvent, section, synopsisFlags } from "../helpers/docs.ts";
import { CHROMIUM_FLAGS, chromium, pageRows } from "../helpers/browser.ts";
import { BINARY, createLab, type HostProcess, type Lab, netlabAvailable, outputOf, watch } from "../helpers/netlab.ts";

const README = readFileSync(join(REPO_ROOT, "README.md"), "utf8");
const documented = documentedCommands(README);
const synopses = headingSynopses(README);

/** Commands the README shows that no test can run, and why. */
const NOT_RUN: Record<string, string> = {
  "./scripts/test.sh": "runs the whole suite, this file among it: run from a test, it would run itself",
};

const runs = new Set<string>();
/** A command exactly as README.md shows it, recorded as run by this file; its words with `bytetide` as dist/bytetide. */
function readme(command: string): string[] {
  runs.add(command);
  const words = shellWords(command);
  return words[0] === "bytetide" ? [BINARY, ...words.slice(1)] : words;
}
const synopsisRuns = new Map<string, string[][]>();
/** Concrete command lines for a heading's synopsis (paths as the README would write them), recorded as its runs. */
function instances(synopsis: string, ...commands: string[][]): string[][] {
  synopsisRuns.set(synopsis, commands);
  return commands;
}
/** What the README's console blocks show under a command. */
const samplesOf = (command: string): string[] => documented.filter((d) => d.command === command).flatMap((d) => d.output);
/** A sample line with its paths moved like the command's. */
const mapLine = (line: string, mounts: Record<string, string>): string =>
  line
    .split(/(\s+)/)
    .map((t) => mapPaths([t], mounts)[0]!)
    .join("");

// The step-by-step, its sample output, and the Usage examples.
const MAKE = readme("bytetide make /data/llama-70b");
const SERVE = readme("bytetide serve /data/llama-70b.bpkg --metrics 0.0.0.0:9464 --max-upload-rate 500M");
const GET_BY_NAME = readme("bytetide get llama-70b.bpkg --peer seed-host:7654 -o /models/llama-70b");
const GET = readme("bytetide get llama-70b.bpkg --peer 10.0.0.1:7654 -o /models/llama-70b");
const GET_JSON = readme("bytetide get llama-70b.bpkg --peer 10.0.0.1:7654 -o /models/llama-70b --json");
const SERVE_ON = readme("bytetide serve /data/llama-70b.bpkg --listen 10.0.0.1:7654");
const DEMO = readme("./scripts/demo.sh");
// Watching a rollout.
const SERVE_WATCHED = readme("bytetide serve /data/llama-70b.bpkg --secret-file /etc/bytetide/cluster.key --metrics 0.0.0.0:9464");
const GET_REPORTING = readme("bytetide get llama-70b.bpkg --peer seed-host:7654 --secret-file /etc/bytetide/cluster.key -o /models/llama-70b");
const GET_LIMITED = readme("bytetide get llama-70b.bpkg --peer seed-host:7654 --secret-file /etc/bytetide/cluster.key -o /models/llama-70b --max-download-rate 2M");
const STATUS = readme("bytetide status seed-host:7654 --secret-file /etc/bytetide/cluster.key");
const STATUS_WAIT = readme("bytetide status seed-host:7654 --secret-file /etc/bytetide/cluster.key --package <id> --watch");
// Shipping the next version.
const MAKE_V2 = readme("bytetide make /data/llama-70b-v2");
const DIFF = readme("bytetide diff /data/llama-70b.bpkg /data/llama-70b-v2.bpkg");
const SERVE_BOTH = readme("bytetide serve /data/llama-70b.bpkg /data/llama-70b-v2.bpkg");
const GET_V2 = readme("bytetide get bytetide://seed-host:7654/<v2-id> --reuse /models/llama-70b -o /models/llama-70b-v2");

// The synopses. Paths under /data are moved like the README's.
const MAKE_RUNS = instances(
  "bytetide make <file|dir> [-o out.bpkg] [--chunk-size SIZE] [--force] [--json | --quiet]",
  ["make", "/data/one.bin", "-o", "/data/out.bpkg", "--chunk-size", "4MiB"],
  ["make", "/data/one.bin", "-o", "/data/out.bpkg", "--chunk-size", "4MiB", "--force"],
  ["make", "/data/dir"],
  ["make", "/data/one.bin", "-o", "/data/json.bpkg", "--json"],
  ["make", "/data/one.bin", "-o", "/data/quiet.bpkg", "--quiet"],
);
const INSPECT_RUNS = instances("bytetide inspect <pkg.bpkg> [--json]", ["inspect", "/data/dir.bpkg"], ["inspect", "/data/dir.bpkg", "--json"]);
const VERIFY_RUNS = instances(
  "bytetide verify <pkg.bpkg> [path] [--only GLOB]... [--json | --quiet]",
  ["verify", "/data/dir.bpkg"],
  ["verify", "/data/dir.bpkg", "/data/copy"],
  ["verify", "/data/dir.bpkg", "/data/copy", "--json"],
  ["verify", "/data/dir.bpkg", "/data/copy", "--quiet"],
  ["verify", "/data/dir.bpkg", "/data/copy", "--only", "shards", "--only", "config.json"],
);
const SERVE_RUNS = instances(
  "bytetide serve <pkg.bpkg | dir>... [--data PATH] [--listen HOST:PORT] [--max-upload-rate R]",
  ["serve", "/data/pkgs", "--listen", "127.0.0.1:0", "--max-upload-rate", "100M"],
  ["serve", "/data/pkgs/one.bin.bpkg", "--data", "/data/elsewhere/one.bin", "--listen", "127.0.0.1:0"],
);
const GET_RUNS = instances("bytetide get <pkg.bpkg> --peer HOST:PORT [--peer ...] [-o PATH] [options]", [
  "get",
  "/data/pkgs/one.bin.bpkg",
  "--peer",
  "127.0.0.1:PORT_A",
  "--peer",
  "127.0.0.1:PORT_B",
  "-o",
  "/data/got/one.bin",
  "--linger",
  "0",
]);
const GET_BY_ID_RUNS = instances("bytetide get bytetide://HOST:PORT/<id> [--peer ...] [-o PATH] [options]", [
  "get",
  "bytetide://localhost:PORT_A/ID",
  "--peer",
  "127.0.0.1:PORT_B",
  "-o",
  "/data/got-by-id/one.bin",
  "--linger",
  "0",
]);
const DIFF_RUNS = instances("bytetide diff <old.bpkg> <new.bpkg> [--json]", ["diff", "/data/pkgs/one.bin.bpkg", "/data/pkgs/two.bin.bpkg"], ["diff", "/data/pkgs/one.bin.bpkg", "/data/pkgs/two.bin.bpkg", "--json"]);
const LS_RUNS = instances("bytetide ls HOST[:PORT] [--json]", ["ls", "localhost:PORT_A"], ["ls", "localhost:PORT_A", "--json"]);
const STATUS_RUNS = instances(
  "bytetide status HOST[:PORT] [--package ID] [--watch] [--json]",
  ["status", "localhost:PORT_A", "--package", "ID", "--watch"],
  ["status", "localhost:PORT_A"],
  ["status", "localhost:PORT_A", "--json"],
);
const SIMULATE_RUNS = instances(
  "bytetide simulate [--nodes N] [--seeds N] [--rate R] [--seed-rate R] [--size S] [--chunk-size S] [--rtt D] [--join-late F] [--leave F] [--random-seed K] [--shared-cores N --cpu-per-gib S] [--racks R --rack-uplink RATE [--no-zones]] [--json]",
  ["simulate", "--nodes", "30", "--seeds", "1", "--rate", "1G,100M", "--seed-rate", "10G", "--size", "64MiB", "--chunk-size", "1MiB", "--rtt", "2ms", "--join-late", "0.2", "--leave", "0.1", "--random-seed", "7", "--shared-cores", "2", "--cpu-per-gib", "15", "--json"],
  ["simulate", "--nodes", "12", "--size", "16MiB", "--racks", "3", "--rack-uplink", "2G", "--json"],
  ["simulate", "--nodes", "12", "--size", "16MiB", "--racks", "3", "--rack-uplink", "2G", "--no-zones", "--json"],
);
const SIMULATE = readme("bytetide simulate --nodes 200 --rate 1G --size 64MiB");
const VERSION_RUNS = instances("bytetide --version", ["--version"]);
const COMMANDS = [...new Set(synopses.flatMap((s) => /^bytetide ([a-z]+)\b/.exec(s)?.[1] ?? []))].filter((c) => c !== "help");
const HELP_RUNS = instances("bytetide help [command]", ["help"], ...COMMANDS.map((c) => ["help", c]));
const COMMAND_HELP_RUNS = instances("bytetide <command> --help", ...COMMANDS.map((c) => [c, "--help"]));

let lab: Lab | null = null;
afterAll(() => lab?.down());

const run = (argv: string[], options: { env?: Record<string, string>; cwd?: string } = {}) =>
  outputOf(Bun.spawn([BINARY, ...argv], { stdin: "ignore", stdout: "pipe", stderr: "pipe", timeout: 60_000, env: containerEnv(options.env), cwd: options.cwd }));

test("README.md: every command in its sh and console blocks, and every synopsis in its headings, is run by this file or says why it cannot run here", () => {
  const shown = [...new Set(documented.map((d) => d.command))];
  const missing = shown.filter((c) => !runs.has(c) && !(c in NOT_RUN));
  expect(missing, "commands in README.md that no test runs").toEqual([]);
  const stale = [...runs, ...Object.keys(NOT_RUN)].filter((c) => !shown.includes(c));
  expect(stale, "commands run here that README.md no longer shows").toEqual([]);
  expect(synopses.filter((s) => !synopsisRuns.has(s)), "synopses no test runs").toEqual([]);
  expect([...synopsisRuns.keys()].filter((s) => !synopses.includes(s)), "synopses README.md no longer shows").toEqual([]);
  for (const [synopsis, commands] of synopsisRuns) {
    const used = new Set(commands.flat());
    expect(synopsisFlags(synopsis).filter((f) => !used.has(f)), `flags of '${synopsis}' no run uses`).toEqual([]);
  }
  // Every line of a console block belongs to a command, so no sample output escapes these checks.
  for (const block of README.matchAll(/```console\n([\s\S]*?)```/g)) {
    const first = block[1]!.split("\n").find((l) => l.trim() !== "" && !l.startsWith("#"));
    expect(first, "a console block starts with a $ command").toStartWith("$ ");
  }
});

test("make <file|dir> [-o out.bpkg] [--chunk-size SIZE] [--force] [--json | --quiet]: writes the package, refuses to overwrite it without --force (exit 6), NDJSON or silence on request", async () => {
  const data = tempDir("bytetide-readme-make");
  writeFileSync(join(data, "one.bin"), seededBytes(5_000_000, 1));
  writeWeights(join(data, "dir"), 3 * 1024 * 1024, 2);
  const at = (argv: string[]) => mapPaths(argv, { "/data": data });
  const [once, force, dir, json, quiet] = MAKE_RUNS.map(at);
  const first = await run(once!);
  expect(first.code, first.stderr).toBe(0);
  expect(first.stdout).toMatch(/^root [0-9a-f]{64}$/m);
  const again = await run(once!);
  expect(again.code).toBe(6);
  expect(again.stderr).toContain("--force");
  expect((await run(force!)).code).toBe(0);
  const ofDir = await run(dir!);
  expect(ofDir.code, ofDir.stderr).toBe(0);
  expect(readFileSync(join(data, "dir.bpkg")).length).toBeGreaterThan(0);
  const events = await run(json!);
  expect(events.code, events.stderr).toBe(0);
  const parsed = events.stdout.trim().split("\n").map((l) => JSON.parse(l) as { event: string });
  expect(parsed.map((e) => e.event)).toContain("start");
  expect(parsed.at(-1)!.event).toBe("done");
  // No --chunk-size: the package's size chooses (5 MB: 256 KiB), as the README says.
  expect(parsed.at(-1)).toMatchObject({ chunk_size: 262_144, chunks: 20 });
  const silent = await run(quiet!);
  expect([silent.code, silent.stdout, silent.stderr]).toEqual([0, "", ""]);
});

test("inspect <pkg.bpkg> [--json]: a summary, and JSON with every field the README lists; verify <pkg.bpkg> [path] [--json | --quiet]: VERIFY OK, or exit 5 naming the bad chunks", async () => {
  const data = tempDir("bytetide-readme-inspect");
  writeWeights(join(data, "dir"), 9 * 1024 * 1024, 3);
  expect((await run(["make", join(data, "dir")])).code).toBe(0);
  const at = (argv: string[]) => mapPaths(argv, { "/data": data });

  const [human, json] = INSPECT_RUNS.map(at);
  const summary = await run(human!);
  expect(summary.code).toBe(0);
  expect(summary.stdout).toMatch(/[0-9a-f]{64}/);
  const described = JSON.parse((await run(json!)).stdout) as Record<string, unknown> & { files: Record<string, unknown>[]; chunk_hashes: string[]; chunk_count: number };
  // "one object holding `a`, `b`, `files` (each `x`, `y`), ...": the README's own list.
  const listed = [...section(README, "### `bytetide inspect").matchAll(/`(\w+)`(?:\s*\(each ([^)]*)\))?/g)];
  expect(listed.length).toBeGreaterThan(5);
  for (const [, key, each] of listed) {
    expect(described, `inspect --json has ${key}`).toHaveProperty(key!);
    for (const [, sub] of (each ?? "").matchAll(/`(\w+)`/g)) {
      for (const item of described[key!] as Record<string, unknown>[]) expect(item, `each of ${key} has ${sub}`).toHaveProperty(sub!);
    }
  }
  expect(described.chunk_hashes).toHaveLength(described.chunk_count);
  for (const h of described.chunk_hashes) expect(h).toMatch(/^[0-9a-f]{64}$/);

  const [beside, elsewhere, verifyJson, verifyQuiet, verifyPart] = VERIFY_RUNS.map(at);
  const ok = await run(beside!);
  expect(ok.code).toBe(0);
  expect(ok.stdout).toBe(`VERIFY OK ${described.merkle_root}\n`);
  Bun.spawnSync(["cp", "-a", join(data, "dir"), join(data, "copy")]);
  expect((await run(elsewhere!)).stdout).toBe(`VERIFY OK ${described.merkle_root}\n`);
  const bad = join(data, "copy", "model.bin");
  const bytes = readFileSync(bad);
  bytes[100] = bytes[100]! ^ 0xff;
  writeFileSync(bad, bytes);
  // --only: the part that is intact is vouched for as a part, never as the whole.
  const part = await run(verifyPart!);
  expect(part.code, part.stderr).toBe(0);
  expect(part.stdout).toBe(`VERIFY PARTIAL ${described.merkle_root} (only 3 of 4 files, --only)\n`);
  const corrupt = await run(elsewhere!);
  expect(corrupt.code).toBe(5);
  expect(`${corrupt.stdout}${corrupt.stderr}`).toMatch(/bad/);
  // --json: one `result` event with the fields the README lists, then `error`; --quiet: only the error.
  const verifySection = section(README, "### `bytetide verify");
  const resultFields = [.../one `result` event\s+\(([^)]*)\)/.exec(verifySection)![1]!.matchAll(/`(\w+)`/g)].map((m) => m[1]!);
  expect(resultFields.length).toBeGreaterThan(3);
  const report = await run(verifyJson!);
  expect(report.code).toBe(5);
  const events = report.stdout.trim().split("\n").map((l) => JSON.parse(l) as Record<string, unknown>);
  expect(events.map((e) => e.event)).toEqual(["result", "error"]);
  for (const field of resultFields) expect(events[0], `result has ${field}`).toHaveProperty(field);
  expect(events[0]!.ok).toBe(false);
  const quietly = await run(verifyQuiet!);
  expect(quietly.code).toBe(5);
  expect(quietly.stdout).toBe("");
  expect(quietly.stderr.trim().split("\n")).toHaveLength(1);
});

test("--version names the hasher (BYTETIDE_HASHER=js forces the fallback); help, help <command> and <command> --help cover every command and every flag the README mentions", async () => {
  const version = await run(VERSION_RUNS[0]!);
  expect(version.stdout).toMatch(/^bytetide \S+ \(hasher: (native|js)\b/);
  expect((await run(VERSION_RUNS[0]!, { env: { BYTETIDE_HASHER: "js" } })).stdout).toMatch(/hasher: js\b/);

  const [overview, ...perCommand] = await Promise.all(HELP_RUNS.map((argv) => run(argv)));
  expect(overview!.code).toBe(0);
  const listed = [...overview!.stdout.matchAll(/^ {2}([a-z]+) {2,}/gm)].map((m) => m[1]!).filter((c) => c !== "help");
  expect(listed.sort(), "the commands `bytetide help` lists are the ones the README documents").toEqual([...COMMANDS].sort());
  const viaFlag = await Promise.all(COMMAND_HELP_RUNS.map((argv) => run(argv)));
  for (const [i, command] of COMMANDS.entries()) {
    expect(perCommand[i]!.code).toBe(0);
    expect(perCommand[i]!.stdout).toStartWith(`Usage: bytetide ${command}`);
    expect(viaFlag[i]!.stdout).toBe(perCommand[i]!.stdout);
  }
  const helpText = [overview!, ...perCommand].map((r) => r.stdout).join("\n");
  // bytetide's flags, that is, not cargo's and bun's in "Building without the scripts".
  const aboutBytetide = README.replace(section(README, "## Building without the scripts"), "");
  const flags = [...new Set(aboutBytetide.match(/(?<![\w-])--[a-z][a-z-]*[a-z]/g) ?? [])];
  expect(flags.filter((f) => !helpText.includes(f)), "flags the README mentions that no --help shows").toEqual([]);
});

test("serve <pkg.bpkg | dir>... [--data PATH] [--listen HOST:PORT] [--max-upload-rate R], get <pkg.bpkg> --peer HOST:PORT [--peer ...] [-o PATH], get by id and ls: on loopback", async () => {
  const data = tempDir("bytetide-readme-serve");
  const at = (argv: string[]) => mapPaths(argv, { "/data": data });
  mkdirSync(join(data, "pkgs"));
  mkdirSync(join(data, "elsewhere"));
  writeFileSync(join(data, "pkgs", "one.bin"), seededBytes(3_000_000, 4));
  writeFileSync(join(data, "pkgs", "two.bin"), seededBytes(1_000_000, 5));
  for (const name of ["one.bin", "two.bin"]) expect((await run(["make", join(data, "pkgs", name), "--chunk-size", "256KiB"])).code).toBe(0);
  copyFileSync(join(data, "pkgs", "one.bin"), join(data, "elsewhere", "one.bin"));

  const spawn = (argv: string[]) =>
    watch(Bun.spawn([BINARY, ...argv], { stdin: "ignore", stdout: "pipe", stderr: "pipe", timeout: 60_000, env: containerEnv() }) as HostProcess, argv.join(" "));
  const seeds = SERVE_RUNS.map((argv) => spawn(at(argv)));
  let ends: { code: number; stderr: string }[];
  try {
    const [ofDir, withData] = seeds;
    const portA = (await ofDir!.waitFor(/^serving 2 packages on 127\.0\.0\.1:(\d+)$/m))[1]!;
    const portB = (await withData!.waitFor(/^serving 1 package on 127\.0\.0\.1:(\d+)$/m))[1]!;
    const argv = at(GET_RUNS[0]!).map((a) => a.replace("PORT_A", portA).replace("PORT_B", portB));
    const got = await run(argv);
    expect(got.code, got.stderr).toBe(0);
    expect(got.stdout).toStartWith("VERIFY OK");
    expect(readFileSync(join(data, "got", "one.bin"))).toEqual(readFileSync(join(data, "pkgs", "one.bin")));

    // By id (as inspect gives it), a name for the first serve, the second as another peer.
    const ids = await Promise.all(["one.bin", "two.bin"].map(async (name) => JSON.parse((await run(["inspect", join(data, "pkgs", `${name}.bpkg`), "--json"])).stdout).id as string));
    const withPorts = (a: string) => a.replace("PORT_A", portA).replace("PORT_B", portB).replace("ID", ids[0]!);
    const byId = await run(at(GET_BY_ID_RUNS[0]!).map(withPorts));
    expect(byId.code, byId.stderr).toBe(0);
    expect(readFileSync(join(data, "got-by-id", "one.bin"))).toEqual(readFileSync(join(data, "pkgs", "one.bin")));
    const [changes, changesJson] = await Promise.all(DIFF_RUNS.map((argv) => run(at(argv))));
    expect(changes.stdout).toMatch(/^to fetch +977 KiB \(1000000 bytes\)$/m);
    expect(JSON.parse(changesJson.stdout)).toMatchObject({ old: { id: ids[0] }, new: { id: ids[1] }, bytes_to_fetch: 1_000_000, chunks_shared: 0 });
    const [text, json] = await Promise.all(LS_RUNS.map((argv) => run(argv.map(withPorts))));
    expect(text.stdout).toMatch(new RegExp(`^${ids[0]}\\s+2\\.86 MiB\\s+one\\.bin\\n${ids[1]}\\s+977 KiB\\s+two\\.bin\\n$`));
    expect(JSON.parse(json.stdout).packages).toEqual([
      { id: ids[0], name: "one.bin", size: 3_000_000 },
      { id: ids[1], name: "two.bin", size: 1_000_000 },
    ]);
    // Both gets reported to the first serve under this host's name: one node, done.
    const waited = await run(STATUS_RUNS[0]!.map(withPorts));
    expect(waited.code, waited.stderr).toBe(0);
    expect(waited.stdout).toStartWith(`package ${ids[0]}  ·  1 node: 1 done  ·  100.0% of 2.86 MiB`);
    const [table, rollout] = await Promise.all(STATUS_RUNS.slice(1).map((argv) => run(argv.map(withPorts))));
    expect(table.code).toBe(0);
    expect(table.stdout).toMatch(new RegExp(`^${hostname().replace(/[.]/g, "\\.")} +- +done +100\\.0%`, "m"));
    expect(JSON.parse(rollout.stdout).packages).toMatchObject([{ package: ids[0], nodes: 1, byState: { done: 1 }, bytesRemaining: 0 }]);
  } finally {
    ends = await Promise.all(seeds.map((s) => s.stop("SIGTERM")));
  }
  for (const e of ends) expect(e.code, e.stderr).toBe(0);
});

test.skipIf(!netlabAvailable)(
  "the step-by-step and its sample output, as written, on a seed-host and 4 nodes in 10.0.0.0/24: make, serve with --metrics, get by name and by address, --json, serve --listen 10.0.0.1:7654, then the next version: make, diff, serve both, get by id with --reuse (needs root and iproute2)",
  async () => {
    const dir = tempDir("bytetide-readme");
    const data = join(dir, "seed-host", "data");
    // 16 MiB at 40 Mbit/s takes over 3 s, so the 2-second progress line and the JSON progress events show.
    writeWeights(join(data, "llama-70b"), 16 * 1024 * 1024, 61);
    lab = createLab("btlr", 5, 40, ["seed-host", "node1", "node2", "node3", "node4"], "10.0.0");
    const l = lab;
    const seedMounts = { "/data": data };
    const node = (n: number, sub = "models") => {
      const home = join(dir, `node${n}`);
      mkdirSync(join(home, sub), { recursive: true });
      return { home, mounts: { "/models": join(home, sub) } };
    };
    const inHost = (host: number, argv: string[], mounts: Record<string, string>, cwd = "/") =>
      l.exec(host, mapPaths(argv, mounts), 120_000, { env: containerEnv(), cwd });

    // 1. On the machine that has the data: package it and seed it.
    const made = await outputOf(inHost(0, MAKE, seedMounts));
    expect(made.code, made.stderr).toBe(0);
    for (const sample of samplesOf("bytetide make /data/llama-70b")) expect(made.stdout).toMatch(lineShape(mapLine(sample, seedMounts)));
    const root = /^root ([0-9a-f]{64})$/m.exec(made.stdout)![1]!;
    const id = /^id +([0-9a-f]{64})$/m.exec(made.stdout)![1]!;
    const seed = watch(inHost(0, SERVE, seedMounts), "serve --metrics");
    let seedEnd: { code: number; stderr: string };
    try {
      await seed.waitFor(/^serving 1 package on 0\.0\.0\.0:7654$/m, 20_000);
      // Prometheus metrics at --metrics HOST:PORT/metrics, /healthz for probes: from another host, by name.
      const health = await outputOf(l.exec(1, ["curl", "-sS", "--max-time", "5", "http://seed-host:9464/healthz"], 10_000));
      expect(health.stdout, health.stderr).toBe("ok\n");
      const metrics = await outputOf(l.exec(1, ["curl", "-sS", "--max-time", "5", "http://seed-host:9464/metrics"], 10_000));
      // Labelled by the id make printed, as ls and serve show it.
      expect(metrics.stdout).toContain(`package="${id}"`);

      // 2. Copy the small .bpkg to every node, then on each node: get (by name on two, the samples on the others).
      const nodes = [1, 2, 3, 4].map((n) => node(n));
      for (const n of nodes) copyFileSync(join(data, "llama-70b.bpkg"), join(n.home, "llama-70b.bpkg"));
      const gets = [GET_BY_NAME, GET_BY_NAME, GET, GET_JSON].map((argv, i) => outputOf(inHost(i + 1, argv, nodes[i]!.mounts, nodes[i]!.home)));
      const results = await Promise.all(gets);
      const expected = treeDigest(join(data, "llama-70b"));
      for (const [i, r] of results.entries()) {
        expect(r.code, `node${i + 1}:\n${r.stdout}${r.stderr}`).toBe(0);
        expect(treeDigest(join(nodes[i]!.mounts["/models"], "llama-70b")), `node${i + 1}`).toBe(expected);
      }
      for (const r of results.slice(0, 3)) expect(r.stdout).toContain(`VERIFY OK ${root}\n`);

      // The sample output, off a terminal: every line it shows has a counterpart.
      const text = results[2]!;
      const sampleCommand = "bytetide get llama-70b.bpkg --peer 10.0.0.1:7654 -o /models/llama-70b";
      for (const sample of samplesOf(sampleCommand).filter((s) => s !== "...")) {
        expect(`${text.stderr}${text.stdout}`, `a line like: ${sample}`).toMatch(lineShape(mapLine(sample, nodes[2]!.mounts)));
      }
      expect(text.stderr).toContain(" get peer-connected peer=10.0.0.1:7654 direction=out");

      // And with --json: NDJSON events with every field the sample shows, of the same types.
      const events = results[3]!.stdout
        .trim()
        .split("\n")
        .map((line) => JSON.parse(line) as Record<string, unknown>);
      for (const sample of samplesOf("bytetide get llama-70b.bpkg --peer 10.0.0.1:7654 -o /models/llama-70b --json")) {
        expect(eventMismatch(sampleEvent(sample), events), sample).toBeNull();
      }
      expect(events.find((e) => e.event === "done")?.root).toBe(root);
    } finally {
      seedEnd = await seed.stop("SIGTERM");
    }
    expect(seedEnd.code, seedEnd.stderr).toBe(0);

    // serve --listen 10.0.0.1:7654, and the provisioning script's get against it.
    const listening = watch(inHost(0, SERVE_ON, seedMounts), "serve --listen");
    let end: { code: number; stderr: string };
    try {
      for (const sample of samplesOf("bytetide serve /data/llama-70b.bpkg --listen 10.0.0.1:7654")) {
        await listening.waitFor(lineShape(mapLine(sample, seedMounts)), 20_000);
      }
      const again = node(1, "models-again");
      const r = await outputOf(inHost(1, GET, again.mounts, again.home));
      expect(r.code, r.stderr).toBe(0);
      for (const sample of samplesOf("bytetide get llama-70b.bpkg --peer 10.0.0.1:7654 -o /models/llama-70b").filter((s) => s.startsWith("VERIFY"))) {
        expect(r.stdout).toMatch(lineShape(sample));
      }
    } finally {
      end = await listening.stop("SIGTERM");
    }
    // Ctrl-C or SIGTERM says goodbye to every peer and exits 0.
    expect(end.code, end.stderr).toBe(0);

    // Shipping the next version: model.bin rewritten in one place, a file added.
    const v2 = join(data, "llama-70b-v2");
    Bun.spawnSync(["cp", "-a", join(data, "llama-70b"), v2]);
    const model = readFileSync(join(v2, "model.bin"));
    model.set(seededBytes(100_000, 99), 1_000_000);
    writeFileSync(join(v2, "model.bin"), model);
    writeFileSync(join(v2, "shards", "part-2.bin"), seededBytes(300_000, 98));
    const madeV2 = await outputOf(inHost(0, MAKE_V2, seedMounts));
    expect(madeV2.code, madeV2.stderr).toBe(0);
    const v2Id = /^id +([0-9a-f]{64})$/m.exec(madeV2.stdout)![1]!;
    const changes = await outputOf(inHost(0, DIFF, seedMounts));
    expect(changes.stdout).toMatch(/^  A llama-70b-v2\/shards\/part-2\.bin$/m);
    expect(changes.stdout).toMatch(/^  M llama-70b-v2\/model\.bin$/m);
    const both = watch(inHost(0, SERVE_BOTH, seedMounts), "serve both versions");
    let bothEnd: { code: number; stderr: string };
    try {
      await both.waitFor(/^serving 2 packages on 0\.0\.0\.0:7654$/m, 20_000);
      const updates = await Promise.all(
        [1, 2].map((n) => {
          const at = { "/models": join(dir, `node${n}`, "models") };
          return outputOf(inHost(n, GET_V2.map((w) => w.replace("<v2-id>", v2Id)), at, join(dir, `node${n}`)));
        }),
      );
      for (const [i, r] of updates.entries()) {
        expect(r.code, r.stderr).toBe(0);
        expect(treeDigest(join(dir, `node${i + 1}`, "models", "llama-70b-v2"))).toBe(treeDigest(v2));
        const reused = Number(/ get reused chunks=\d+ bytes=(\d+)/.exec(r.stderr)![1]);
        const received = [...r.stderr.matchAll(/ get received peer=\S+ bytes=(\d+)/g)].reduce((n, m) => n + Number(m[1]), 0);
        // Of 16 MiB and 300 kB added, only the changed chunks and the new file crossed the network.
        expect(reused).toBeGreaterThan(15 * 1024 * 1024);
        expect(received).toBeLessThan(2 * 1024 * 1024);
      }
    } finally {
      bothEnd = await both.stop("SIGTERM");
    }
    expect(bothEnd.code, bothEnd.stderr).toBe(0);
  },
  240_000,
);

test.skipIf(!netlabAvailable)(
  "watching a rollout, as written, on a seed-host and 5 nodes with host names of their own: two done, one rate-limited still downloading, one killed with -9 shown lost, one with the wrong secret never shown; status, status --watch and the page agree (needs root and iproute2)",
  async () => {
    const dir = tempDir("bytetide-readme-rollout");
    const data = join(dir, "seed-host", "data");
    // 64 MiB at 40 Mbit/s takes 14 s at least, so node4 is killed while still downloading;
    // at 2 MB/s, 34 s, so node3 is still downloading while status and the page are read.
    writeWeights(join(data, "llama-70b"), 64 * 1024 * 1024, 62);
    const keys = join(dir, "keys");
    const wrongKeys = join(dir, "wrong-keys");
    mkdirSync(keys);
    mkdirSync(wrongKeys);
    writeFileSync(join(keys, "cluster.key"), "the cluster secret of the README walkthrough\n");
    writeFileSync(join(wrongKeys, "cluster.key"), "a secret of another cluster, as long as it\n");
    const names = ["seed-host", "node1", "node2", "node3", "node4", "node5"];
    lab = createLab("btlr", names.length, 40, names, "10.0.0");
    const l = lab;
    const seedMounts = { "/data": data, "/etc/bytetide": keys };
    const made = await outputOf(l.exec(0, mapPaths(MAKE, seedMounts), 60_000, { env: containerEnv() }));
    expect(made.code, made.stderr).toBe(0);
    const id = /^id +([0-9a-f]{64})$/m.exec(made.stdout)![1]!;
    const homeOf = (n: number) => join(dir, names[n]!);
    for (const n of [1, 2, 3, 4, 5]) {
      mkdirSync(join(homeOf(n), "models"), { recursive: true });
      copyFileSync(join(data, "llama-70b.bpkg"), join(homeOf(n), "llama-70b.bpkg"));
    }
    /** On node n, as its own host: its host name is its name (a get reports by it), its /etc/bytetide holds its key. */
    const onNode = (n: number, argv: string[], timeoutMs = 120_000) => {
      const mounts = { "/models": join(homeOf(n), "models"), "/etc/bytetide": n === 5 ? wrongKeys : keys };
      return l.exec(n, ["unshare", "--uts", "sh", "-c", 'hostname "$0" && exec "$@"', names[n]!, ...mapPaths(argv, mounts)], timeoutMs, { env: containerEnv(), cwd: homeOf(n) });
    };
    const rollout = async () => {
      const r = await outputOf(onNode(1, [...STATUS, "--json"], 20_000));
      return (JSON.parse(r.stdout) as { packages: { rows: { name: string; state: string; verifiedBytes: number }[] }[] }).packages[0]?.rows ?? [];
    };
    const rowOf = async (name: string) => (await rollout()).find((row) => row.name === name);
    const until = async (what: string, holds: () => Promise<boolean>, withinMs: number) => {
      const deadline = Date.now() + withinMs;
      while (!(await holds())) {
        if (Date.now() > deadline) throw new Error(`waited ${withinMs / 1000} s for ${what}; the seed shows ${JSON.stringify(await rollout())}`);
        await Bun.sleep(250);
      }
    };

    // 1. The seed, with the secret and the page.
    const seed = watch(l.exec(0, mapPaths(SERVE_WATCHED, seedMounts), 240_000, { env: containerEnv() }), "serve --secret-file --metrics");
    let seedEnd: { code: number; stderr: string };
    let limited: HostProcess | null = null;
    try {
      await seed.waitFor(/^serving 1 package on 0\.0\.0\.0:7654$/m, 20_000);
      // 2. Two nodes get it whole.
      const done = await Promise.all([1, 2].map((n) => outputOf(onNode(n, GET_REPORTING))));
      for (const r of done) expect(r.code, r.stderr).toBe(0);
      // node4 is killed with -9 once the seed has heard from it, mid-way.
      const killed = onNode(4, GET_REPORTING);
      await until("node4 to report bytes verified", async () => ((await rowOf("node4"))?.verifiedBytes ?? 0) > 0, 30_000);
      killed.kill("SIGKILL");
      await killed.exited;
      expect((await rowOf("node4"))?.state).not.toBe("done");
      // node5's secret is another cluster's: refused at AUTH, exit 8, and never reported.
      const intruder = await outputOf(onNode(5, GET_REPORTING));
      expect(intruder.code, intruder.stderr).toBe(8);
      expect(intruder.stderr).toContain("seed-host:7654");
      await until("node4 to be shown lost", async () => (await rowOf("node4"))?.state === "lost", 60_000);
      // node3 leaves its network to its jobs.
      limited = onNode(3, GET_LIMITED);
      await until("node3 to be downloading", async () => ((await rowOf("node3"))?.verifiedBytes ?? 0) > 0, 30_000);

      // 3. The rollout, problems first: exit 10, a node is lost.
      const status = await outputOf(onNode(1, STATUS, 20_000));
      expect(status.code, status.stderr).toBe(10);
      for (const sample of samplesOf("bytetide status seed-host:7654 --secret-file /etc/bytetide/cluster.key")) expect(status.stdout).toMatch(lineShape(sample));
      expect(status.stdout).not.toContain("node5");
      expect(status.stdout.split("\n").filter((line) => /^node\d/.test(line)).map((line) => line.split(/\s+/)[0])).toEqual(["node4", "node3", "node1", "node2"]);
      // A script waiting on the rollout learns at once that it will not end well.
      const waited = await outputOf(onNode(2, STATUS_WAIT.map((w) => w.replace("<id>", id)), 20_000));
      expect(waited.code, waited.stderr).toBe(10);
      // The page and its JSON, from a node, by the seed's name.
      const page = await outputOf(l.exec(1, ["curl", "-sS", "--max-time", "5", "http://seed-host:9464/"], 10_000));
      expect(page.stdout).toContain("<title>");
      const swarm = await outputOf(l.exec(1, ["curl", "-sS", "--max-time", "5", "http://seed-host:9464/api/swarm"], 10_000));
      const shown = (JSON.parse(swarm.stdout) as { packages: { package: string; rows: { name: string; state: string }[] }[] }).packages;
      expect(shown.map((p) => p.package)).toEqual([id]);
      expect(Object.fromEntries(shown[0]!.rows.map((r) => [r.name, r.state]))).toEqual({ node1: "done", node2: "done", node3: "downloading", node4: "lost" });
      if (chromium) {
        // The page itself, as a browser on a node renders it: the same rows, problems first.
        const dom = await outputOf(l.exec(1, [chromium, ...CHROMIUM_FLAGS, "--dump-dom", "http://seed-host:9464/"], 60_000));
        expect(pageRows(dom.stdout)).toEqual([["node4", "lost"], ["node3", "downloading"], ["node1", "done"], ["node2", "done"]]);
      }

      // The rate-limited node finishes; the lost one stays lost.
      const slow = await outputOf(limited);
      expect(slow.code, slow.stderr).toBe(0);
      expect(treeDigest(join(homeOf(3), "models", "llama-70b"))).toBe(treeDigest(join(data, "llama-70b")));
      const after = await outputOf(onNode(1, STATUS_WAIT.map((w) => w.replace("<id>", id)), 20_000));
      expect(after.code).toBe(10);
      expect(Object.fromEntries((await rollout()).map((r) => [r.name, r.state]))).toEqual({ node1: "done", node2: "done", node3: "done", node4: "lost" });
    } finally {
      limited?.kill("SIGKILL");
      seedEnd = await seed.stop("SIGTERM");
    }
    expect(seedEnd.code, seedEnd.stderr).toBe(0);
  },
  240_000,
);

test.skipIf(!netlabAvailable)(
  "./scripts/demo.sh as written, in a host with no network but its own loopback: a seed and the peers its comment promises all end in VERIFY OK (needs root and iproute2)",
  async () => {
    const promised = Number(/a seed and (\d+) peers/.exec(documented.find((d) => d.command === "./scripts/demo.sh")!.comment)?.[1]);
    expect(promised).toBeGreaterThan(0);
    lab = createLab("btlr", 1, 1000);
    const r = await outputOf(lab.exec(0, DEMO, 180_000, { cwd: REPO_ROOT, env: containerEnv() }));
    expect(r.code, `${r.stdout}${r.stderr}`).toBe(0);
    expect(r.stdout.match(/^peer-\d+: VERIFY OK [0-9a-f]{64}$/gm)).toHaveLength(promised);
  },
  200_000,
);

test("simulate: the README's 200-node swarm prints what the README shows, every node completes, and its ratio to the bound holds", async () => {
  const r = await run(SIMULATE.slice(1));
  expect(r.code, r.stderr).toBe(0);
  for (const sample of samplesOf("bytetide simulate --nodes 200 --rate 1G --size 64MiB")) expect(r.stdout).toMatch(lineShape(sample));
  expect(r.stdout).toContain("completed 200, left mid-way 0, failed 0, unfinished 0");
  const ratios = /over the bound: p50 ([\d.]+)x, p99 ([\d.]+)x, slowest ([\d.]+)x/.exec(r.stdout)!.slice(1).map(Number);
  // The run is deterministic (--random-seed 1). No swarm beats the bound; this one's p99
  // was 2.12x (from each node's start, against the payload-rate bound) when the rules or
  // the model last changed: a change that makes it worse fails here.
  expect(ratios[0]!).toBeGreaterThanOrEqual(1);
  expect(ratios[1]!).toBeLessThanOrEqual(2.15);
});

test("simulate --racks R --rack-uplink RATE [--no-zones] --json: racks as zones, or the same racks without; cross_rack_copies in each", async () => {
  const [zoned, blind] = await Promise.all([run(SIMULATE_RUNS[1]!), run(SIMULATE_RUNS[2]!)]);
  for (const r of [zoned, blind]) expect(r.code, r.stderr).toBe(0);
  const [z, b] = [zoned, blind].map((r) => JSON.parse(r.stdout.trim()));
  expect(z.racks).toEqual({ count: 3, uplink_bits_per_second: 2e9, zones: true });
  expect(b.racks).toEqual({ count: 3, uplink_bits_per_second: 2e9, zones: false });
  expect(z.completed).toBe(12);
  expect(b.completed).toBe(12);
  expect(z.cross_rack_copies).toBeGreaterThanOrEqual(1);
  expect(z.cross_rack_copies).toBeLessThan(b.cross_rack_copies);
  const stray = await run(["simulate", "--no-zones"]);
  expect(stray.code).toBe(2);
  expect(stray.stderr.trim()).toBe("bytetide: simulate: --no-zones goes with --racks");
});

test("simulate --nodes N --rate R ... --json: a mix of rates, late joiners and leavers; one result event with every field", async () => {
  const r = await run(SIMULATE_RUNS[0]!);
  expect(r.code, r.stderr).toBe(0);
  const result = JSON.parse(r.stdout.trim());
  expect(result.event).toBe("result");
  expect(result).toMatchObject({ nodes: 30, seeds: 1, rate_bits_per_second: [1e9, 1e8], seed_rate_bits_per_second: 1e10, chunk_size: 1024 * 1024, rtt_ms: 2, left_mid_way: 3, failed: 0, unfinished: 0 });
  expect(result.completed).toBe(27);
  for (const field of ["completion_seconds", "bound_seconds", "p50_over_bound", "p99_over_bound", "slowest_over_bound", "line_rate", "seed_upload_copies", "simulated_seconds", "wall_seconds", "events", "events_per_second", "log_events"]) {
    expect(result).toHaveProperty(field);
  }
  // The slowest downlink (100 Mbit/s) sets the bound.
  expect(result.bound_seconds).toBeCloseTo((64 * 1024 * 1024) / ((100e6 / 8) * (1448 / 1538)), 2);
  expect(result.line_rate.bound_seconds).toBeCloseTo((64 * 1024 * 1024) / (100e6 / 8), 2);
  const bad = await run(["simulate", "--nodes", "10", "--rate", "100Mb/s"]);
  expect(bad.code).toBe(2);
  expect(bad.stderr.trim()).toBe("bytetide: simulate: --rate 100Mb/s: expected a rate in bits per second, as written on a NIC, such as 100M (100 Mbit/s), 10Gbit or 1.25GB (bytes)");
  const half = await run(["simulate", "--nodes", "10", "--shared-cores", "2"]);
  expect(half.code).toBe(2);
  expect(half.stderr.trim()).toBe("bytetide: simulate: --shared-cores and --cpu-per-gib go together");
  const cost = await run(["simulate", "--nodes", "10", "--shared-cores", "2", "--cpu-per-gib", "0"]);
  expect(cost.code).toBe(2);
  expect(cost.stderr.trim()).toBe("bytetide: simulate: --cpu-per-gib 0: expected CPU seconds, such as 6.5");
  // One machine's CPU slows the swarm where the network alone would not.
  const [alone, shared] = await Promise.all(
    [[], ["--shared-cores", "2", "--cpu-per-gib", "20"]].map(async (extra) => {
      const r = await run(["simulate", "--nodes", "8", "--rate", "200M", "--size", "64MiB", ...extra, "--json"]);
      return JSON.parse(r.stdout.trim().split("\n").at(-1)!).slowest_over_bound as number;
    }),
  );
  expect(shared!).toBeGreaterThan(alone!);
});
