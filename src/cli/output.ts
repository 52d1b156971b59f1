import { BtError } from "../errors.ts";
import type { OutputMode } from "../util/log.ts";
import type { FlagSpec, ParsedArgs } from "./args.ts";

export const OUTPUT_FLAGS: FlagSpec = {
  json: { type: "boolean" },
  quiet: { type: "boolean", short: "q" },
};

export const OUTPUT_HELP = `Output:
  --json                NDJSON events on stdout, one object per line with an "event" field
  -q, --quiet           no progress display and no event log; errors only`;

export function outputMode(command: string, flags: ParsedArgs["flags"]): OutputMode {
  if (flags.json === true && flags.quiet === true) throw new BtError("BT_E_USAGE", `${command}: --json and --quiet exclude each other`);
  return flags.json === true ? "json" : flags.quiet === true ? "quiet" : "text";
}
