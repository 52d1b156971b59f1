import { afterAll, expect, test } from "bun:test";
import { readFileSync, writeFileSync } from "node:fs";
import { join } from "node:path";
import { seededBytes, sha256Hex, tempDir } from "../helpers/fixtures.ts";
import { containerEnv } from "../helpers/deploy.ts";
import { BINARY, createLab, type Lab, netlabAvailable, outputOf, watch } from "../helpers/netlab.ts";

const NAMES = ["seed", "peer1", "peer2", "peer3", "peer4"];
const SIZE = 16 * 1024 * 1024;
let lab: Lab | null = null;
afterAll(() => lab?.down());

test.skipIf(!netlabAvailable)(
  "a seed and 4 peers that know each other only by host name all verify, and every peer uploads to the others (PEERS works from a named bootstrap) (needs root and iproute2)",
  async () => {
    const dir = tempDir("bytetide-names");
    const payload = seededBytes(SIZE, 909);
    writeFileSync(join(dir, "model.bin"), payload);
    // 256 KiB chunks: 64 of them, enough for the peers to trade while the seed super-seeds.
    const made = Bun.spawnSync([BINARY, "make", join(dir, "model.bin"), "--chunk-size", "256KiB"], { timeout: 60_000 });
    expect(made.exitCode).toBe(0);
    const pkg = join(dir, "model.bin.bpkg");
    lab = createLab("btln", NAMES.length, 100, NAMES);
    const l = lab;

    const seed = l.spawn(0, ["serve", pkg, "--listen", "seed:7654"], 120_000);
    await Bun.sleep(300);
    const peers = NAMES.slice(1).map((name, k) => {
      const out = join(dir, name, "model.bin");
      // The last peer takes the seed from the environment, the way scripts set BYTETIDE_PEER.
      const last = k === NAMES.length - 2;
      const args = ["get", pkg, ...(last ? [] : ["--peer", "seed:7654"]), "--listen", `${name}:7654`, "-o", out, "--linger", "30s"];
      return l.spawn(k + 1, args, 120_000, { env: containerEnv(last ? { BYTETIDE_PEER: "seed:7654" } : {}) });
    });
    const results = await Promise.all(peers.map(outputOf));
    seed.kill("SIGTERM");
    const seedEnd = await outputOf(seed);

    const expected = sha256Hex(payload);
    const getterAddresses = NAMES.slice(1).map((_, k) => `${l.addr(k + 1)}:7654`);
    for (const [k, r] of results.entries()) {
      const name = NAMES[k + 1]!;
      const log = `${name}:\n${r.stdout}${r.stderr}`;
      expect(r.code, log).toBe(0);
      expect(r.stdout, log).toStartWith("VERIFY OK");
      expect(sha256Hex(readFileSync(join(dir, name, "model.bin")))).toBe(expected);
      // The name was resolved for the dial; every peer, the seed included, is known by its address.
      expect(r.stderr, log).toContain(` peer-connected peer=${l.addr(0)}:7654 direction=out via=seed:7654`);
      const connected = [...r.stderr.matchAll(/ peer-connected peer=(\S+)/g)].map((m) => m[1]!);
      for (const p of connected) expect(p, log).toMatch(/^\d+\.\d+\.\d+\.\d+:\d+$/);
      // Other getters come only from PEERS (IP literals): connecting to one shows discovery worked.
      const others = getterAddresses.filter((_, j) => j !== k);
      expect(connected.some((p) => others.includes(p)), log).toBe(true);
      const uploaded = Number(/ exit uploaded_bytes=(\d+)/.exec(r.stderr)?.[1]);
      expect(uploaded, log).toBeGreaterThan(0);
    }
    expect(seedEnd.code, seedEnd.stderr).toBe(0);
    expect(seedEnd.stdout).toContain("serving 1 package on ");
  },
  180_000,
);

test.skipIf(!netlabAvailable)(
  "a get follows its seed's name to a new address: the seed stops, the name moves to another host, the redial resolves it again and the download completes (needs root and iproute2)",
  async () => {
    const dir = tempDir("bytetide-names-move");
    writeFileSync(join(dir, "model.bin"), seededBytes(SIZE, 910));
    expect(Bun.spawnSync([BINARY, "make", join(dir, "model.bin"), "--chunk-size", "256KiB"], { timeout: 60_000 }).exitCode).toBe(0);
    const pkg = join(dir, "model.bin.bpkg");
    lab = createLab("btln", 3, 100, ["seed", "peer1", "spare"]);
    const l = lab;

    // The first seed is slow, so the get is midway when it goes.
    const first = watch(l.spawn(0, ["serve", pkg, "--listen", "0.0.0.0:7654", "--max-upload-rate", "2M"], 60_000), "first seed");
    await first.waitFor(/^serving /m, 20_000);
    const getter = watch(l.spawn(1, ["get", pkg, "--peer", "seed:7654", "-o", join(dir, "out.bin"), "--linger", "0"], 90_000), "get");
    await getter.waitFor(new RegExp(` peer-connected peer=${l.addr(0)}:7654 direction=out via=seed:7654`), 20_000, "stderr");
    await Bun.sleep(1_500);

    const second = watch(l.spawn(2, ["serve", pkg, "--listen", "0.0.0.0:7654"], 60_000), "second seed");
    await second.waitFor(/^serving /m, 20_000);
    l.rename(["old-seed", "peer1", "seed"]);
    expect((await first.stop("SIGTERM")).code).toBe(0);

    const got = await getter.done;
    await second.stop("SIGTERM");
    const log = `${got.stdout}${got.stderr}`;
    expect(got.code, log).toBe(0);
    expect(got.stdout, log).toStartWith("VERIFY OK");
    expect(got.stderr, log).toContain(` peer-connected peer=${l.addr(2)}:7654 direction=out via=seed:7654`);
    for (const host of [0, 2]) expect(Number(new RegExp(` received peer=${l.addr(host)}:7654 bytes=(\\d+)`).exec(got.stderr)?.[1]), log).toBeGreaterThan(0);
  },
  120_000,
);
