import { afterAll, describe, expect, test } from "bun:test";
import { existsSync, mkdirSync, readFileSync, writeFileSync } from "node:fs";
import { dirname, join } from "node:path";
import { makePackage, runCli } from "../helpers/cli.ts";
import { treeDigest } from "../helpers/deploy.ts";
import { ndjson } from "../helpers/expect.ts";
import { seededBytes, tempDir } from "../helpers/fixtures.ts";
import { type Seed, spawnCli, startSeed } from "../helpers/peers.ts";

const dir = tempDir("bytetide-only");
const FILES: Record<string, Uint8Array> = {
  "config.json": new TextEncoder().encode('{"layers": 80}\n'),
  "shards/00.bin": seededBytes(300_000, 1),
  "shards/01.bin": seededBytes(300_000, 2),
  "shards/02.bin": seededBytes(250_000, 3),
  "shards/extra/notes.json": new TextEncoder().encode('{"note": "x"}\n'),
  "tokenizer/vocab.json": seededBytes(90_000, 4),
  "README.md": new TextEncoder().encode("# weights\n"),
};
const source = join(dir, "weights");
for (const [path, bytes] of Object.entries(FILES)) {
  mkdirSync(dirname(join(source, path)), { recursive: true });
  writeFileSync(join(source, path), bytes);
}
const pkgPath = `${source}.bpkg`;
const made = makePackage(source, ["--chunk-size", "64KiB"]);
const jsonBytes = ["config.json", "shards/extra/notes.json", "tokenizer/vocab.json"].reduce((n, p) => n + FILES[p]!.length, 0);
const totalBytes = Object.values(FILES).reduce((n, b) => n + b.length, 0);

const seeds: Seed[] = [];
afterAll(async () => {
  for (const seed of seeds) await seed.stop();
});

/** Every path under root, files with their digest: the tree as a sorted listing. */
const listing = (root: string) => treeDigest(root).split("\n");

describe("get --only", () => {
  test("nested globs fetch exactly the matching files; the partial node serves what it has and no more; a later get without --only fetches only the rest", async () => {
    await made;
    const seed = await startSeed([pkgPath]);
    seeds.push(seed);
    const out = join(dir, "node-a", "weights");

    const partial = await runCli(["get", pkgPath, "--only", "**/*.json", "--peer", seed.address, "-o", out, "--linger", "0"]);
    expect(partial.code, partial.stderr).toBe(0);
    // Never "VERIFY OK", which scripts read as "every byte is here".
    expect(partial.stdout).toMatch(/^VERIFY PARTIAL [0-9a-f]{64} \(only 3 of 7 files, --only\)\n$/);
    const kept = ["config.json", "shards", "shards/extra", "shards/extra/notes.json", "tokenizer", "tokenizer/vocab.json"];
    expect(listing(out)).toEqual(listing(source).filter((line) => kept.includes(line.split(" ")[1]!)));
    // The progress file stays as the record of what the output holds.
    expect(existsSync(`${out}.btstate`)).toBe(true);
    // verify --only checks the part and says so; verify of the whole finds it incomplete.
    const partVerified = await runCli(["verify", pkgPath, out, "--only", "**/*.json"]);
    expect(partVerified.code, partVerified.stderr).toBe(0);
    expect(partVerified.stdout).toMatch(/^VERIFY PARTIAL [0-9a-f]{64} \(only 3 of 7 files, --only\)\n$/);
    expect((await runCli(["verify", pkgPath, out])).code).toBe(5);
    const vocab = join(out, "tokenizer", "vocab.json");
    const original = readFileSync(vocab);
    const damaged = Buffer.from(original);
    damaged[0]! ^= 0xff;
    writeFileSync(vocab, damaged);
    const partBad = await runCli(["verify", pkgPath, out, "--only", "tokenizer", "--json"]);
    expect(partBad.code).toBe(5);
    expect(ndjson(partBad.stdout)[0]).toMatchObject({ event: "result", ok: false, partial: true, bad_chunk_count: 1, missing_chunk_count: 0 });
    writeFileSync(vocab, original);
    // Another selection that finds no peer leaves the record of this one where it was.
    const elsewhere = await runCli(["get", pkgPath, "--only", "shards/0?.bin", "--peer", "127.0.0.1:9", "-o", out, "--linger", "0", "--retry-for", "1s"]);
    expect(elsewhere.code).toBe(8);
    expect(existsSync(`${out}.btstate`)).toBe(true);

    // Node A, holding the JSON files only, seeds them: with the seed gone, node B gets one
    // from it alone, and cannot get the shards there.
    const nodeA = spawnCli(["get", pkgPath, "--only", "**/*.json", "--peer", seed.address, "-o", out, "--seed", "--listen", "127.0.0.1:0", "--json"]);
    const port = (await nodeA.waitFor(/"event":"listening","time":"[^"]+","command":"get","address":"127\.0\.0\.1:(\d+)"/))[1]!;
    try {
      await seeds.pop()!.stop();
      const fromA = await runCli(["get", pkgPath, "--only", "tokenizer", "--peer", `127.0.0.1:${port}`, "-o", join(dir, "node-b", "weights"), "--linger", "0"]);
      expect(fromA.code, fromA.stderr).toBe(0);
      const lacking = await runCli(["get", pkgPath, "--only", "shards/0?.bin", "--peer", `127.0.0.1:${port}`, "-o", join(dir, "node-c", "weights"), "--linger", "0", "--retry-for", "1s"]);
      expect(lacking.code).toBe(8);
    } finally {
      nodeA.proc.kill("SIGTERM");
      await nodeA.done;
    }

    // Without --only, on the same output: the rest comes from the seed, the JSON files from the output itself.
    const again = await startSeed([pkgPath]);
    seeds.push(again);
    const rest = await runCli(["get", pkgPath, "--peer", again.address, "-o", out, "--linger", "0", "--json"]);
    expect(rest.code, rest.stderr).toBe(0);
    const done = ndjson(rest.stdout).find((e) => e.event === "done")!;
    expect(done.reused_bytes).toBe(jsonBytes);
    // The rate is the network's: received bytes over time, not what was already on disk.
    expect(done.received_bytes).toBe(totalBytes - jsonBytes);
    expect(Object.values(done.received_from as Record<string, number>).reduce((n, x) => n + x, 0)).toBe(totalBytes - jsonBytes);
    expect(treeDigest(out)).toBe(treeDigest(source));
    expect(existsSync(`${out}.btstate`)).toBe(false);
    expect((await runCli(["verify", pkgPath, out])).code).toBe(0);
  });

  test("a pattern that matches nothing is a usage error naming it, before anything is written", async () => {
    await made;
    const out = join(dir, "none");
    const r = await runCli(["get", pkgPath, "--only", "*.json", "--only", "weights/*.bin", "--peer", "127.0.0.1:9", "-o", out]);
    expect(r.code).toBe(2);
    expect(r.stderr).toContain("--only weights/*.bin: matches nothing in package weights");
    expect(existsSync(`${out}.btstate`)).toBe(false);
  });
});
