import { afterAll, beforeAll, describe, expect, test } from "bun:test";
import { readFileSync, writeFileSync } from "node:fs";
import { join } from "node:path";
import { makePackage, runCli } from "../helpers/cli.ts";
import { seededBytes, tempDir } from "../helpers/fixtures.ts";
import { type Seed, spawnCli, startSeed } from "../helpers/peers.ts";

const dir = tempDir("bytetide-tls");
const openssl = (...args: string[]) => {
  const r = Bun.spawnSync(["openssl", ...args], { cwd: dir });
  if (r.exitCode !== 0) throw new Error(`openssl ${args.join(" ")}: ${r.stderr}`);
};

/** A throwaway cluster CA and node certificates signed by it (EC P-256, 1 day). */
function makeCa(name: string): void {
  openssl("req", "-x509", "-newkey", "ec", "-pkeyopt", "ec_paramgen_curve:prime256v1", "-nodes", "-keyout", `${name}-ca.key`, "-out", `${name}-ca.pem`, "-days", "1", "-subj", `/CN=${name} CA`);
}
function makeNode(ca: string, node: string): void {
  openssl("req", "-newkey", "ec", "-pkeyopt", "ec_paramgen_curve:prime256v1", "-nodes", "-keyout", `${node}.key`, "-out", `${node}.csr`, "-subj", `/CN=${node}`);
  // Peers dial each other by IP address, so node certificates name theirs.
  writeFileSync(join(dir, "ext.cnf"), "subjectAltName=IP:127.0.0.1,IP:::1\nextendedKeyUsage=serverAuth,clientAuth\n");
  openssl("x509", "-req", "-in", `${node}.csr`, "-CA", `${ca}-ca.pem`, "-CAkey", `${ca}-ca.key`, "-CAcreateserial", "-out", `${node}.pem`, "-days", "1", "-extfile", "ext.cnf");
}
const tlsArgs = (node: string, ca = "cluster") => ["--tls-cert", join(dir, `${node}.pem`), "--tls-key", join(dir, `${node}.key`), "--tls-ca", join(dir, `${ca}-ca.pem`)];

const payload = seededBytes(4_000_000, 8);
writeFileSync(join(dir, "p.bin"), payload);
await makePackage(join(dir, "p.bin"), ["--chunk-size", "256KiB"]);
const pkg = join(dir, "p.bin.bpkg");
const haveOpenssl = Bun.which("openssl") !== null;
let seed: Seed;

describe.skipIf(!haveOpenssl)("TLS (--tls-cert, --tls-key, --tls-ca) (needs openssl, to make the certificates)", () => {
  // Inside the describe, so that without openssl nothing here runs and the tests are reported as skipped.
  beforeAll(async () => {
    makeCa("cluster");
    makeCa("rogue");
    for (const n of ["seed", "node-a", "node-b"]) makeNode("cluster", n);
    makeNode("rogue", "intruder");
    seed = await startSeed([pkg, "--max-upload-rate", "2M", ...tlsArgs("seed")]);
  });
  afterAll(() => seed?.stop());

  test("nodes with certificates from the cluster CA swarm over TLS", async () => {
    const gets = ["node-a", "node-b"].map((n) => spawnCli(["get", pkg, "--peer", seed.address, "--listen", "127.0.0.1:0", "-o", join(dir, `${n}.bin`), "--linger", "5s", ...tlsArgs(n)]));
    const results = await Promise.all(gets.map((g) => g.done));
    for (const [i, r] of results.entries()) {
      if (!r.stdout.startsWith("VERIFY OK")) console.error(r.stderr);
      expect(r.stdout).toStartWith("VERIFY OK");
      expect(readFileSync(join(dir, `${["node-a", "node-b"][i]}.bin`))).toEqual(Buffer.from(payload));
    }
  });

  test("a plain-TCP client and a client with a certificate from another CA get nothing", async () => {
    for (const extra of [[], tlsArgs("intruder", "cluster")]) {
      const r = await runCli(["get", pkg, "--peer", seed.address, "-o", join(dir, `refused-${extra.length}.bin`), "--linger", "0", "--retry-for", "1s", ...extra]);
      expect(r.code).toBe(8);
      expect(r.stdout).not.toContain("VERIFY OK");
    }
  });

  test("TLS flags must come together", async () => {
    const r = await runCli(["serve", pkg, "--listen", "127.0.0.1:0", "--tls-cert", join(dir, "seed.pem")]);
    expect(r.code).toBe(2);
    expect(r.stderr).toContain("needs --tls-cert, --tls-key and --tls-ca together");
  });
});
