import { describe, expect, test } from "bun:test";
import { runCli } from "../helpers/cli.ts";

const COMMANDS = ["make", "inspect", "verify", "serve", "get"];

async function helpOf(command: string): Promise<string> {
  const r = await runCli([command, "--help"]);
  expect(r.code).toBe(0);
  return r.stdout;
}

/** The BYTETIDE_* names a help text lists, less the two every command reads. */
const variablesIn = (help: string): string[] =>
  [...new Set(help.match(/BYTETIDE_[A-Z_]+/g) ?? [])].filter((v) => v !== "BYTETIDE_HASHER" && v !== "BYTETIDE_DEBUG").sort();

/** The exit codes listed under "Exit codes:". */
const exitCodesIn = (help: string): number[] =>
  help
    .slice(help.indexOf("\nExit codes:\n"))
    .split("\n")
    .flatMap((line) => /^ {2}(\d+) /.exec(line)?.[1] ?? [])
    .map(Number);

/** "--max-upload-rate" for BYTETIDE_MAX_UPLOAD_RATE. */
const flagOf = (variable: string): string => `--${variable.slice("BYTETIDE_".length).toLowerCase().replace(/_/g, "-")}`;

describe("each command's --help lists its own environment variables", () => {
  test("make's are those of its flags and no others", async () => {
    expect(variablesIn(await helpOf("make"))).toEqual(["BYTETIDE_CHUNK_SIZE", "BYTETIDE_FORCE", "BYTETIDE_JSON", "BYTETIDE_OUTPUT", "BYTETIDE_QUIET", "BYTETIDE_VERBOSE"]);
  });

  test("inspect has only --json", async () => {
    expect(variablesIn(await helpOf("inspect"))).toEqual(["BYTETIDE_JSON"]);
  });

  test("get has the network, security and download flags, and make's --chunk-size is not among them", async () => {
    const variables = variablesIn(await helpOf("get"));
    for (const v of ["BYTETIDE_PEER", "BYTETIDE_ALLOW_SETUID", "BYTETIDE_SECRET_FILE", "BYTETIDE_MAX_PEERS", "BYTETIDE_LINGER"]) expect(variables).toContain(v);
    expect(variables).not.toContain("BYTETIDE_CHUNK_SIZE");
  });

  test.each(COMMANDS)("%s: every variable belongs to a flag its help documents, and every flag has one", async (command) => {
    const help = await helpOf(command);
    const variables = variablesIn(help);
    for (const v of variables) expect(help).toContain(`${flagOf(v)} `);
    const documented = [...new Set(help.match(/^ {2}(?:-\w, )?(--[a-z-]+)/gm) ?? [])].map((m) => m.replace(/^ {2}(?:-\w, )?/, "")).filter((f) => f !== "--help");
    expect(documented.sort()).toEqual(variables.map(flagOf).sort());
  });

  test.each(COMMANDS)("%s: the variables every command reads are named too", async (command) => {
    const help = await helpOf(command);
    expect(help).toContain("BYTETIDE_HASHER=js|native");
    expect(help).toContain("BYTETIDE_DEBUG=1");
  });
});

describe("each command's --help lists the exit codes it can return", () => {
  test.each([
    ["make", [0, 1, 2, 3, 6, 7]],
    ["inspect", [0, 1, 2, 3, 4]],
    ["verify", [0, 1, 2, 3, 4, 5]],
    ["serve", [0, 1, 2, 3, 4]],
    ["get", [0, 1, 2, 3, 4, 5, 6, 7, 8, 9, 130, 143]],
  ])("%s: %p", async (command, codes) => {
    expect(exitCodesIn(await helpOf(command))).toEqual(codes as number[]);
  });

  test("'bytetide help get' prints the same as 'bytetide get --help'", async () => {
    const r = await runCli(["help", "get"]);
    expect(r.stdout).toBe(await helpOf("get"));
  });
});
