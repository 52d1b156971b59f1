import { afterAll, describe, expect, test } from "bun:test";
import { chmodSync, existsSync, mkdirSync, readdirSync, readFileSync, rmSync, writeFileSync } from "node:fs";
import { join } from "node:path";
import { makePackage, runCli } from "../helpers/cli.ts";
import { seededBytes, tempDir } from "../helpers/fixtures.ts";
import { spawnCli, startSeed, verifiedChunks, waitForVerified } from "../helpers/peers.ts";

const dir = tempDir("bytetide-disk");
chmodSync(dir, 0o755);
const SIZE = 8 * 1024 * 1024;
const payload = seededBytes(SIZE, 31337);
writeFileSync(join(dir, "data.bin"), payload);
await makePackage(join(dir, "data.bin"), ["--chunk-size", "256KiB"]);
const pkg = join(dir, "data.bin.bpkg");
const seed = await startSeed([pkg]);
afterAll(() => seed.stop());
const isRoot = process.getuid?.() === 0;
const lastLine = (stderr: string) => stderr.trim().split("\n").at(-1)!;

describe("disk and filesystem faults", () => {
  test.skipIf(!isRoot)("a get that cannot fit is refused before its first write, saying what it needs and what is free (needs root, to mount a small tmpfs)", async () => {
    const small = join(dir, "small-refused");
    mkdirSync(small);
    expect(Bun.spawnSync(["mount", "-t", "tmpfs", "-o", "size=12m", "tmpfs", small]).exitCode).toBe(0);
    try {
      writeFileSync(join(small, "filler"), new Uint8Array(7 * 1024 * 1024));
      const out = join(small, "data.bin");
      const r = await runCli(["get", pkg, "--peer", seed.address, "-o", out, "--linger", "0"]);
      expect(r.code).toBe(7);
      expect(lastLine(r.stderr)).toMatch(new RegExp(`^bytetide: get: ${out}: not enough space: 8\\.00 MiB \\(${SIZE} bytes\\) still to write, but ${small} has [\\d.]+ [KM]iB \\(\\d+ bytes\\) free$`));
      // Nothing was written, and nothing that holds nothing is left behind.
      expect(readdirSync(small)).toEqual(["filler"]);
      // With --preallocate the blocks are taken before any chunk is fetched.
      rmSync(join(small, "filler"));
      const fitted = await runCli(["get", pkg, "--peer", seed.address, "-o", out, "--linger", "0", "--preallocate"]);
      expect(fitted.stdout, fitted.stderr).toStartWith("VERIFY OK");
      expect(readFileSync(out)).toEqual(Buffer.from(payload));
    } finally {
      Bun.spawnSync(["umount", small]);
    }
  });

  test.skipIf(!isRoot)("a filesystem that fills up mid-download: a clear error, progress kept, and the get resumes once space is freed (needs root, to mount a small tmpfs)", async () => {
    const small = join(dir, "small");
    mkdirSync(small);
    expect(Bun.spawnSync(["mount", "-t", "tmpfs", "-o", "size=12m", "tmpfs", small]).exitCode).toBe(0);
    const slow = await startSeed([pkg, "--max-upload-rate", "2M"]);
    try {
      const out = join(small, "data.bin");
      const get = spawnCli(["get", pkg, "--peer", slow.address, "-o", out, "--linger", "0"]);
      await waitForVerified(get, pkg, `${out}.btstate`, 2);
      // Something else on the node takes the rest of the disk.
      Bun.spawnSync(["sh", "-c", `cat /dev/zero > ${join(small, "filler")}`]);
      const full = await get.done;
      expect(full.code).toBe(7);
      expect(lastLine(full.stderr)).toMatch(new RegExp(`^bytetide: get: ${out}\\.part: no space left on device`));
      const kept = await verifiedChunks(pkg, `${out}.btstate`);
      expect(kept.count).toBeGreaterThan(0);
      expect(kept.clean).toBe(true);
      rmSync(join(small, "filler"));
      const resumed = await runCli(["get", pkg, "--peer", seed.address, "-o", out, "--linger", "0"]);
      expect(resumed.stdout).toStartWith("VERIFY OK");
      expect(resumed.stderr).not.toContain("resume-check");
      expect(readFileSync(out)).toEqual(Buffer.from(payload));
    } finally {
      await slow.stop();
      Bun.spawnSync(["umount", small]);
    }
  });

  test("a read-only output directory: exit 7, naming the path", async () => {
    const locked = join(dir, "readonly");
    mkdirSync(locked);
    chmodSync(locked, 0o555);
    const r = await runCli(["get", pkg, "--peer", seed.address, "-o", join(locked, "data.bin"), "--linger", "0"], { unprivileged: true });
    expect(r.code).toBe(7);
    expect(lastLine(r.stderr)).toBe(`bytetide: get: ${join(locked, "data.bin")}: cannot be written: ${locked}: permission denied`);
    expect(existsSync(join(locked, "data.bin.btstate"))).toBe(false);
  });

  test("a payload file changed under the serve: it notices, stops offering that chunk, and the getter is told why it cannot finish", async () => {
    const own = join(dir, "changing.bin");
    writeFileSync(own, payload);
    await makePackage(own, ["--chunk-size", "256KiB"]);
    const changing = await startSeed([`${own}.bpkg`]);
    // Flip one byte of chunk 5 on disk after the seed has started: its mtime changes.
    await Bun.sleep(20);
    const bytes = readFileSync(own);
    bytes[5 * 262_144 + 77]! ^= 0x10;
    writeFileSync(own, bytes);
    const out = join(dir, "from-changing.bin");
    const r = await runCli(["get", `${own}.bpkg`, "--peer", changing.address, "-o", out, "--linger", "0", "--retry-for", "1s"]);
    const seedLog = (await changing.stop()).stderr;
    expect(seedLog).toMatch(/chunk-error chunk=5 file=\S*changing\.bin .*does not match the package/);
    expect(r.code).toBe(8);
    expect(r.stdout).not.toContain("VERIFY OK");
    expect(lastLine(r.stderr)).toContain("no peer could supply the 1 missing chunks");
    expect((await verifiedChunks(`${own}.bpkg`, `${out}.btstate`)).count).toBe(SIZE / 262_144 - 1);
  });

  test("a failure at the final rename is reported and the get exits instead of hanging", async () => {
    const slow = await startSeed([pkg, "--max-upload-rate", "4M"]);
    const out = join(dir, "taken-later");
    const get = spawnCli(["get", pkg, "--peer", slow.address, "-o", out, "--linger", "0"]);
    await waitForVerified(get, pkg, `${out}.btstate`, 2);
    // Someone puts a directory where the file is about to be renamed.
    mkdirSync(join(out, "occupied"), { recursive: true });
    const r = await get.done;
    await slow.stop();
    expect(r.code).toBe(7);
    expect(lastLine(r.stderr)).toContain(`bytetide: get: ${out}:`);
    expect(r.stdout).not.toContain("VERIFY OK");
    expect(existsSync(`${out}.part`)).toBe(true);
  });

  test("an existing directory as -o of a one-file package: the file goes inside it, as with cp, and what was there stays", async () => {
    const taken = join(dir, "taken");
    mkdirSync(taken);
    writeFileSync(join(taken, "keep.txt"), "precious");
    const r = await runCli(["get", pkg, "--peer", seed.address, "-o", taken, "--linger", "0"]);
    expect(r.stdout).toStartWith("VERIFY OK");
    expect(readFileSync(join(taken, "data.bin"))).toEqual(Buffer.from(payload));
    expect(readFileSync(join(taken, "keep.txt"), "utf8")).toBe("precious");
    expect(existsSync(`${taken}.part`)).toBe(false);
  });
});
