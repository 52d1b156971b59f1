import { expect, test } from "bun:test";
import { mkdirSync, writeFileSync } from "node:fs";
import { join } from "node:path";
import { makePackage, runCli } from "../helpers/cli.ts";
import { seededBytes, tempDir } from "../helpers/fixtures.ts";
import { spawnCli } from "../helpers/peers.ts";

test("serve --metrics exposes Prometheus counters that follow a transfer, and /healthz", async () => {
  const dir = tempDir("bytetide-metrics");
  writeFileSync(join(dir, "p.bin"), seededBytes(2_000_000, 3));
  await makePackage(join(dir, "p.bin"), ["--chunk-size", "256KiB"]);
  const pkg = join(dir, "p.bin.bpkg");
  const seed = spawnCli(["serve", pkg, "--listen", "127.0.0.1:0", "--metrics", "127.0.0.1:0"]);
  const port = (await seed.waitFor(/ on 127\.0\.0\.1:(\d+)\n/))[1];
  const metricsUrl = (await seed.waitFor(/metrics on (http:\S+)/))[1]!;
  try {
    const before = await (await fetch(metricsUrl)).text();
    expect(before).toContain("# TYPE bytetide_bytes_sent_total counter");
    expect(before).toMatch(/bytetide_bytes_sent_total\{package="[0-9a-f]{64}"\} 0\n/);
    expect(before).toMatch(/bytetide_chunks\{package="[0-9a-f]{64}"\} 8\n/);
    const r = await runCli(["get", pkg, "--peer", `127.0.0.1:${port}`, "-o", join(dir, "out.bin"), "--linger", "0"]);
    expect(r.stdout).toStartWith("VERIFY OK");
    const after = await (await fetch(metricsUrl)).text();
    expect(after).toMatch(/bytetide_bytes_sent_total\{package="[0-9a-f]{64}"\} 2000000\n/);
    expect(after).toMatch(/bytetide_chunks_served_total\{package="[0-9a-f]{64}"\} 8\n/);
    const health = await fetch(metricsUrl.replace("/metrics", "/healthz"));
    expect(health.status).toBe(200);
    expect(await health.text()).toBe("ok\n");
  } finally {
    seed.proc.kill("SIGTERM");
    expect((await seed.done).code).toBe(0);
  }
});

test("get --metrics counts the bytes it reused, and with --only the chunks it holds, not those it left out", async () => {
  const dir = tempDir("bytetide-metrics-reuse");
  const tree = join(dir, "w");
  mkdirSync(tree);
  writeFileSync(join(tree, "a.bin"), seededBytes(1_000_000, 4));
  writeFileSync(join(tree, "b.bin"), seededBytes(500_000, 5));
  const made = await makePackage(tree, ["--chunk-size", "256KiB"]);
  const id = /^id +([0-9a-f]{64})$/m.exec(made.stdout)![1]!;
  const seed = spawnCli(["serve", `${tree}.bpkg`, "--listen", "127.0.0.1:0"]);
  const port = (await seed.waitFor(/ on 127\.0\.0\.1:(\d+)\n/))[1];
  const old = join(dir, "old");
  mkdirSync(old);
  writeFileSync(join(old, "a.bin"), seededBytes(1_000_000, 4));
  const get = spawnCli(["get", `${tree}.bpkg`, "--only", "a.bin", "--reuse", old, "--peer", `127.0.0.1:${port}`, "-o", join(dir, "out"), "--metrics", "127.0.0.1:0", "--seed"]);
  try {
    const metricsUrl = (await get.waitFor(/metrics url=(http:\S+)/, 30_000, "stderr"))[1]!;
    await get.waitFor(/^VERIFY PARTIAL [0-9a-f]{64} \(only 1 of 2 files, --only\)$/m);
    const text = await (await fetch(metricsUrl)).text();
    // Labelled by the package id, as make printed it.
    expect(text).toContain(`bytetide_bytes_reused_total{package="${id}"} 1000000\n`);
    expect(text).toContain(`bytetide_bytes_received_total{package="${id}"} 0\n`);
    // a.bin is 4 chunks of the 6; b.bin was left out.
    expect(text).toContain(`bytetide_chunks_verified{package="${id}"} 4\n`);
  } finally {
    for (const p of [get, seed]) p.proc.kill("SIGTERM");
    expect((await get.done).code).toBe(0);
    expect((await seed.done).code).toBe(0);
  }
});
