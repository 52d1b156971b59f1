import { expect, test } from "bun:test";
import { writeFileSync } from "node:fs";
import { join } from "node:path";
import { envName, parseArgs } from "../../src/cli/args.ts";
import { runCli } from "../helpers/cli.ts";
import { seededBytes, tempDir } from "../helpers/fixtures.ts";

const spec = {
  "max-upload-rate": { type: "string" as const },
  force: { type: "boolean" as const },
  peer: { type: "string" as const, multiple: true },
};

test("every flag has a BYTETIDE_* variable, named after it", () => {
  expect(envName("max-upload-rate")).toBe("BYTETIDE_MAX_UPLOAD_RATE");
});

test("variables fill in flags not given; the command line wins", () => {
  const env = { BYTETIDE_MAX_UPLOAD_RATE: "100M", BYTETIDE_FORCE: "yes", BYTETIDE_PEER: "10.0.0.1:7654, 10.0.0.2:7654" };
  expect(parseArgs("get", [], spec, env).flags).toMatchObject({ "max-upload-rate": "100M", force: true, peer: ["10.0.0.1:7654", "10.0.0.2:7654"] });
  expect(parseArgs("get", ["--max-upload-rate", "5M", "--peer", "h:1"], spec, env).flags).toMatchObject({ "max-upload-rate": "5M", peer: ["h:1"] });
});

test("a boolean variable that is not 1/0, true/false or yes/no is a usage error naming it", () => {
  expect(() => parseArgs("get", [], spec, { BYTETIDE_FORCE: "maybe" })).toThrow("BYTETIDE_FORCE=maybe: expected 1 or 0 (for --force)");
});

test("a real command takes its flags from the environment", async () => {
  const dir = tempDir("bytetide-env");
  writeFileSync(join(dir, "f.bin"), seededBytes(300_000, 1));
  const r = await runCli(["make", join(dir, "f.bin")], { env: { BYTETIDE_CHUNK_SIZE: "64KiB", BYTETIDE_OUTPUT: join(dir, "via-env.bpkg") } });
  expect(r.code).toBe(0);
  const info = JSON.parse((await runCli(["inspect", join(dir, "via-env.bpkg"), "--json"])).stdout);
  expect(info.chunk_size).toBe(65_536);
  const bad = await runCli(["make", join(dir, "f.bin"), "-o", join(dir, "x.bpkg")], { env: { BYTETIDE_CHUNK_SIZE: "3MiB" } });
  expect(bad.code).toBe(2);
  expect(bad.stderr).toContain("--chunk-size");
});
