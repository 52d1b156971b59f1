import { afterAll, expect, test } from "bun:test";
import { readFileSync, writeFileSync } from "node:fs";
import { join } from "node:path";
import { runCli } from "../helpers/cli.ts";
import { seededBytes, sha256Hex, tempDir } from "../helpers/fixtures.ts";
import { createLab, type Lab, netlabAvailable, outputOf } from "../helpers/netlab.ts";

const PEERS = 8;
const SIZE = 64 * 1024 * 1024;
let lab: Lab | null = null;
afterAll(() => lab?.down());

test.skipIf(!netlabAvailable)(
  "1 seed and 8 peers at 100 Mbit/s, told only the seed's address: all verify, the seed sends at most 1.5 copies, every peer uploads (needs root, ip and tc for network namespaces)",
  async () => {
    const dir = tempDir("bytetide-netlab");
    const payload = seededBytes(SIZE, 808);
    writeFileSync(join(dir, "model.bin"), payload);
    // 1 MiB chunks: 64 of them, so 8 peers have plenty to trade early on.
    expect((await runCli(["make", join(dir, "model.bin"), "--chunk-size", "1MiB"])).code).toBe(0);
    const pkg = join(dir, "model.bin.bpkg");
    lab = createLab("btlt", PEERS + 1, 100);

    const seed = lab.spawn(0, ["serve", pkg, "--listen", `${lab.addr(0)}:7654`]);
    await Bun.sleep(500);
    const gets = Array.from({ length: PEERS }, (_, k) =>
      lab!.spawn(k + 1, ["get", pkg, "--peer", `${lab!.addr(0)}:7654`, "--listen", `${lab!.addr(k + 1)}:7654`, "-o", join(dir, `peer-${k + 1}`, "model.bin"), "--linger", "30s"]),
    );
    const results = await Promise.all(gets.map(outputOf));
    seed.kill("SIGTERM");
    const seedLog = (await outputOf(seed)).stderr;

    const expected = sha256Hex(payload);
    for (const [k, r] of results.entries()) {
      expect(r.stdout).toStartWith("VERIFY OK");
      expect(sha256Hex(readFileSync(join(dir, `peer-${k + 1}`, "model.bin")))).toBe(expected);
      const uploaded = Number(/ exit uploaded_bytes=(\d+)/.exec(r.stderr)?.[1]);
      expect(uploaded).toBeGreaterThan(0);
    }
    const seedUploaded = Number(/ uploaded package=\S+ bytes=(\d+)/.exec(seedLog)?.[1]);
    expect(seedUploaded).toBeGreaterThanOrEqual(SIZE);
    expect(seedUploaded).toBeLessThanOrEqual(1.5 * SIZE);
  },
  240_000,
);
