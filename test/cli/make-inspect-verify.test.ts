import { describe, expect, test } from "bun:test";
import { chmodSync, existsSync, mkdirSync, readFileSync, symlinkSync, truncateSync, writeFileSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { loadNativeHasher } from "../../src/hash/native.ts";
import { makePackage, runCli } from "../helpers/cli.ts";
import { seededBytes, sha256Hex, tempDir } from "../helpers/fixtures.ts";

const dir = tempDir("bytetide-cli");
const CHUNK = 65_536;
const nativeBuilt = loadNativeHasher() !== null;

/**
 * SHA-256 by coreutils' sha256sum: a third implementation, independent of both backends
 * under test (Bun.CryptoHasher, which is BoringSSL, and the Rust sha2 crate in the addon).
 */
function referenceSha256(...parts: Uint8Array[]): Buffer {
  const r = Bun.spawnSync(["sha256sum"], { stdin: Buffer.concat(parts) });
  if (r.exitCode !== 0) throw new Error(`sha256sum exited ${r.exitCode}: ${r.stderr.toString()}`);
  return Buffer.from(r.stdout.toString().slice(0, 64), "hex");
}

/** Chunk digests and their RFC 6962 Merkle root (docs/format.md), from the reference alone. */
function referenceHashes(data: Uint8Array, chunkSize: number): { chunks: Buffer[]; root: Buffer } {
  const chunks: Buffer[] = [];
  for (let at = 0; at < data.length; at += chunkSize) chunks.push(referenceSha256(data.subarray(at, at + chunkSize)));
  const tree = (from: number, to: number): Buffer => {
    if (to - from === 1) return referenceSha256(Uint8Array.of(0), chunks[from]!);
    let k = 1;
    while (k * 2 < to - from) k *= 2;
    return referenceSha256(Uint8Array.of(1), tree(from, from + k), tree(from + k, to));
  };
  return { chunks, root: chunks.length === 0 ? referenceSha256() : tree(0, chunks.length) };
}

/** A one-line error on stderr, no stack trace, and the documented exit code. */
function expectCleanError(result: { code: number; stderr: string }, exitCode: number, ...mentions: string[]): void {
  expect(result.code).toBe(exitCode);
  const lines = result.stderr.trim().split("\n");
  expect(lines.length).toBe(1);
  expect(lines[0]).toStartWith("bytetide: ");
  for (const m of mentions) expect(lines[0]).toContain(m);
}

function makeTree(root: string): void {
  mkdirSync(join(root, "sub", "deeper"), { recursive: true });
  mkdirSync(join(root, "empty-dir"));
  writeFileSync(join(root, "a.bin"), seededBytes(3 * CHUNK + 17, 1));
  writeFileSync(join(root, "sub", "b.bin"), seededBytes(CHUNK, 2));
  writeFileSync(join(root, "sub", "deeper", "c.txt"), "small\n");
  writeFileSync(join(root, "empty.txt"), "");
  chmodSync(join(root, "sub", "b.bin"), 0o755);
  symlinkSync("sub/b.bin", join(root, "link-to-b"));
}

describe("a single-file package", () => {
  const file = join(dir, "model.bin");
  writeFileSync(file, seededBytes(5 * CHUNK + 1000, 42));
  const pkgPath = `${file}.bpkg`;

  test("make writes <name>.bpkg beside the input and prints the root", async () => {
    const r = await runCli(["make", file, "--chunk-size", "64KiB"]);
    expect(r.stderr).toBe("");
    expect(r.code).toBe(0);
    expect(existsSync(pkgPath)).toBe(true);
    expect(r.stdout).toMatch(/^root [0-9a-f]{64}$/m);
  });

  test("inspect --json gives the fields scripts rely on, with chunk hashes anyone can check", async () => {
    const r = await runCli(["inspect", pkgPath, "--json"]);
    expect(r.code).toBe(0);
    const info = JSON.parse(r.stdout);
    expect(info.format_version).toBe(1);
    expect(info.chunk_size).toBe(CHUNK);
    expect(info.total_size).toBe(5 * CHUNK + 1000);
    expect(info.files).toEqual([{ path: "model.bin", size: 5 * CHUNK + 1000, mode: "0644", first_chunk: 0, chunk_count: 6 }]);
    const reference = referenceHashes(readFileSync(file), CHUNK);
    expect(info.chunk_hashes).toEqual(reference.chunks.map((d) => d.toString("hex")));
    expect(info.merkle_root).toBe(reference.root.toString("hex"));
    const made = await runCli(["inspect", pkgPath]);
    expect(made.stdout).toContain(`root     ${info.merkle_root}`);
  });

  test("verify finds the data by its recorded name and prints VERIFY OK <root>", async () => {
    const info = JSON.parse((await runCli(["inspect", pkgPath, "--json"])).stdout);
    const r = await runCli(["verify", pkgPath]);
    expect(r.code).toBe(0);
    expect(r.stdout.trim()).toBe(`VERIFY OK ${info.merkle_root}`);
  });

  test("verify names the chunk holding one flipped byte and exits 5", async () => {
    const copy = join(dir, "flipped.bin");
    const bytes = readFileSync(file);
    bytes[3 * CHUNK + 10]! ^= 0x40;
    writeFileSync(copy, bytes);
    const r = await runCli(["verify", pkgPath, copy]);
    expect(r.stdout).toContain("bad      chunks 3\n");
    expect(r.stdout).not.toContain("VERIFY OK");
    expectCleanError(r, 5, copy, "1 of 6 chunks");
  });

  test("verify reports the chunks a truncated file lost as missing", async () => {
    const copy = join(dir, "truncated.bin");
    writeFileSync(copy, readFileSync(file));
    truncateSync(copy, 2 * CHUNK + 5);
    const r = await runCli(["verify", pkgPath, copy]);
    expect(r.stdout).toContain("missing  chunks 2-5");
    expect(r.stdout).toContain(`size ${2 * CHUNK + 5}, expected ${5 * CHUNK + 1000}`);
    expectCleanError(r, 5);
  });

  test("verify fails on a file with extra bytes even though every chunk matches", async () => {
    const copy = join(dir, "grown.bin");
    writeFileSync(copy, Buffer.concat([readFileSync(file), Buffer.from("tail")]));
    const r = await runCli(["verify", pkgPath, copy]);
    expect(r.stdout).toContain("expected");
    expectCleanError(r, 5);
  });

  test("without --chunk-size the chunk size follows the package's size (pkg/format.ts defaultChunkSize)", async () => {
    const other = join(dir, "by-size.bin");
    writeFileSync(other, seededBytes(600 * 1024, 43));
    const r = await runCli(["make", other, "--json"]);
    expect(r.code).toBe(0);
    const done = JSON.parse(r.stdout.trim().split("\n").at(-1)!);
    expect({ chunk_size: done.chunk_size, chunks: done.chunks }).toEqual({ chunk_size: 262_144, chunks: 3 });
  });

  test("an existing output is refused without --force and replaced with it", async () => {
    const refused = await runCli(["make", file, "--chunk-size", "64KiB"]);
    expectCleanError(refused, 6, pkgPath, "--force");
    const forced = await runCli(["make", file, "--chunk-size", "128KiB", "--force"]);
    expect(forced.code).toBe(0);
    expect(JSON.parse((await runCli(["inspect", pkgPath, "--json"])).stdout).chunk_size).toBe(131_072);
  });

  // Each backend, chosen explicitly, against the reference: comparing one with the other
  // would prove nothing on a machine where only one of them exists.
  for (const [backend, implementation] of [
    ["js", "Bun.CryptoHasher"],
    ["native", "the Rust addon"],
  ] as const) {
    test.skipIf(backend === "native" && !nativeBuilt)(
      `BYTETIDE_HASHER=${backend} (${implementation}) writes the chunk hashes, Merkle root and checksum that coreutils sha256sum computes${backend === "native" ? " (needs the native addon: ./scripts/bootstrap.sh with a Rust toolchain)" : ""}`,
      async () => {
        const env = { BYTETIDE_HASHER: backend };
        expect((await runCli(["--version"], { env })).stdout).toContain(`hasher: ${backend}`);
        const out = join(dir, `by-${backend}.bpkg`);
        await makePackage(file, ["-o", out, "--chunk-size", "64KiB"], { env });
        // Read straight from the bytes, by the layout in docs/format.md, so no bytetide code judges its own output.
        const pkg = readFileSync(out);
        const header = new DataView(pkg.buffer, pkg.byteOffset, 40);
        const chunkCount = header.getUint32(28, true);
        const hashesAt = 40 + header.getUint32(32, true);
        const reference = referenceHashes(readFileSync(file), CHUNK);
        expect(chunkCount).toBe(6);
        expect(pkg.subarray(hashesAt, hashesAt + 32 * chunkCount).toString("hex")).toBe(Buffer.concat(reference.chunks).toString("hex"));
        const rootAt = hashesAt + 32 * chunkCount;
        expect(pkg.subarray(rootAt, rootAt + 32).toString("hex")).toBe(reference.root.toString("hex"));
        expect(pkg.length).toBe(rootAt + 64);
        expect(pkg.subarray(rootAt + 32).toString("hex")).toBe(referenceSha256(pkg.subarray(0, rootAt + 32)).toString("hex"));
      },
    );
  }
});

describe("a directory package", () => {
  const root = join(dir, "weights");
  makeTree(root);
  const pkgPath = join(dir, "weights.bpkg");

  test("records files, empty files, empty directories, modes and internal symlinks", async () => {
    expect((await runCli(["make", root, "--chunk-size", "64KiB"])).code).toBe(0);
    const info = JSON.parse((await runCli(["inspect", pkgPath, "--json"])).stdout);
    expect(info.kind).toBe("directory");
    expect(info.files.map((f: { path: string }) => f.path)).toEqual([
      "weights/a.bin",
      "weights/empty.txt",
      "weights/sub/b.bin",
      "weights/sub/deeper/c.txt",
    ]);
    expect(info.files[2].mode).toBe("0755");
    expect(info.directories.map((d: { path: string }) => d.path)).toEqual(["weights", "weights/empty-dir", "weights/sub", "weights/sub/deeper"]);
    expect(info.symlinks).toEqual([{ path: "weights/link-to-b", target: "sub/b.bin" }]);
    expect(info.chunk_count).toBe(4 + 1 + 1);
  });

  test("verify passes on the tree and fails on a removed file, naming it", async () => {
    expect((await runCli(["verify", pkgPath])).stdout).toStartWith("VERIFY OK ");
    const copy = join(dir, "weights-copy");
    makeTree(copy);
    Bun.spawnSync(["rm", join(copy, "sub", "b.bin")]);
    const r = await runCli(["verify", pkgPath, copy]);
    expect(r.stdout).toContain(`problem  ${join(copy, "sub", "b.bin")}: no such file or directory`);
    expect(r.stdout).toContain("missing  chunks 4");
    expectCleanError(r, 5);
  });

  test("make refuses a symlink that leaves the tree, naming it", async () => {
    const leaky = join(dir, "leaky");
    mkdirSync(leaky);
    writeFileSync(join(leaky, "ok.txt"), "ok");
    symlinkSync("../../etc/passwd", join(leaky, "escape"));
    expectCleanError(await runCli(["make", leaky]), 3, join(leaky, "escape"), "outside the package");
  });

  test("make refuses special files such as named pipes", async () => {
    const odd = join(dir, "odd");
    mkdirSync(odd);
    Bun.spawnSync(["mkfifo", join(odd, "pipe")]);
    expectCleanError(await runCli(["make", odd]), 3, join(odd, "pipe"), "named pipe");
  });
});

describe("bad input gets one clear line and a documented exit code", () => {
  test("an empty file is a valid package whose root is SHA-256 of nothing", async () => {
    const empty = join(dir, "empty.dat");
    writeFileSync(empty, "");
    expect((await runCli(["make", empty])).code).toBe(0);
    const r = await runCli(["verify", `${empty}.bpkg`]);
    expect(r.stdout.trim()).toBe(`VERIFY OK ${sha256Hex("")}`);
  });

  test("a missing input exits 3", async () => {
    expectCleanError(await runCli(["make", join(dir, "nope")]), 3, join(dir, "nope"), "no such file");
  });

  test("an unreadable directory exits 3 and names it", async () => {
    const locked = join(dir, "locked");
    mkdirSync(join(locked, "inner"), { recursive: true });
    chmodSync(dir, 0o755);
    chmodSync(join(locked, "inner"), 0o000);
    const r = await runCli(["make", locked, "-o", join(tmpdir(), `unwritten-${process.pid}.bpkg`)], { unprivileged: true });
    chmodSync(join(locked, "inner"), 0o755);
    expectCleanError(r, 3, join(locked, "inner"), "permission denied");
  });

  test.each(["1000", "3MiB", "32KiB", "128MiB", "lots"])("--chunk-size %p exits 2", async (size) => {
    expectCleanError(await runCli(["make", join(dir, "model.bin"), "-o", join(dir, "x.bpkg"), "--chunk-size", size]), 2, "--chunk-size");
  });

  test("an unknown flag exits 2 and names the flag", async () => {
    expectCleanError(await runCli(["make", "--frobnicate", join(dir, "model.bin")]), 2, "--frobnicate");
  });

  test("an unknown command exits 2", async () => {
    expectCleanError(await runCli(["mkae", "x"]), 2, "mkae");
  });

  test("a truncated .bpkg exits 4", async () => {
    const bytes = readFileSync(join(dir, "model.bin.bpkg"));
    const cut = join(dir, "cut.bpkg");
    writeFileSync(cut, bytes.subarray(0, bytes.length - 10));
    expectCleanError(await runCli(["inspect", cut]), 4, cut, "truncated");
    expectCleanError(await runCli(["verify", cut]), 4, cut, "truncated");
  });

  test("a corrupt .bpkg exits 4", async () => {
    const bytes = readFileSync(join(dir, "model.bin.bpkg"));
    bytes[60]! ^= 1;
    const bad = join(dir, "corrupt.bpkg");
    writeFileSync(bad, bytes);
    expectCleanError(await runCli(["inspect", bad]), 4, bad, "checksum");
  });

  test("a file that is not a .bpkg exits 4", async () => {
    const text = join(dir, "notes.bpkg");
    writeFileSync(text, "these are not the bytes you are looking for, but they are long enough\n");
    expectCleanError(await runCli(["inspect", text]), 4, text, "not a bytetide package");
  });

  test("a .bpkg from a newer format version exits 4 and asks for an upgrade", async () => {
    const bytes = readFileSync(join(dir, "model.bin.bpkg"));
    bytes[8] = 9;
    const future = join(dir, "future.bpkg");
    writeFileSync(future, bytes);
    expectCleanError(await runCli(["inspect", future]), 4, future, "format version 9");
  });

  test("a directory given as a package exits 3", async () => {
    expectCleanError(await runCli(["inspect", dir]), 3, dir, "is a directory");
  });

  test("help is available for every command", async () => {
    for (const cmd of ["make", "inspect", "verify"]) {
      const r = await runCli([cmd, "--help"]);
      expect(r.code).toBe(0);
      expect(r.stdout).toStartWith(`Usage: bytetide ${cmd}`);
      expect((await runCli(["help", cmd])).stdout).toBe(r.stdout);
    }
  });
});
