import { afterAll, describe, expect, test } from "bun:test";
import { readFileSync, writeFileSync } from "node:fs";
import { join } from "node:path";
import { authProof } from "../../src/peer/auth.ts";
import { readPackage } from "../../src/pkg/io.ts";
import { WIRE_ERRORS } from "../../src/protocol/codes.ts";
import { CAPABILITIES, decodeMessage, encodeMessage, MESSAGE_TYPES } from "../../src/protocol/messages.ts";
import { makePackage, runCli } from "../helpers/cli.ts";
import { seededBytes, tempDir } from "../helpers/fixtures.ts";
import { startSeed } from "../helpers/peers.ts";
import { RawPeer } from "../helpers/raw-peer.ts";

const dir = tempDir("bytetide-auth");
const payload = seededBytes(3_000_000, 12);
writeFileSync(join(dir, "p.bin"), payload);
await makePackage(join(dir, "p.bin"), ["--chunk-size", "256KiB"]);
const pkgPath = join(dir, "p.bin.bpkg");
const pkg = await readPackage(pkgPath);
const SECRET = "correct horse battery staple, cluster 7";
writeFileSync(join(dir, "secret"), `${SECRET}\n`);
writeFileSync(join(dir, "wrong"), "incorrect mule battery staple, cluster 7\n");
const seed = await startSeed([pkgPath, "--secret-file", join(dir, "secret")]);
afterAll(() => seed.stop());
const secret = new TextEncoder().encode(SECRET);

const clientHello = (capabilities: number, nonce: Uint8Array) =>
  encodeMessage({ type: "HELLO", root: pkg.root, peerId: seededBytes(16, 5), listenPort: 0, capabilities, nonce });

describe("a shared secret (--secret-file)", () => {
  test("peers that both hold it transfer as usual", async () => {
    const out = join(dir, "ok.bin");
    const r = await runCli(["get", pkgPath, "--peer", seed.address, "-o", out, "--linger", "0", "--secret-file", join(dir, "secret")]);
    expect(r.stdout).toStartWith("VERIFY OK");
    expect(readFileSync(out)).toEqual(Buffer.from(payload));
  });

  test("a peer without it gets an ERROR frame and nothing else", async () => {
    const peer = await RawPeer.connect(seed.port);
    await peer.send(clientHello(0, seededBytes(32, 1)));
    await peer.until(() => false, 2000);
    expect(peer.frames.map((f) => f.type)).toEqual([MESSAGE_TYPES.ERROR]);
    expect(peer.frames[0]!.code).toBe(WIRE_ERRORS.AUTH_FAILED);
    expect(peer.closed).toBe(true);
  });

  test("a get without it, or with the wrong one, fails with a clear reason and no data", async () => {
    for (const extra of [[], ["--secret-file", join(dir, "wrong")]]) {
      const out = join(dir, `refused-${extra.length}.bin`);
      const r = await runCli(["get", pkgPath, "--peer", seed.address, "-o", out, "--linger", "0", "--retry-for", "1s", ...extra]);
      expect(r.code).toBe(8);
      expect(r.stderr).toContain("AUTH_FAILED");
      expect(r.stdout).not.toContain("VERIFY OK");
    }
  });

  test("the secret never travels, and a recorded proof cannot be replayed", async () => {
    // A legitimate exchange, played by hand.
    const nonce = seededBytes(32, 42);
    const first = await RawPeer.connect(seed.port);
    await first.send(clientHello(CAPABILITIES.AUTH, nonce));
    const [helloFrame] = await first.until((fs) => fs.length >= 2);
    const serverHello = decodeMessage(helloFrame!) as { nonce: Uint8Array };
    const proof = authProof(secret, "initiator", pkg.root, nonce, serverHello.nonce);
    await first.send(encodeMessage({ type: "AUTH", proof }));
    const frames = await first.until((fs) => fs.some((f) => f.type === MESSAGE_TYPES.BITFIELD));
    expect(frames.map((f) => f.type).slice(0, 3)).toEqual([MESSAGE_TYPES.HELLO, MESSAGE_TYPES.AUTH, MESSAGE_TYPES.BITFIELD]);
    const everything = Buffer.concat(frames.map((f) => f.payload));
    expect(everything.includes(Buffer.from(SECRET))).toBe(false);
    first.close();

    // The same HELLO and proof again: the seed's nonce is new, so the proof no longer fits.
    const replay = await RawPeer.connect(seed.port);
    await replay.send(clientHello(CAPABILITIES.AUTH, nonce));
    await replay.until((fs) => fs.length >= 2);
    await replay.send(encodeMessage({ type: "AUTH", proof }));
    await replay.until(() => false, 2000);
    expect(replay.frames.map((f) => f.type)).toEqual([MESSAGE_TYPES.HELLO, MESSAGE_TYPES.AUTH, MESSAGE_TYPES.ERROR]);
    expect(replay.frames[2]!.code).toBe(WIRE_ERRORS.AUTH_FAILED);
  });

  test("a secret shorter than 16 bytes is refused at start", async () => {
    writeFileSync(join(dir, "short"), "tiny\n");
    const r = await runCli(["serve", pkgPath, "--listen", "127.0.0.1:0", "--secret-file", join(dir, "short")]);
    expect(r.code).toBe(2);
    expect(r.stderr).toContain("at least 16 bytes");
  });
});
