import { BtError, EXIT_CODES } from "../errors.ts";
import type { Command } from "./command.ts";
import { helpOf } from "./help.ts";
import { diff } from "./commands/diff.ts";
import { inspect } from "./commands/inspect.ts";
import { ls } from "./commands/ls.ts";
import { make } from "./commands/make.ts";
import { verify } from "./commands/verify.ts";
import { get } from "./commands/get.ts";
import { serve } from "./commands/serve.ts";
import { simulate } from "./commands/simulate.ts";
import { status } from "./commands/status.ts";
import { versionLine } from "./version.ts";

const COMMANDS: Command[] = [make, inspect, verify, diff, serve, get, ls, status, simulate];

function overview(): string {
  const width = Math.max(...COMMANDS.map((c) => c.name.length));
  return [
    "bytetide: distribute large files across a cluster, every byte verified",
    "",
    "Usage: bytetide <command> [options]",
    "",
    "Commands:",
    ...COMMANDS.map((c) => `  ${c.name.padEnd(width)}  ${c.summary}`),
    `  ${"help".padEnd(width)}  show help for a command`,
    "",
    "Run 'bytetide <command> --help' for a command's options. 'bytetide --version' names the hasher in use.",
  ].join("\n");
}

async function dispatch(argv: string[]): Promise<number> {
  const [name, ...rest] = argv;
  // No command at all is a usage error, as curl makes it: a script that lost its arguments must not pass.
  if (name === undefined) {
    process.stderr.write(`${overview()}\n`);
    return EXIT_CODES.BT_E_USAGE;
  }
  if (name === "--help" || name === "-h") {
    console.log(overview());
    return 0;
  }
  if (name === "--version" || name === "-V" || name === "version") {
    console.log(versionLine());
    return 0;
  }
  if (name === "help") {
    const topic = COMMANDS.find((c) => c.name === rest[0]);
    if (rest[0] !== undefined && !topic) throw new BtError("BT_E_USAGE", `help: unknown command '${rest[0]}'`);
    console.log(topic ? helpOf(topic) : overview());
    return 0;
  }
  const command = COMMANDS.find((c) => c.name === name);
  if (!command) throw new BtError("BT_E_USAGE", `unknown command '${name}' (see 'bytetide help')`);
  if (rest.includes("--help") || rest.includes("-h")) {
    console.log(helpOf(command));
    return 0;
  }
  return command.run(rest);
}

/** --json scripts read the failure from stdout too. */
const wantsJson = (argv: string[]): boolean => argv.includes("--json") || /^(1|true|yes)$/i.test(process.env.BYTETIDE_JSON ?? "");

/**
 * Every command, its help and its errors: one line on stderr and a documented exit code; a
 * stack trace only with BYTETIDE_DEBUG=1. main.ts loads this module for all but --version.
 */
export async function main(argv: string[]): Promise<number> {
  try {
    return await dispatch(argv);
  } catch (err) {
    if (err instanceof BtError) {
      process.stderr.write(`bytetide: ${err.message}\n`);
      if (wantsJson(argv)) process.stdout.write(`${JSON.stringify({ event: "error", code: err.code, exit_code: err.exitCode, message: err.message })}\n`);
      return err.exitCode;
    }
    process.stderr.write(`bytetide: internal error: ${(err as Error)?.message ?? String(err)}\n`);
    if (process.env.BYTETIDE_DEBUG === "1") process.stderr.write(`${(err as Error)?.stack}\n`);
    return EXIT_CODES.BT_E_INTERNAL;
  }
}
