import { afterAll, expect, test } from "bun:test";
import { readFileSync, writeFileSync } from "node:fs";
import { join } from "node:path";
import { readPackage } from "../../src/pkg/io.ts";
import { decodeMessage, encodeMessage, MESSAGE_TYPES } from "../../src/protocol/messages.ts";
import { makePackage, runCli } from "../helpers/cli.ts";
import { seededBytes, tempDir } from "../helpers/fixtures.ts";
import { spawnCli, startSeed } from "../helpers/peers.ts";
import { RawPeer } from "../helpers/raw-peer.ts";

/** Peers named the way users name them: host names, here `localhost` (the netlab tests use hosts files). */
const dir = tempDir("bytetide-names");
const payload = seededBytes(5_000_000, 17);
writeFileSync(join(dir, "f.bin"), payload);
await makePackage(join(dir, "f.bin"), ["--chunk-size", "256KiB"]);
const pkgPath = join(dir, "f.bin.bpkg");
const pkg = await readPackage(pkgPath);
const seed = await startSeed([pkgPath]);
afterAll(() => seed.stop());

test("get --peer localhost:PORT completes, and the seed sees no bad frame", async () => {
  const out = join(dir, "by-name.bin");
  const r = await runCli(["get", pkgPath, "--peer", `localhost:${seed.port}`, "--listen", "localhost:0", "-o", out, "--linger", "0"]);
  expect(r.stdout).toStartWith("VERIFY OK");
  expect(r.stderr).toContain(`peer-connected peer=127.0.0.1:${seed.port} direction=out via=localhost:${seed.port}`);
  expect(readFileSync(out)).toEqual(Buffer.from(payload));
});

test("getters told only the seed's name find each other through it and trade; nothing passes a name on", async () => {
  const slow = await startSeed([pkgPath, "--max-upload-rate", "2M"]);
  try {
    const gets = [1, 2, 3].map((k) => spawnCli(["get", pkgPath, "--peer", `localhost:${slow.port}`, "--listen", "127.0.0.1:0", "-o", join(dir, `swarm-${k}.bin`), "--linger", "5s"]));
    const results = await Promise.all(gets.map((g) => g.done));
    for (const [k, r] of results.entries()) {
      expect(r.stdout).toStartWith("VERIFY OK");
      expect(readFileSync(join(dir, `swarm-${k + 1}.bin`))).toEqual(Buffer.from(payload));
      expect(r.stderr).not.toContain("peers-skipped");
    }
    // Each getter connected to at least one other getter (direction in or out), learned through the seed.
    for (const r of results) expect(r.stderr).toMatch(new RegExp(`peer-connected peer=127\\.0\\.0\\.1:(?!${slow.port}\\b)\\d+`));
    const seedLog = (await slow.stop()).stderr;
    expect(seedLog).not.toContain("BAD_FRAME");
  } finally {
    await slow.stop();
  }
});

test("a PEERS entry the receiver cannot dial is skipped and logged; the connection stays and keeps serving", async () => {
  const peer = await RawPeer.connect(seed.port);
  const hello = encodeMessage({ type: "HELLO", root: pkg.root, peerId: seededBytes(16, 3), listenPort: 0, capabilities: 0, nonce: new Uint8Array(32) });
  const peers = encodeMessage({ type: "PEERS", peers: [{ host: "seed-host", port: 7654 }, { host: "127.0.0.1", port: 0 }] });
  await peer.send(new Uint8Array(Buffer.concat([hello, peers, encodeMessage({ type: "REQUEST", index: 0 })])));
  const frames = await peer.until((fs) => fs.some((f) => f.type === MESSAGE_TYPES.PIECE), 10_000);
  expect(peer.closed).toBe(false);
  expect(frames.map(decodeMessage).find((m) => m.type === "PIECE")).toMatchObject({ type: "PIECE", index: 0, offset: 0 });
  peer.close();
  const log = (await seed.stop()).stderr;
  expect(log).toMatch(/peers-skipped peer=127\.0\.0\.1:\d+ addresses="seed-host:7654,127\.0\.0\.1:0" reason="not an IP literal and port"/);
});
