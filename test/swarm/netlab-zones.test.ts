import { afterAll, expect, test } from "bun:test";
import { readFileSync, writeFileSync } from "node:fs";
import { join } from "node:path";
import { runCli } from "../helpers/cli.ts";
import { seededBytes, sha256Hex, tempDir } from "../helpers/fixtures.ts";
import { createLab, type Lab, netlabAvailable, outputOf } from "../helpers/netlab.ts";

const HOSTS = 8;
/** Hosts 0-3 (the seed and three gets) are zone a; hosts 4-7 are zone b, behind one link. */
const SPLIT = 4;
const SIZE = 32 * 1024 * 1024;
const NAMES = ["seed", ...Array.from({ length: HOSTS - 1 }, (_, k) => `node-${k + 1}`)];
let lab: Lab | null = null;
afterAll(() => lab?.down());

/** One swarm on the lab: the seed and every get given their zone, or none; returns the bytes that crossed the link. */
async function swarm(dir: string, pkg: string, zones: boolean): Promise<number> {
  const zone = (i: number) => (zones ? ["--zone", i < SPLIT ? "rack-a" : "rack-b"] : []);
  const before = lab!.crossedBytes();
  const seed = lab!.spawn(0, ["serve", pkg, "--listen", "seed:7654", ...zone(0)]);
  await Bun.sleep(500);
  const gets = Array.from({ length: HOSTS - 1 }, (_, k) =>
    lab!.spawn(k + 1, ["get", pkg, "--peer", "seed:7654", "--listen", `${NAMES[k + 1]}:7654`, "-o", join(dir, `${zones}-${k + 1}`, "model.bin"), ...zone(k + 1)]),
  );
  const results = await Promise.all(gets.map(outputOf));
  seed.kill("SIGTERM");
  await outputOf(seed);
  for (const [k, r] of results.entries()) {
    expect(r.stdout, r.stderr).toStartWith("VERIFY OK");
    expect(sha256Hex(readFileSync(join(dir, `${zones}-${k + 1}`, "model.bin")))).toBe(sha256Hex(readFileSync(join(dir, "model.bin"))));
  }
  return lab!.crossedBytes() - before;
}

test.skipIf(!netlabAvailable)(
  "two zones of 4 hosts at 100 Mbit/s behind one 100 Mbit/s link: given their zones, the package crosses the link about once; without, several times (needs root, ip and tc)",
  async () => {
    const dir = tempDir("bytetide-netlab-zones");
    writeFileSync(join(dir, "model.bin"), seededBytes(SIZE, 909));
    expect((await runCli(["make", join(dir, "model.bin"), "--chunk-size", "256KiB"])).code).toBe(0);
    const pkg = join(dir, "model.bin.bpkg");
    lab = createLab("btlz", HOSTS, 100, NAMES, "10.77.0", { split: SPLIT, linkMbit: 100 });
    const zoned = await swarm(dir, pkg, true);
    const blind = await swarm(dir, pkg, false);
    console.log(`netlab zones: crossed ${(zoned / SIZE).toFixed(2)} copies with zones, ${(blind / SIZE).toFixed(2)} without`);
    expect(zoned).toBeGreaterThanOrEqual(SIZE);
    expect(zoned).toBeLessThan(1.5 * SIZE);
    expect(blind).toBeGreaterThan(2 * SIZE);
  },
  300_000,
);
