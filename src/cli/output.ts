import { BtError } from "../errors.ts";
import { type Logger, loggerFor, type OutputMode } from "../util/log.ts";
import type { FlagSpec, ParsedArgs } from "./args.ts";

export const OUTPUT_FLAGS: FlagSpec = {
  json: { type: "boolean" },
  quiet: { type: "boolean", short: "q" },
};

export const OUTPUT_HELP = `Output:
  --json                NDJSON events on stdout, one object per line with an "event" field
  -q, --quiet           no progress display and no event log; errors only`;

/** For the commands that draw a progress bar (make, verify, get). */
export const PROGRESS_FLAGS: FlagSpec = {
  ...OUTPUT_FLAGS,
  verbose: { type: "boolean", short: "v" },
};

export const PROGRESS_HELP = `${OUTPUT_HELP}
  -v, --verbose         on a terminal, log every event above the progress bar too (by
                        default it shows the bar, warnings and the result, as aria2 does);
                        off a terminal every event is always logged`;

/** The event log of a command with a progress bar: on a terminal, only warnings unless -v. */
export const progressLogger = (command: string, mode: OutputMode, flags: ParsedArgs["flags"]): Logger =>
  loggerFor(command, mode, flags.verbose === true ? "all" : "warnings");

export function outputMode(command: string, flags: ParsedArgs["flags"]): OutputMode {
  if (flags.json === true && flags.quiet === true) throw new BtError("BT_E_USAGE", `${command}: --json and --quiet exclude each other`);
  return flags.json === true ? "json" : flags.quiet === true ? "quiet" : "text";
}
