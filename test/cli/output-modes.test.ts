import { beforeAll, describe, expect, test } from "bun:test";
import { existsSync, readFileSync, rmSync, truncateSync, writeFileSync } from "node:fs";
import { join } from "node:path";
import { runCli } from "../helpers/cli.ts";
import { expectCleanError, ndjson } from "../helpers/expect.ts";
import { seededBytes, tempDir } from "../helpers/fixtures.ts";

const dir = tempDir("bytetide-modes");
const CHUNK = 65_536;
const input = join(dir, "model.bin");
const pkg = `${input}.bpkg`;

beforeAll(async () => {
  writeFileSync(input, seededBytes(6 * CHUNK + 100, 5));
  const made = await runCli(["make", input, "--chunk-size", "64KiB"]);
  expect(made.code).toBe(0);
});

/** The events of an NDJSON run other than progress, which comes at most once a second however long the run. */
const eventsOf = (stdout: string) => ndjson(stdout).filter((e) => e.event !== "progress");

describe("make --quiet", () => {
  test("prints nothing when it succeeds, and writes the package", async () => {
    const out = join(dir, "quiet.bpkg");
    const r = await runCli(["make", input, "-o", out, "--quiet", "--chunk-size", "64KiB"]);
    expect(r).toEqual({ code: 0, stdout: "", stderr: "" });
    expect(readFileSync(out)).toEqual(readFileSync(pkg));
  });

  test("prints only the error when it fails", async () => {
    const r = await runCli(["make", join(dir, "nope"), "-o", join(dir, "nope.bpkg"), "-q"]);
    expect(r.stdout).toBe("");
    expectCleanError(r, 3, join(dir, "nope"));
  });
});

describe("verify --json", () => {
  test("a match is one result event with ok true and nothing on stderr", async () => {
    const r = await runCli(["verify", pkg, "--json"]);
    expect(r.code).toBe(0);
    expect(r.stderr).toBe("");
    const info = JSON.parse((await runCli(["inspect", pkg, "--json"])).stdout);
    expect(eventsOf(r.stdout)).toEqual([
      expect.objectContaining({
        event: "result",
        command: "verify",
        ok: true,
        root: info.merkle_root,
        package: pkg,
        path: input,
        chunk_count: 7,
        bad_chunk_count: 0,
        missing_chunk_count: 0,
        bad_chunks: [],
        missing_chunks: [],
        entry_problems: [],
      }),
    ]);
  });

  test("a mismatch lists bad and missing chunks as runs, the entries that differ, then the error; exit 5", async () => {
    const copy = join(dir, "damaged.bin");
    const bytes = readFileSync(input);
    bytes[1 * CHUNK + 7]! ^= 0x01;
    bytes[2 * CHUNK + 7]! ^= 0x01;
    writeFileSync(copy, bytes);
    truncateSync(copy, 4 * CHUNK);
    const r = await runCli(["verify", pkg, copy, "--json"]);
    expectCleanError(r, 5, copy);
    const [result, error] = eventsOf(r.stdout);
    expect(result).toMatchObject({
      event: "result",
      ok: false,
      path: copy,
      bad_chunk_count: 2,
      missing_chunk_count: 3,
      bad_chunks: [[1, 2]],
      missing_chunks: [[4, 6]],
      entry_problems: [`${copy}: size ${4 * CHUNK}, expected ${6 * CHUNK + 100}`],
    });
    expect(error).toMatchObject({ event: "error", code: "BT_E_VERIFY", exit_code: 5 });
    expect(eventsOf(r.stdout)).toHaveLength(2);
  });

  test("data that is not there at all is a result too, every chunk missing", async () => {
    const gone = join(dir, "gone.bin");
    const r = await runCli(["verify", pkg, gone, "--json"]);
    expect(r.code).toBe(5);
    expect(eventsOf(r.stdout)[0]).toMatchObject({ ok: false, missing_chunks: [[0, 6]], entry_problems: [`${gone}: no such file or directory`] });
  });

  test("a package that cannot be read is only an error event, with its own exit code", async () => {
    const r = await runCli(["verify", join(dir, "nope.bpkg"), "--json"]);
    expectCleanError(r, 3, join(dir, "nope.bpkg"));
    expect(eventsOf(r.stdout)).toEqual([expect.objectContaining({ event: "error", code: "BT_E_INPUT", exit_code: 3 })]);
  });
});

describe("verify --quiet", () => {
  test("prints nothing on a match", async () => {
    expect(await runCli(["verify", pkg, "--quiet"])).toEqual({ code: 0, stdout: "", stderr: "" });
  });

  test("prints only the one-line error on a mismatch", async () => {
    const copy = join(dir, "short.bin");
    writeFileSync(copy, readFileSync(input).subarray(0, CHUNK));
    const r = await runCli(["verify", pkg, copy, "--quiet"]);
    expect(r.stdout).toBe("");
    expectCleanError(r, 5, copy);
    rmSync(copy);
    expect(existsSync(copy)).toBe(false);
  });
});
