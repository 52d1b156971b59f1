import { afterAll, describe, expect, test } from "bun:test";
import { chmodSync, existsSync, mkdirSync, readdirSync, readFileSync, rmSync, statSync, writeFileSync } from "node:fs";
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

  test("a payload file changed under the serve: it refuses that chunk as damaged, the getter names the chunk, the peer and why (its progress line still counting the peer), and a restored file is served again without a restart", async () => {
    const own = join(dir, "changing.bin");
    writeFileSync(own, payload);
    await makePackage(own, ["--chunk-size", "256KiB"]);
    const changing = await startSeed([`${own}.bpkg`]);
    try {
      // Flip one byte of chunk 5 on disk after the seed has started: its mtime changes.
      await Bun.sleep(20);
      const bytes = readFileSync(own);
      bytes[5 * 262_144 + 77]! ^= 0x10;
      writeFileSync(own, bytes);
      const out = join(dir, "from-changing.bin");
      // Long enough for a progress line (every 2 s off a terminal) while it waits on chunk 5.
      const r = await runCli(["get", `${own}.bpkg`, "--peer", changing.address, "-o", out, "--linger", "0", "--retry-for", "3s"]);
      expect(r.code).toBe(8);
      // The line follows the peer still connected, not the count of its last arrival.
      expect(r.stderr).toMatch(new RegExp(`^downloading 96% .* peers 1 chunks ${SIZE / 262_144 - 1}/${SIZE / 262_144}$`, "m"));
      expect(r.stdout).not.toContain("VERIFY OK");
      expect(r.stderr).toMatch(new RegExp(`get chunk-error chunk=5 peer=${changing.address.replaceAll(".", "\\.")} reason="the peer's copy is damaged`));
      expect(lastLine(r.stderr)).toBe(
        `bytetide: get: chunk 5: peer ${changing.address} refused it, its copy being damaged (it does not match the package), and no other peer could supply it (1 chunks missing; progress saved: ${SIZE / 262_144 - 1} of ${SIZE / 262_144} chunks verified)`,
      );
      expect((await verifiedChunks(`${own}.bpkg`, `${out}.btstate`)).count).toBe(SIZE / 262_144 - 1);

      // The operator restores the file: its stamp changes, so the seed proves chunk 5 again.
      writeFileSync(own, payload);
      await Bun.sleep(1_100); // the seed looks at a file's stamp at most once a second
      const resumed = await runCli(["get", `${own}.bpkg`, "--peer", changing.address, "-o", out, "--linger", "0"]);
      expect(resumed.stdout, resumed.stderr).toStartWith("VERIFY OK");
      expect(readFileSync(out)).toEqual(Buffer.from(payload));
    } finally {
      const seedLog = (await changing.stop()).stderr;
      expect(seedLog).toMatch(/chunk-error chunk=5 file=\S*changing\.bin .*does not match the package/);
    }
  });

  test("SIGHUP makes a serve prove its damaged chunks again, even when the restored file has the old stamp, and a get still waiting is offered them", async () => {
    const own = join(dir, "restored.bin");
    const damaged = Buffer.from(payload);
    damaged[3 * 262_144 + 5]! ^= 0x01;
    writeFileSync(own, payload);
    await makePackage(own, ["--chunk-size", "256KiB"]);
    writeFileSync(own, damaged);
    const seed = await startSeed([`${own}.bpkg`]);
    try {
      const out = join(dir, "from-restored.bin");
      const first = await runCli(["get", `${own}.bpkg`, "--peer", seed.address, "-o", out, "--linger", "0", "--retry-for", "1s"]);
      expect(first.code).toBe(8);
      expect(lastLine(first.stderr)).toStartWith(`bytetide: get: chunk 3: peer ${seed.address} refused it, its copy being damaged`);
      // Restored in place with the damaged copy's size, inode and mtime, as a careful
      // restore (cp -p, rsync -t) leaves it: nothing tells the seed but the operator.
      const { mtimeNs } = statSync(own, { bigint: true });
      writeFileSync(own, payload);
      expect(Bun.spawnSync(["touch", "-d", `@${mtimeNs / 1_000_000_000n}.${String(mtimeNs % 1_000_000_000n).padStart(9, "0")}`, own]).exitCode).toBe(0);
      expect(statSync(own, { bigint: true }).mtimeNs).toBe(mtimeNs);
      const waiting = spawnCli(["get", `${own}.bpkg`, "--peer", seed.address, "-o", out, "--linger", "0", "--retry-for", "60s"]);
      await waitForVerified(waiting, `${own}.bpkg`, `${out}.btstate`, SIZE / 262_144 - 1);
      await waiting.waitFor(/chunk-error chunk=3 peer=/, 30_000, "stderr");
      seed.proc.kill("SIGHUP");
      const done = await waiting.done;
      expect(done.stdout, done.stderr).toStartWith("VERIFY OK");
      expect(readFileSync(out)).toEqual(Buffer.from(payload));
    } finally {
      const seedLog = (await seed.stop()).stderr;
      expect(seedLog).toMatch(/ serve recheck package=[0-9a-f]{64} chunks=1\n/);
    }
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
