import { afterAll, describe, expect, test } from "bun:test";
import { writeFileSync } from "node:fs";
import { join } from "node:path";
import type { PackageRollout } from "../../src/ops/rollout.ts";
import { makePackage, runCli } from "../helpers/cli.ts";
import { seededBytes, tempDir } from "../helpers/fixtures.ts";
import { spawnCli } from "../helpers/peers.ts";

const dir = tempDir("bytetide-rollout");
const SIZE = 4_000_000;
writeFileSync(join(dir, "weights.bin"), seededBytes(SIZE, 23));
const made = await makePackage(join(dir, "weights.bin"), ["--chunk-size", "256KiB"]);
const id = /^id +([0-9a-f]{64})$/m.exec(made.stdout)![1]!;
const pkg = join(dir, "weights.bin.bpkg");
writeFileSync(join(dir, "secret"), "a rollout secret of some length\n");
writeFileSync(join(dir, "wrong"), "not the secret, though as long\n");

const seed = spawnCli(["serve", pkg, "--listen", "127.0.0.1:0", "--metrics", "127.0.0.1:0", "--secret-file", join(dir, "secret")]);
const port = (await seed.waitFor(/ on 127\.0\.0\.1:(\d+)\n/))[1];
const metricsUrl = (await seed.waitFor(/metrics on (http:\S+)/))[1]!;
const swarmUrl = metricsUrl.replace("/metrics", "/api/swarm");
afterAll(async () => {
  seed.proc.kill("SIGTERM");
  await seed.done;
});

const getArgs = (name: string, ...more: string[]) => ["get", pkg, "--peer", `127.0.0.1:${port}`, "-o", join(dir, `${name}.bin`), "--name", name, "--secret-file", join(dir, "secret"), ...more];

async function rollout(url = swarmUrl): Promise<PackageRollout | undefined> {
  const { packages } = (await (await fetch(url)).json()) as { packages: PackageRollout[] };
  return packages.find((p) => p.package === id);
}

/** Polls a seed's /api/swarm until `until` holds of the package's rollout (at most 30 s). */
async function rolloutWhen(until: (r: PackageRollout) => boolean, url = swarmUrl): Promise<PackageRollout> {
  const deadline = Date.now() + 30_000;
  for (;;) {
    const r = await rollout(url);
    if (r && until(r)) return r;
    if (Date.now() > deadline) throw new Error(`the seed's rollout never got there: ${JSON.stringify(r)}`);
    await Bun.sleep(200);
  }
}

const row = (r: PackageRollout, name: string) => r.rows.find((n) => n.name === name);

test("a get reports itself to its seed: its last word is done, all bytes verified, and the seed's page and gauges count it", async () => {
  const r = await runCli(getArgs("node-a", "--linger", "0", "--zone", "rack-1"));
  expect(r.stdout).toStartWith("VERIFY OK");
  const seen = await rolloutWhen((p) => row(p, "node-a")?.state === "done");
  expect(row(seen, "node-a")).toMatchObject({ zone: "rack-1", verifiedBytes: SIZE, totalBytes: SIZE, errorCode: "", reportedState: "done" });
  expect(row(seen, "node-a")!.version).toMatch(/^\d+\.\d+\.\d+/);
  const metrics = await (await fetch(metricsUrl)).text();
  expect(metrics).toContain(`bytetide_swarm_nodes{package="${id}",state="done"} 1\n`);
  expect(metrics).toContain(`bytetide_swarm_bytes_remaining{package="${id}"} 0\n`);
  // No label names a node.
  expect(metrics).not.toContain("node-a");
});

test("a slow get is seen downloading with its rate and peers; stopped with Ctrl-C, its last report says stopping", async () => {
  const slow = spawnCli(getArgs("node-slow", "--max-download-rate", "400K"));
  try {
    const moving = await rolloutWhen((p) => (row(p, "node-slow")?.rateBytesPerSecond ?? 0) > 0);
    const n = row(moving, "node-slow")!;
    expect(n.state).toBe("downloading");
    expect(n.peers).toBe(1);
    expect(n.verifiedBytes).toBeLessThan(SIZE);
    expect(moving.bytesRemaining).toBeGreaterThan(0);
    expect(moving.etaSeconds).toBeGreaterThan(0);
    expect(moving.slowest).toContain("node-slow");
    slow.proc.kill("SIGINT");
    expect((await slow.done).code).toBe(130);
    await rolloutWhen((p) => row(p, "node-slow")?.state === "stopping");
  } finally {
    slow.proc.kill("SIGKILL");
  }
});

test("a get with the wrong secret is refused before it can report: the seed never shows it", async () => {
  const r = await runCli(["get", pkg, "--peer", `127.0.0.1:${port}`, "-o", join(dir, "intruder.bin"), "--name", "intruder", "--secret-file", join(dir, "wrong"), "--retry-for", "1s", "--linger", "0"]);
  expect(r.code).not.toBe(0);
  const now = await rollout();
  expect(now?.rows.map((n) => n.name)).not.toContain("intruder");
});

test("--name must be printable text of at most 255 bytes: exit 2, naming the flag", async () => {
  const r = await runCli(["get", pkg, "--peer", `127.0.0.1:${port}`, "--name", "x".repeat(256)]);
  expect(r.code).toBe(2);
  expect(r.stderr).toContain("get: --name");
});

test("a get that fails tells the seed why before it goes: failed, with its error's code and message", async () => {
  const damaged = seededBytes(SIZE, 23);
  damaged[3 * 256 * 1024 + 5]! ^= 0xff;
  writeFileSync(join(dir, "damaged.bin"), damaged);
  const bad = spawnCli(["serve", pkg, "--data", join(dir, "damaged.bin"), "--listen", "127.0.0.1:0", "--metrics", "127.0.0.1:0", "--secret-file", join(dir, "secret")]);
  try {
    const badPort = (await bad.waitFor(/ on 127\.0\.0\.1:(\d+)\n/))[1];
    const badSwarm = (await bad.waitFor(/metrics on (http:\S+)/))[1]!.replace("/metrics", "/api/swarm");
    const r = await runCli(["get", pkg, "--peer", `127.0.0.1:${badPort}`, "-o", join(dir, "node-f.bin"), "--name", "node-f", "--secret-file", join(dir, "secret"), "--retry-for", "1s", "--linger", "0"]);
    expect(r.code).toBe(8);
    const seen = await rolloutWhen((p) => row(p, "node-f")?.state === "failed", badSwarm);
    expect(row(seen, "node-f")!.errorCode).toBe("BT_E_NO_PEERS");
    expect(row(seen, "node-f")!.errorMessage).toContain("chunk 3");
    expect(seen.byState.failed).toBe(1);
    const asked = await runCli(["status", `127.0.0.1:${badPort}`, "--secret-file", join(dir, "secret")]);
    expect(asked.code).toBe(10);
    expect(asked.stdout).toMatch(/^node-f +- +failed .*BT_E_NO_PEERS: /m);
  } finally {
    bad.proc.kill("SIGTERM");
    await bad.done;
  }
});

describe("bytetide status", () => {
  const status = (...more: string[]) => runCli(["status", `127.0.0.1:${port}`, "--secret-file", join(dir, "secret"), ...more]);

  test("prints each package's header and its nodes, problems first, and exits 11 while one is not done; --json is the same as one object", async () => {
    const r = await status();
    expect(r.stdout).toContain(`package ${id}`);
    expect(r.stdout).toMatch(/^NAME +ZONE +STATE +DONE +RATE +PEERS +LAST ERROR$/m);
    expect(r.stdout).toMatch(/^node-a +rack-1 +done +100\.0%/m);
    // node-slow was stopped with Ctrl-C: not done, so the rollout is not over.
    expect(r.stdout).toMatch(/^node-slow +- +stopping +\d+\.\d%/m);
    expect(r.stdout.indexOf("node-slow")).toBeLessThan(r.stdout.indexOf("node-a "));
    expect(r.code).toBe(11);
    const json = await status("--json");
    expect(json.code).toBe(11);
    const { packages } = JSON.parse(json.stdout) as { packages: PackageRollout[] };
    expect(packages.map((p) => p.package)).toEqual([id]);
    expect(packages[0]!.byState).toMatchObject({ done: 1, stopping: 1 });
  });

  test("--package narrows it to one package; a malformed id is a usage error naming the flag", async () => {
    const other = await status("--package", "ab".repeat(32), "--json");
    expect(JSON.parse(other.stdout).packages).toEqual([]);
    expect(other.code).toBe(11);
    const bad = await status("--package", "xyz");
    expect(bad.code).toBe(2);
    expect(bad.stderr).toContain("status: --package");
  });

  test("the wrong secret, or no seed there: exit 8, naming the peer", async () => {
    const refused = await runCli(["status", `127.0.0.1:${port}`, "--secret-file", join(dir, "wrong")]);
    expect(refused.code).toBe(8);
    expect(refused.stderr).toContain(`127.0.0.1:${port}`);
    const nobody = await runCli(["status", "127.0.0.1:1"]);
    expect(nobody.code).toBe(8);
    expect(nobody.stderr).toContain("status: 127.0.0.1:1");
  });

  test("--watch waits, a header line at a time off a terminal, until every node is done, then prints the table and exits 0", async () => {
    writeFileSync(join(dir, "small.bin"), seededBytes(1_500_000, 29));
    await makePackage(join(dir, "small.bin"), ["--chunk-size", "256KiB"]);
    const small = spawnCli(["serve", join(dir, "small.bin.bpkg"), "--listen", "127.0.0.1:0"]);
    try {
      const smallPort = (await small.waitFor(/ on 127\.0\.0\.1:(\d+)\n/))[1];
      const get = spawnCli(["get", join(dir, "small.bin.bpkg"), "--peer", `127.0.0.1:${smallPort}`, "-o", join(dir, "small-out.bin"), "--name", "watched", "--max-download-rate", "500K", "--linger", "0"]);
      const watch = await runCli(["status", `127.0.0.1:${smallPort}`, "--watch"], { timeoutMs: 60_000 });
      expect((await get.done).code).toBe(0);
      expect(watch.code).toBe(0);
      // It waited: a header line while the get was on its way, then the whole table.
      expect(watch.stdout).toMatch(/1 node: 1 (starting|downloading)/);
      expect(watch.stdout).toMatch(/^watched +- +done +100\.0%/m);
    } finally {
      small.proc.kill("SIGTERM");
      await small.done;
    }
  });
});

test("a seed that admits one peer (--max-peers 1) still hears from every node: the one waiting its turn shows as starting", async () => {
  const busy = spawnCli(["serve", pkg, "--listen", "127.0.0.1:0", "--metrics", "127.0.0.1:0", "--max-peers", "1"]);
  const gets: ReturnType<typeof spawnCli>[] = [];
  try {
    const busyPort = (await busy.waitFor(/ on 127\.0\.0\.1:(\d+)\n/))[1];
    const busySwarm = (await busy.waitFor(/metrics on (http:\S+)/))[1]!.replace("/metrics", "/api/swarm");
    const getFrom = (name: string) => spawnCli(["get", pkg, "--peer", `127.0.0.1:${busyPort}`, "-o", join(dir, `${name}.bin`), "--name", name, "--max-download-rate", "300K", "--retry-for", "60s"]);
    gets.push(getFrom("first"));
    await rolloutWhen((p) => (row(p, "first")?.verifiedBytes ?? 0) > 0, busySwarm);
    gets.push(getFrom("second"));
    const both = await rolloutWhen((p) => row(p, "second") !== undefined, busySwarm);
    expect(row(both, "second")).toMatchObject({ state: "starting", verifiedBytes: 0 });
    // Its reports came on a connection of their own: the seed's one peer is still the first get.
    const metrics = await (await fetch(busySwarm.replace("/api/swarm", "/metrics"))).text();
    expect(metrics).toContain(`bytetide_connections{package="${id}"} 1\n`);
  } finally {
    for (const g of gets) g.proc.kill("SIGKILL");
    busy.proc.kill("SIGTERM");
    await busy.done;
  }
});

test("the seed's page is at / beside /metrics: one self-contained HTML page that loads nothing but /api/swarm", async () => {
  const page = await fetch(metricsUrl.replace("/metrics", "/"));
  expect(page.status).toBe(200);
  expect(page.headers.get("content-type")).toStartWith("text/html");
  const html = await page.text();
  expect(html).toContain('fetch("api/swarm"');
  // Clusters are often offline: no script, style, image or font from anywhere else.
  expect(html).not.toMatch(/(src|href)=["']?(https?:)?\/\//i);
  expect(html).not.toMatch(/@import|url\(/i);
});
