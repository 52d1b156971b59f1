import { beforeAll, describe, expect, test } from "bun:test";
import { chmodSync, existsSync, mkdirSync, readdirSync, writeFileSync } from "node:fs";
import { join } from "node:path";
import { runCli } from "../helpers/cli.ts";
import { expectCleanError, ndjson } from "../helpers/expect.ts";
import { seededBytes, tempDir } from "../helpers/fixtures.ts";

const dir = tempDir("bytetide-errors");
const input = join(dir, "data.bin");
const pkg = join(dir, "data.bin.bpkg");

beforeAll(async () => {
  writeFileSync(input, seededBytes(200_000, 9));
  const made = await runCli(["make", input, "--chunk-size", "64KiB"]);
  expect(made.stderr).toBe("");
  expect(made.code).toBe(0);
});

describe("command-line mistakes are told in bytetide's words, exit 2", () => {
  test("an unknown flag is named, with where to look", async () => {
    const r = await runCli(["get", pkg, "--frobnicate"]);
    expect(expectCleanError(r, 2)).toBe("bytetide: get: unknown flag --frobnicate (see 'bytetide get --help')");
  });

  test("an unknown flag with a value is named without the value", async () => {
    const r = await runCli(["make", input, "--frobnicate=3"]);
    expect(expectCleanError(r, 2)).toBe("bytetide: make: unknown flag --frobnicate (see 'bytetide make --help')");
  });

  test("an unknown letter in a group of short flags names the letter and the group", async () => {
    const r = await runCli(["make", input, "-fz"]);
    expect(expectCleanError(r, 2)).toBe("bytetide: make: unknown flag -z (in -fz) (see 'bytetide make --help')");
  });

  test.each([
    [["make", input, "-o"], "bytetide: make: -o needs a value (see 'bytetide make --help')"],
    [["get", pkg, "--peer"], "bytetide: get: --peer needs a value (see 'bytetide get --help')"],
  ])("a flag without its value says so: %p", async (argv, line) => {
    expect(expectCleanError(await runCli(argv), 2)).toBe(line);
  });

  test("a flag whose value looks like another flag says how to pass it", async () => {
    const r = await runCli(["make", input, "-o", "--force"]);
    expect(expectCleanError(r, 2)).toBe("bytetide: make: -o needs a value, but --force looks like a flag (write --output=--force if it is the value)");
  });

  test("a value given to a yes/no flag is refused, naming it", async () => {
    const r = await runCli(["make", input, "--force=yes"]);
    expect(expectCleanError(r, 2)).toBe("bytetide: make: --force takes no value (got --force=yes)");
  });

  test.each([[["get", pkg, "--frobnicate"]], [["make", input, "-o"]], [["make", input, "--force=1"]]])("Node's own wording never shows: %p", async (argv) => {
    const r = await runCli(argv);
    expect(r.stderr).not.toMatch(/Option '|argument missing|To specify a positional|does not take an argument/);
  });
});

describe("a bad value is echoed as typed", () => {
  test.each([
    [["get", pkg, "--peer", "127.0.0.1:1", "--zone", "rack 1"], {}, "get: --zone \"rack 1\""],
    [["serve", pkg], { BYTETIDE_ZONE: "r".repeat(64) }, `serve: --zone "${"r".repeat(64)}"`],
  ])("a zone that is not a zone name is refused before anything starts: %p", async (argv, env, named) => {
    const line = expectCleanError(await runCli(argv as string[], { env: env as Record<string, string> }), 2);
    expect(line).toBe(`bytetide: ${named}: expected 1-63 letters, digits and . _ : / -, such as rack-12 or us-east-1a`);
  });

  test.each([
    ["3MiB", "must be a power of two from 64KiB to 64MiB"],
    ["128MiB", "must be a power of two from 64KiB to 64MiB"],
    ["lots", "expected a size such as 4MiB"],
  ])("--chunk-size %p", async (size, why) => {
    const r = await runCli(["make", input, "-o", join(dir, "never.bpkg"), "--chunk-size", size]);
    expect(expectCleanError(r, 2)).toBe(`bytetide: make: --chunk-size ${size}: ${why}`);
  });

  test("a missing --secret-file names the flag and the file", async () => {
    const r = await runCli(["get", pkg, "--peer", "127.0.0.1:9", "--secret-file", "/no/such"]);
    expect(expectCleanError(r, 2)).toBe("bytetide: get: --secret-file /no/such: no such file or directory");
  });

  test("serve names it the same way", async () => {
    const r = await runCli(["serve", pkg, "--listen", "127.0.0.1:0", "--secret-file", "/no/such"]);
    expect(expectCleanError(r, 2)).toBe("bytetide: serve: --secret-file /no/such: no such file or directory");
  });

  test.each(["tls-cert", "tls-key", "tls-ca"])("a missing --%s names the flag and the file", async (missing) => {
    const pem = join(dir, "fake.pem");
    writeFileSync(pem, "-----BEGIN CERTIFICATE-----\n-----END CERTIFICATE-----\n");
    const tls = ["tls-cert", "tls-key", "tls-ca"].flatMap((flag) => [`--${flag}`, flag === missing ? `/no/such/${flag}.pem` : pem]);
    const r = await runCli(["get", pkg, "--peer", "127.0.0.1:9", ...tls]);
    expect(expectCleanError(r, 2)).toBe(`bytetide: get: --${missing} /no/such/${missing}.pem: no such file or directory`);
  });
});

describe("make checks where the package goes before hashing anything", () => {
  test("a missing input is still reported as the input, exit 3, even when its directory is missing too", async () => {
    const r = await runCli(["make", "/no/such/dir/input.bin"]);
    expect(expectCleanError(r, 3)).toBe("bytetide: /no/such/dir/input.bin: no such file or directory");
  });

  test("an output in a directory that does not exist exits 7, naming both", async () => {
    const out = join(dir, "no-such-dir", "x.bpkg");
    const r = await runCli(["make", input, "-o", out, "--json"]);
    const line = expectCleanError(r, 7);
    expect(line).toBe(`bytetide: ${out}: cannot be written: ${join(dir, "no-such-dir")}: no such file or directory`);
    // No 'start' or 'progress' event: it stopped before hashing the input.
    expect(ndjson(r.stdout).map((e) => e.event)).toEqual(["error"]);
    expect(existsSync(join(dir, "no-such-dir"))).toBe(false);
  });

  test("an output under a regular file exits 7 and says it is not a directory", async () => {
    const out = join(input, "x.bpkg");
    const r = await runCli(["make", input, "-o", out]);
    expect(expectCleanError(r, 7)).toBe(`bytetide: ${out}: cannot be written: ${input}: not a directory`);
  });

  test("an output directory nobody may write to exits 7", async () => {
    // Root may write anywhere, so this runs as 'nobody' against a root-owned 0755 directory.
    const readOnly = join(dir, "read-only");
    mkdirSync(readOnly, { mode: 0o755 });
    chmodSync(dir, 0o755);
    const out = join(readOnly, "x.bpkg");
    const r = await runCli(["make", input, "-o", out], { unprivileged: true });
    expect(expectCleanError(r, 7)).toBe(`bytetide: ${out}: cannot be written: ${readOnly}: permission denied`);
    expect(readdirSync(readOnly)).toEqual([]);
  });
});
