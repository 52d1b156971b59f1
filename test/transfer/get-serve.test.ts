import { describe, expect, test } from "bun:test";
import { existsSync, lstatSync, mkdirSync, readFileSync, readlinkSync, symlinkSync, writeFileSync, chmodSync } from "node:fs";
import { join } from "node:path";
import { makePackage as make, runCli } from "../helpers/cli.ts";
import { replayable, seededBytes, tempDir } from "../helpers/fixtures.ts";
import { spawnCli, startSeed, verifiedChunks, waitForVerified } from "../helpers/peers.ts";
import { fakeSeed } from "../helpers/fake-seed.ts";
import { readPackage } from "../../src/pkg/io.ts";
import { encodePiece } from "../../src/protocol/messages.ts";
import { NET } from "../../src/config.ts";

const dir = tempDir("bytetide-transfer");
const CHUNK = "64KiB";

async function makePackage(name: string, bytes: Uint8Array): Promise<string> {
  const path = join(dir, name);
  writeFileSync(path, bytes);
  await make(path, ["--chunk-size", CHUNK]);
  return `${path}.bpkg`;
}

const single = seededBytes(3_000_000 + 123, 31);
const singlePkg = makePackage("single.bin", single);

describe("one serve, one get", () => {
  test("a multi-chunk file arrives byte for byte, with nothing left behind but the file", async () => {
    const seed = await startSeed([await singlePkg]);
    const out = join(dir, "got", "single.bin");
    const r = await runCli(["get", "--linger", "0", await singlePkg, "--peer", seed.address, "-o", out]);
    expect(r.stdout).toMatch(/^VERIFY OK [0-9a-f]{64}\n$/);
    expect(r.code).toBe(0);
    expect(readFileSync(out)).toEqual(Buffer.from(single));
    expect(existsSync(`${out}.part`)).toBe(false);
    expect(existsSync(`${out}.btstate`)).toBe(false);
    const stopped = await seed.stop();
    expect(stopped.code).toBe(0);
    expect(stopped.stderr).toContain("peer-disconnected");
  });

  test("a directory package arrives with its files, empty files, modes and symlinks", async () => {
    const tree = join(dir, "tree");
    mkdirSync(join(tree, "sub", "deep"), { recursive: true });
    mkdirSync(join(tree, "empty-dir"));
    writeFileSync(join(tree, "a.bin"), seededBytes(700_000, 1));
    writeFileSync(join(tree, "sub", "b.bin"), seededBytes(65_536, 2));
    writeFileSync(join(tree, "sub", "deep", "c.txt"), "tiny\n");
    writeFileSync(join(tree, "empty"), "");
    chmodSync(join(tree, "sub", "b.bin"), 0o750);
    // Created writable by its owner while it downloads: finalize must still make it read-only.
    writeFileSync(join(tree, "sub", "read-only.txt"), "keep\n");
    chmodSync(join(tree, "sub", "read-only.txt"), 0o444);
    symlinkSync("sub/b.bin", join(tree, "link"));
    expect((await runCli(["make", tree, "--chunk-size", CHUNK])).code).toBe(0);
    const seed = await startSeed([join(dir, "tree.bpkg")]);
    const out = join(dir, "got-tree");
    const r = await runCli(["get", "--linger", "0", join(dir, "tree.bpkg"), "--peer", seed.address, "-o", out]);
    expect(r.stdout).toStartWith("VERIFY OK ");
    expect(readFileSync(join(out, "a.bin"))).toEqual(Buffer.from(seededBytes(700_000, 1)));
    expect(readFileSync(join(out, "sub", "deep", "c.txt"), "utf8")).toBe("tiny\n");
    expect(readFileSync(join(out, "empty")).length).toBe(0);
    expect(lstatSync(join(out, "empty-dir")).isDirectory()).toBe(true);
    expect(lstatSync(join(out, "sub", "b.bin")).mode & 0o777).toBe(0o750);
    expect(lstatSync(join(out, "sub", "read-only.txt")).mode & 0o777).toBe(0o444);
    expect(readlinkSync(join(out, "link"))).toBe("sub/b.bin");
    expect((await runCli(["verify", join(dir, "tree.bpkg"), out])).code).toBe(0);
    await seed.stop();
  });

  test("a package of many tiny files (each one chunk, a small frame on the wire) arrives intact, no chunk failing verification", async () => {
    const tree = join(dir, "tiny-files");
    const sizes = Array.from({ length: 600 }, (_, i) => (i * 7_919) % 4_000);
    sizes.forEach((size, i) => {
      mkdirSync(join(tree, `d${i % 10}`), { recursive: true });
      writeFileSync(join(tree, `d${i % 10}`, `f${i}`), seededBytes(size, 100 + i));
    });
    expect((await runCli(["make", tree])).code).toBe(0);
    const seed = await startSeed([join(dir, "tiny-files.bpkg")]);
    const out = join(dir, "got-tiny-files");
    const r = await runCli(["get", "--linger", "0", join(dir, "tiny-files.bpkg"), "--peer", seed.address, "-o", out]);
    await seed.stop();
    expect(r.stdout).toStartWith("VERIFY OK ");
    // A frame kept by reference and overwritten before it was sent shows up as a bad chunk or a bad frame.
    expect(r.stderr).not.toContain("chunk-error");
    expect(r.stderr).not.toContain("BAD_FRAME");
    sizes.forEach((size, i) => expect(readFileSync(join(out, `d${i % 10}`, `f${i}`))).toEqual(Buffer.from(seededBytes(size, 100 + i))));
  });

  test("an output that is already complete is verified and nothing is downloaded", async () => {
    const out = join(dir, "got", "single.bin");
    // No peer is listening at that address: success proves nothing was fetched.
    const r = await runCli(["get", "--linger", "0", await singlePkg, "--peer", "127.0.0.1:9", "-o", out]);
    expect(r.code).toBe(0);
    expect(r.stdout).toStartWith("VERIFY OK");
    expect(r.stderr).not.toContain("peer-");
  });

  test("with every peer unreachable, get exits 8 and leaves nothing behind: no .part, no progress file, no directory it made", async () => {
    const out = join(dir, "made-for-it", "unreachable.bin");
    const r = await runCli(["get", "--linger", "0", await singlePkg, "--peer", "127.0.0.1:9", "-o", out, "--retry-for", "1s"]);
    expect(r.code).toBe(8);
    expect(r.stderr.trim().split("\n").at(-1)).toMatch(/^bytetide: get: no peer could supply .*127\.0\.0\.1:9.*; no chunk verified yet, nothing to keep$/);
    expect(existsSync(join(dir, "made-for-it"))).toBe(false);
    expect(r.stdout).not.toContain("VERIFY OK");
  });

  test("a peer that does not have the package is named, and get exits 8", async () => {
    const other = await makePackage("other.bin", seededBytes(100_000, 5));
    const seed = await startSeed([other]);
    const r = await runCli(["get", "--linger", "0", await singlePkg, "--peer", seed.address, "-o", join(dir, "wrong.bin")]);
    expect(r.code).toBe(8);
    expect(r.stderr).toContain("UNKNOWN_PACKAGE");
    await seed.stop();
  });
});

describe("faulty peers", () => {
  const flippedChunk = 17;
  const flipped = single.slice();
  flipped[flippedChunk * 65_536 + 999]! ^= 0x01;
  const flippedPath = join(dir, "flipped-data.bin");
  writeFileSync(flippedPath, flipped);

  test("a serve whose data does not match its package finds out before sending: it names the file and chunk, sends nothing wrong, and the get exits 8 naming the chunk, the peer and why", async () => {
    const bad = await startSeed([await singlePkg, "--data", flippedPath]);
    const r = await runCli(["get", "--linger", "0", await singlePkg, "--peer", bad.address, "-o", join(dir, "from-bad.bin"), "--retry-for", "2s"]);
    const seedLog = (await bad.stop()).stderr;
    expect(r.code).toBe(8);
    expect(r.stdout).not.toContain("VERIFY OK");
    // Nothing wrong was sent (no chunk failed verification here); the refusal is named.
    expect(r.stderr).not.toContain("failed verification");
    expect(r.stderr).toContain(`chunk-error chunk=${flippedChunk} peer=${bad.address} reason="the peer's copy is damaged (it does not match the package)"`);
    expect(r.stderr.trim().split("\n").at(-1)).toContain(`chunk ${flippedChunk}: peer ${bad.address} refused it, its copy being damaged (it does not match the package), and no other peer could supply it (1 chunks missing;`);
    expect(seedLog).toContain(`chunk-error chunk=${flippedChunk} file=${flippedPath} reason="the data on disk does not match the package"`);
  });

  // Chunks up to LIMITS.inlineVerifyBytes are hashed on the JS thread, longer ones hashed and written on the native pool.
  test.each([
    ["64KiB", "on the JS thread"],
    ["2MiB", "on the hashing pool"],
  ])("a peer that sends a corrupted chunk (%s, hashed %s): get names the chunk and the peer, exits 5, and never says VERIFY OK", async (chunkSize) => {
    const path = join(dir, `single-${chunkSize}.bin`);
    writeFileSync(path, single);
    await make(path, ["--chunk-size", chunkSize]);
    const pkg = await readPackage(`${path}.bpkg`);
    const badChunk = Math.floor((flippedChunk * 65_536 + 999) / pkg.chunkSize);
    const liar = fakeSeed(pkg, (chunk, write) => {
      const start = chunk * pkg.chunkSize;
      const end = Math.min(start + pkg.chunkSize, single.length);
      const source = chunk === badChunk ? flipped : single;
      for (let at = start; at < end; at += NET.blockSize) write(encodePiece(chunk, at - start, source.subarray(at, Math.min(at + NET.blockSize, end))));
    });
    try {
      const r = await runCli(["get", "--linger", "0", `${path}.bpkg`, "--peer", `127.0.0.1:${liar.port}`, "-o", join(dir, `from-liar-${chunkSize}.bin`), "--retry-for", "2s"]);
      expect(r.code).toBe(5);
      expect(r.stdout).not.toContain("VERIFY OK");
      expect(r.stderr.trim().split("\n").at(-1)).toContain(`chunk ${badChunk} from peer 127.0.0.1:${liar.port} failed verification`);
      expect(r.stderr).toContain(`chunk-error chunk=${badChunk} peer=127.0.0.1:${liar.port}`);
    } finally {
      liar.stop(true);
    }
  });

  test("beside a good serve, the bad one is worked around and the get completes", async () => {
    const bad = await startSeed([await singlePkg, "--data", flippedPath]);
    const good = await startSeed([await singlePkg]);
    const out = join(dir, "from-both.bin");
    const r = await runCli(["get", "--linger", "0", await singlePkg, "--peer", bad.address, "--peer", good.address, "-o", out]);
    expect(r.stdout).toStartWith("VERIFY OK");
    expect(readFileSync(out)).toEqual(Buffer.from(single));
    await Promise.all([bad.stop(), good.stop()]);
  });

  test("a peer killed mid-transfer: its requests move to the other peer", async () => {
    const big = await makePackage("big.bin", seededBytes(24 * 1024 * 1024, 77));
    const doomed = await startSeed([big, "--max-upload-rate", "8M"]);
    const steady = await startSeed([big, "--max-upload-rate", "8M"]);
    const out = join(dir, "survivor.bin");
    const get = spawnCli(["get", "--linger", "0", big, "--peer", doomed.address, "--peer", steady.address, "-o", out]);
    await waitForVerified(get, big, `${out}.btstate`, 20);
    doomed.proc.kill("SIGKILL");
    const r = await get.done;
    expect(r.stdout).toStartWith("VERIFY OK");
    expect(r.stderr).toContain(`peer-disconnected peer=${doomed.address}`);
    expect(readFileSync(out)).toEqual(Buffer.from(seededBytes(24 * 1024 * 1024, 77)));
    await steady.stop();
  });
});

describe("interruption and resume", () => {
  const payload = seededBytes(32 * 1024 * 1024, 99);
  const pkg = makePackage("resume.bin", payload);

  test("kill -9 at five random points, resuming each time: the final bytes are identical", () => replayable(async (random) => {
    const seed = await startSeed([await pkg, "--max-upload-rate", "20M"]);
    const out = join(dir, "resumed.bin");
    const state = `${out}.btstate`;
    const total = 512;
    const kills: number[] = [];
    for (let k = 0; k < 5; k++) {
      const before = (await verifiedChunks(await pkg, state)).count;
      const target = before + 8 + Math.floor(random() * ((total - before) / 4));
      const get = spawnCli(["get", "--linger", "0", await pkg, "--peer", seed.address, "-o", out]);
      await waitForVerified(get, await pkg, state, target);
      get.proc.kill("SIGKILL");
      await get.done;
      const after = await verifiedChunks(await pkg, state);
      expect(after.clean).toBe(false);
      kills.push(after.count);
    }
    expect(kills.every((n, i) => i === 0 || n >= kills[i - 1]! - 16)).toBe(true);
    const last = await runCli(["get", "--linger", "0", await pkg, "--peer", seed.address, "-o", out]);
    expect(last.stdout).toStartWith("VERIFY OK");
    // The unclean stop is noticed and the claimed chunks re-checked before trusting them.
    expect(last.stderr).toContain("resume-check");
    expect(readFileSync(out)).toEqual(Buffer.from(payload));
    await seed.stop();
  }));

  test("Ctrl-C while a peer is still shaking hands: the get exits at once, and that connection does not keep it alive", async () => {
    // The peer answers HELLO only after 2 s, then stays silent but for keepalives: admitted
    // after the get stopped, it would hold the process for the idle timeout (60 s).
    const slow = fakeSeed(await readPackage(await pkg), () => {}, 2_000);
    try {
      const get = spawnCli(["get", "--linger", "0", await pkg, "--peer", `127.0.0.1:${slow.port}`, "-o", join(dir, "never.bin")], 20_000);
      await get.waitFor(/ listening /, 10_000, "stderr");
      get.proc.kill("SIGINT");
      const r = await get.done;
      expect(r.code, r.stderr).toBe(130);
    } finally {
      slow.stop(true);
    }
  });

  test("Ctrl-C saves a clean state; the rerun trusts it and completes", async () => {
    const seed = await startSeed([await pkg, "--max-upload-rate", "20M"]);
    const out = join(dir, "interrupted.bin");
    const get = spawnCli(["get", "--linger", "0", await pkg, "--peer", seed.address, "-o", out]);
    await waitForVerified(get, await pkg, `${out}.btstate`, 40);
    get.proc.kill("SIGINT");
    const r = await get.done;
    expect(r.code).toBe(130);
    expect(r.stderr.trim().split("\n").at(-1)).toMatch(/interrupted; progress saved \(\d+ of 512 chunks\)/);
    const saved = await verifiedChunks(await pkg, `${out}.btstate`);
    expect(saved.clean).toBe(true);
    expect(saved.count).toBeGreaterThanOrEqual(40);
    const rerun = await runCli(["get", "--linger", "0", await pkg, "--peer", seed.address, "-o", out]);
    expect(rerun.stdout).toStartWith("VERIFY OK");
    expect(rerun.stderr).not.toContain("resume-check");
    expect(readFileSync(out)).toEqual(Buffer.from(payload));
    await seed.stop();
  });
});
