import { afterAll, describe, expect, test } from "bun:test";
import { chmodSync, mkdirSync, readFileSync, writeFileSync } from "node:fs";
import { join } from "node:path";
import { claimedId, encodePackage, packageId } from "../../src/pkg/format.ts";
import { readPackage } from "../../src/pkg/io.ts";
import { decodeMessage, encodeMessage, MESSAGE_TYPES, METADATA_BLOCK, NO_PACKAGE } from "../../src/protocol/messages.ts";
import { WIRE_ERRORS } from "../../src/protocol/codes.ts";
import { toHex } from "../../src/util/units.ts";
import { makePackage, runCli } from "../helpers/cli.ts";
import { fakeCatalogue } from "../helpers/fake-seed.ts";
import { seededBytes, tempDir } from "../helpers/fixtures.ts";
import { type Seed, startSeed } from "../helpers/peers.ts";
import { RawPeer } from "../helpers/raw-peer.ts";
import { ndjson } from "../helpers/expect.ts";
import { treeDigest } from "../helpers/deploy.ts";

const dir = tempDir("bytetide-by-id");

/** A directory package "name" of `files` files, each `size` bytes, with long names when asked (a large file table). */
async function dirPackage(name: string, files: number, size: number, longNames = false): Promise<string> {
  const root = join(dir, name);
  mkdirSync(join(root, "sub"), { recursive: true });
  for (let i = 0; i < files; i++) {
    const file = join(root, i % 2 ? "sub" : "", `${longNames ? "x".repeat(180) : "f"}${i}.bin`);
    writeFileSync(file, seededBytes(size + i, i));
    if (i % 3 === 0) chmodSync(file, 0o755);
  }
  await makePackage(root, ["--chunk-size", "64KiB"]);
  return `${root}.bpkg`;
}

const weights = dirPackage("weights", 12, 150_000);
const seeds: Seed[] = [];
const seedOf = async (...packages: string[]) => {
  const seed = await startSeed(packages);
  seeds.push(seed);
  return seed;
};
afterAll(async () => {
  for (const seed of seeds) await seed.stop();
});

describe("get by id, with nothing copied to the node first", () => {
  test("make prints the id and a get command; that command, pointed at the serve by name, fetches the package and its data, verified", async () => {
    const source = join(dir, "model");
    mkdirSync(source, { recursive: true });
    writeFileSync(join(source, "a.bin"), seededBytes(300_000, 1));
    writeFileSync(join(source, "b.bin"), seededBytes(70_000, 2));
    const made = await makePackage(source, ["--chunk-size", "64KiB"]);
    const id = /^id +([0-9a-f]{64})$/m.exec(made.stdout)![1]!;
    expect(id).toBe(toHex(packageId(await readPackage(`${source}.bpkg`))));
    const printed = /(bytetide get bytetide:\/\/\S+\/[0-9a-f]{64} -o model)$/m.exec(made.stdout)![1]!;
    expect(printed).toEndWith(`:7654/${id} -o model`);

    const seed = await seedOf(`${source}.bpkg`);
    const node = join(dir, "node-1");
    mkdirSync(node);
    // The printed command as a node runs it, with the serve's port and a name for its host.
    const argv = printed.replace(/bytetide:\/\/\S+?:7654\//, `bytetide://localhost:${seed.port}/`).split(" ").slice(1);
    const r = await runCli([...argv, "--linger", "0"], { cwd: node });
    expect(r.stderr).toContain("metadata");
    expect(r.stdout).toMatch(/^VERIFY OK [0-9a-f]{64}\n$/);
    expect(r.code).toBe(0);
    expect(treeDigest(join(node, "model"))).toBe(treeDigest(source));
  });

  test("ls lists what a serve offers, each with its id, size and name, in text and in JSON", async () => {
    const other = join(dir, "notes.txt");
    writeFileSync(other, "release notes\n");
    await makePackage(other);
    const seed = await seedOf(await weights, `${other}.bpkg`);
    const ids = await Promise.all([await weights, `${other}.bpkg`].map(async (p) => toHex(packageId(await readPackage(p)))));

    const text = await runCli(["ls", `localhost:${seed.port}`]);
    expect(text.code).toBe(0);
    expect(text.stdout.trim().split("\n")).toEqual([expect.stringMatching(new RegExp(`^${ids[1]} +14 B +notes\\.txt$`)), expect.stringMatching(new RegExp(`^${ids[0]} +\\S+ \\S+ +weights$`))]);

    const json = await runCli(["ls", `localhost:${seed.port}`, "--json"]);
    const listed = JSON.parse(json.stdout) as { packages: { id: string; name: string; size: number }[] };
    expect(listed.packages).toEqual([
      { id: ids[1]!, name: "notes.txt", size: 14 },
      { id: ids[0]!, name: "weights", size: (await readPackage(await weights)).totalSize },
    ]);
  });

  test("get --id --peer works as the URL does; an id no peer has exits 8 naming the peer and the id", async () => {
    const seed = await seedOf(await weights);
    const id = toHex(packageId(await readPackage(await weights)));
    const out = join(dir, "by-flag");
    const r = await runCli(["get", "--id", id, "--peer", seed.address, "-o", out, "--linger", "0"]);
    expect(r.code).toBe(0);
    expect(treeDigest(out)).toBe(treeDigest(join(dir, "weights")));

    const unknown = "ab".repeat(32);
    const missing = await runCli(["get", `bytetide://${seed.address}/${unknown}`, "-o", join(dir, "never"), "--linger", "0"]);
    expect(missing.code).toBe(8);
    expect(missing.stderr).toContain(`no package with id ${unknown} here`);
    expect(missing.stderr).toContain(seed.address);
  });

  test("metadata from a lying peer is refused and the next peer asked: another package under the id, this one altered, or altered under the true id", async () => {
    const seed = await seedOf(await weights);
    const pkg = await readPackage(await weights);
    const id = packageId(pkg);
    const other = join(dir, "impostor.bin");
    writeFileSync(other, seededBytes(100_000, 5));
    await makePackage(other);
    const impostor = encodePackage(await readPackage(`${other}.bpkg`));
    const altered = encodePackage({ ...pkg, entries: pkg.entries.map((e, i) => (i === 1 ? { ...e, mode: 0o4755 } : e)) });
    expect(toHex(claimedId(altered))).not.toBe(toHex(id));
    // The true id at the end, over bytes that no longer hash to it.
    const forged = altered.slice();
    forged.set(id, forged.length - id.length);
    const liars = [fakeCatalogue(() => impostor), fakeCatalogue(() => altered), fakeCatalogue(() => forged)];
    try {
      const peers = liars.flatMap((l) => ["--peer", `127.0.0.1:${l.port}`]);
      const out = join(dir, "despite-liars");
      const r = await runCli(["get", "--id", toHex(id), ...peers, "--peer", seed.address, "-o", out, "--linger", "0", "--json"]);
      expect(r.code).toBe(0);
      const refused = ndjson(r.stdout).filter((e) => e.event === "metadata_refused");
      expect(refused.map((e) => e.peer)).toEqual(liars.map((l) => `127.0.0.1:${l.port}`));
      for (const e of refused) expect(String(e.reason)).toContain(toHex(id));
      expect(treeDigest(out)).toBe(treeDigest(join(dir, "weights")));

      const onlyLiars = await runCli(["get", "--id", toHex(id), ...peers, "-o", join(dir, "never-2"), "--linger", "0"]);
      expect(onlyLiars.code).toBe(8);
      for (const l of liars) expect(onlyLiars.stderr).toContain(`127.0.0.1:${l.port}`);
    } finally {
      for (const l of liars) l.stop(true);
    }
  });

  test("a large file table is fetched in bounded frames, and the get by id completes", async () => {
    const big = await dirPackage("many-files", 4_000, 1, true);
    const encoded = encodePackage(await readPackage(big));
    expect(encoded.length).toBeGreaterThan(3 * METADATA_BLOCK);
    const seed = await seedOf(big);
    const id = claimedId(encoded);

    // One block per answer, whatever the package's size; past the end is an error.
    const raw = await RawPeer.connect(seed.port);
    await raw.send(encodeMessage({ type: "HELLO", root: NO_PACKAGE, peerId: new Uint8Array(16), listenPort: 0, capabilities: 0, nonce: new Uint8Array(32) }));
    await raw.send(encodeMessage({ type: "METADATA_REQUEST", id, offset: 0 }));
    await raw.send(encodeMessage({ type: "METADATA_REQUEST", id, offset: encoded.length }));
    const answers = (await raw.until((frames) => frames.some((f) => f.type === MESSAGE_TYPES.ERROR))).map(decodeMessage);
    raw.close();
    const metadata = answers.find((m) => m.type === "METADATA");
    expect(metadata).toMatchObject({ total: encoded.length, offset: 0 });
    expect(metadata?.type === "METADATA" && metadata.data).toEqual(encoded.subarray(0, METADATA_BLOCK));
    expect(answers.at(-1)).toMatchObject({ type: "ERROR", code: WIRE_ERRORS.OUT_OF_RANGE });

    const out = join(dir, "many-files-got");
    const r = await runCli(["get", `bytetide://${seed.address}/${toHex(id)}`, "-o", out, "--linger", "0"], { timeoutMs: 90_000 });
    expect(r.code).toBe(0);
    expect(treeDigest(out)).toBe(treeDigest(join(dir, "many-files")));
  });

  test("the package fetched by id is kept as PATH.bpkg: verify reads it, a rerun with every peer down uses it, and another package's .bpkg there is left alone", async () => {
    const seed = await startSeed([await weights]);
    const id = toHex(packageId(await readPackage(await weights)));
    const out = join(dir, "kept");
    const url = `bytetide://${seed.address}/${id}`;
    expect((await runCli(["get", url, "-o", out, "--linger", "0"])).code).toBe(0);
    expect(toHex(packageId(await readPackage(`${out}.bpkg`)))).toBe(id);
    expect((await runCli(["verify", `${out}.bpkg`, out])).stdout).toStartWith("VERIFY OK");

    expect((await seed.stop()).code).toBe(0);
    const again = await runCli(["get", url, "-o", out, "--linger", "0"]);
    expect(again.code, again.stderr).toBe(0);
    expect(again.stderr).toContain(`metadata file=${out}.bpkg`);

    const elsewhere = join(dir, "kept-elsewhere");
    writeFileSync(join(dir, "mine.txt"), "an operator's own package\n");
    await makePackage(join(dir, "mine.txt"));
    const mine = readFileSync(join(dir, "mine.txt.bpkg"));
    writeFileSync(`${elsewhere}.bpkg`, mine);
    const other = await seedOf(await weights);
    const r = await runCli(["get", `bytetide://${other.address}/${id}`, "-o", elsewhere, "--linger", "0"]);
    expect(r.code, r.stderr).toBe(0);
    expect(r.stderr).toContain("package-not-kept");
    expect(readFileSync(`${elsewhere}.bpkg`)).toEqual(mine);
  });

  test("with a shared secret, ls and get by id need it too: without it, exit 8 naming AUTH_FAILED", async () => {
    const secret = join(dir, "secret");
    writeFileSync(secret, "a cluster secret of some length\n");
    const seed = await seedOf(await weights, "--secret-file", secret);
    const id = toHex(packageId(await readPackage(await weights)));
    const refused = await runCli(["ls", seed.address]);
    expect(refused.code).toBe(8);
    expect(refused.stderr).toContain("AUTH_FAILED");
    const listed = await runCli(["ls", seed.address, "--secret-file", secret, "--json"]);
    expect(JSON.parse(listed.stdout).packages.map((p: { id: string }) => p.id)).toEqual([id]);
    const out = join(dir, "with-secret");
    const r = await runCli(["get", `bytetide://${seed.address}/${id}`, "--secret-file", secret, "-o", out, "--linger", "0"]);
    expect(r.code).toBe(0);
    expect(treeDigest(out)).toBe(treeDigest(join(dir, "weights")));
  });

  test("a bad id or URL is a usage error that names it", async () => {
    for (const [args, mention] of [
      [["get", "--id", "1234", "--peer", "127.0.0.1:9"], "--id 1234"],
      [["get", "bytetide://host-only", "-o", dir], "bytetide://host-only"],
      [["get", `bytetide://:7654/${"0".repeat(64)}`], "URL :7654"],
      [["ls", "not a peer:x"], "not a peer:x"],
    ] as const) {
      const r = await runCli([...args]);
      expect(r.code).toBe(2);
      expect(r.stderr).toContain(mention);
    }
  });
});
