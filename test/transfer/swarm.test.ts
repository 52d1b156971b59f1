import { describe, expect, test } from "bun:test";
import { readFileSync, writeFileSync } from "node:fs";
import { join } from "node:path";
import { makePackage, runCli } from "../helpers/cli.ts";
import { seededBytes, tempDir } from "../helpers/fixtures.ts";
import { readPackage } from "../../src/pkg/io.ts";
import { fakeSeed } from "../helpers/fake-seed.ts";
import { spawnCli, startSeed } from "../helpers/peers.ts";

const dir = tempDir("bytetide-swarm");
const SIZE = 16 * 1024 * 1024;
const payload = seededBytes(SIZE, 404);
writeFileSync(join(dir, "shared.bin"), payload);
await makePackage(join(dir, "shared.bin"), ["--chunk-size", "256KiB"]);
const pkg = join(dir, "shared.bin.bpkg");

/** Bytes a get received from each peer, from its `received` log lines. */
const receivedFrom = (stderr: string) => new Map([...stderr.matchAll(/ received peer=(\S+) bytes=(\d+)/g)].map((m) => [m[1]!, Number(m[2])]));
const uploaded = (stderr: string) => Number(/ exit uploaded_bytes=(\d+)/.exec(stderr)?.[1] ?? NaN);
const seedUploaded = (stderr: string) => Number(/ uploaded package=\S+ bytes=(\d+)/.exec(stderr)?.[1] ?? NaN);

describe("getters told only the seed's address", () => {
  test("find each other, trade chunks, and spare the seed (IPv4)", async () => {
    // A slow seed makes trading between getters worthwhile, as on a real cluster.
    const seed = await startSeed([pkg, "--max-upload-rate", "6M"]);
    const gets = [1, 2, 3].map((i) =>
      spawnCli(["get", pkg, "--peer", seed.address, "-o", join(dir, `v4-${i}.bin`), "--listen", "127.0.0.1:0", "--linger", "20s"]),
    );
    const results = await Promise.all(gets.map((g) => g.done));
    const stopped = await seed.stop();
    for (const [i, r] of results.entries()) {
      expect(r.stdout).toStartWith("VERIFY OK");
      expect(readFileSync(join(dir, `v4-${i + 1}.bin`))).toEqual(Buffer.from(payload));
      // The seed hands each chunk out about once, so every getter fetched from another getter.
      const fromPeers = [...receivedFrom(r.stderr)].filter(([peer]) => peer !== seed.address);
      expect(fromPeers.reduce((n, [, b]) => n + b, 0)).toBeGreaterThan(0);
    }
    expect(results.filter((r) => uploaded(r.stderr) > 0).length).toBeGreaterThanOrEqual(2);
    expect(seedUploaded(stopped.stderr)).toBeLessThanOrEqual(1.5 * SIZE);
  });

  test("work the same over IPv6", async () => {
    const seed = await startSeed([pkg, "--max-upload-rate", "6M"], "::1");
    const gets = [1, 2].map((i) => spawnCli(["get", pkg, "--peer", seed.address, "-o", join(dir, `v6-${i}.bin`), "--listen", "[::1]:0", "--linger", "20s"]));
    const results = await Promise.all(gets.map((g) => g.done));
    await seed.stop();
    for (const [i, r] of results.entries()) {
      expect(r.stdout).toStartWith("VERIFY OK");
      expect(readFileSync(join(dir, `v6-${i + 1}.bin`))).toEqual(Buffer.from(payload));
      expect([...receivedFrom(r.stderr).keys()].every((peer) => peer.startsWith("[::1]:"))).toBe(true);
    }
    expect(results.some((r) => [...receivedFrom(r.stderr).keys()].some((peer) => peer !== seed.address))).toBe(true);
  });
});

describe("after completing", () => {
  test("--linger 0 exits as soon as the data is verified; by default a get first serves on until peers go quiet", async () => {
    const seed = await startSeed([pkg]);
    // From the get's own log: how long it stayed between `done` and `exit`.
    const stayed = (stderr: string) => {
      const at = (event: string) => Date.parse(new RegExp(`^(\\S+) get ${event} `, "m").exec(stderr)![1]!);
      return at("exit") - at("done");
    };
    const quick = await runCli(["get", pkg, "--peer", seed.address, "-o", join(dir, "quick.bin"), "--linger", "0"]);
    const lingering = await runCli(["get", pkg, "--peer", seed.address, "-o", join(dir, "lingering.bin"), "--linger", "30s"]);
    await seed.stop();
    expect(quick.stdout).toStartWith("VERIFY OK");
    expect(lingering.stdout).toStartWith("VERIFY OK");
    // Lingering waits at least NET.lingerIdleMs of quiet; --linger 0 waits for nothing.
    expect(stayed(lingering.stderr)).toBeGreaterThanOrEqual(3_000);
    expect(stayed(quick.stderr)).toBeLessThan(stayed(lingering.stderr));
  });

  test("--seed keeps serving: a second get completes from it alone, and SIGTERM stops it with exit 0", async () => {
    const seed = await startSeed([pkg]);
    const first = spawnCli(["get", pkg, "--peer", seed.address, "-o", join(dir, "seeding.bin"), "--listen", "127.0.0.1:0", "--seed"]);
    await first.waitFor(/VERIFY OK/);
    await seed.stop();
    const port = await listeningPortOf(first.proc.pid);
    const second = await runCli(["get", pkg, "--peer", `127.0.0.1:${port}`, "-o", join(dir, "from-seeding-get.bin"), "--linger", "0"]);
    expect(second.stdout).toStartWith("VERIFY OK");
    first.proc.kill("SIGTERM");
    expect((await first.done).code).toBe(0);
  });
});

/** The TCP port a process listens on, from /proc (its only listening socket). */
async function listeningPortOf(pid: number): Promise<number> {
  const inodes = new Set<string>();
  const { readdirSync, readlinkSync } = await import("node:fs");
  for (const fd of readdirSync(`/proc/${pid}/fd`)) {
    const m = /socket:\[(\d+)\]/.exec(readlinkSync(`/proc/${pid}/fd/${fd}`));
    if (m) inodes.add(m[1]!);
  }
  for (const table of ["/proc/net/tcp", "/proc/net/tcp6"]) {
    for (const line of readFileSync(table, "utf8").split("\n").slice(1)) {
      const f = line.trim().split(/\s+/);
      if (f[3] === "0A" && inodes.has(f[9]!)) return parseInt(f[1]!.split(":")[1]!, 16);
    }
  }
  throw new Error(`no listening socket for pid ${pid}`);
}

describe("slow and stalled peers", () => {
  test("a peer that takes requests and never answers loses them to a working one", async () => {
    // A fake seed: a correct handshake and a full BITFIELD, then silence.
    let requestsSwallowed = 0;
    const staller = fakeSeed(await readPackage(pkg), () => requestsSwallowed++);
    try {
      const good = await startSeed([pkg, "--max-upload-rate", "2M"]);
      const out = join(dir, "despite-staller.bin");
      const r = await runCli(["get", pkg, "--peer", `127.0.0.1:${staller.port}`, "--peer", good.address, "-o", out, "--linger", "0"], { timeoutMs: 60_000 });
      await good.stop();
      expect(r.stdout).toStartWith("VERIFY OK");
      expect(requestsSwallowed).toBeGreaterThan(0);
      expect(r.stderr).toContain(`peer-stalled peer=127.0.0.1:${staller.port}`);
      expect(readFileSync(out)).toEqual(Buffer.from(payload));
    } finally {
      staller.stop(true);
    }
  });
});
