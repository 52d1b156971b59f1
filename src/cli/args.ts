import { parseArgs as parseNodeArgs } from "node:util";
import { chunkSizeProblem } from "../pkg/format.ts";
import { BtError } from "../errors.ts";
import { parseSize } from "../util/units.ts";

export type FlagSpec = Record<string, { type: "boolean" | "string"; short?: string }>;

export interface ParsedArgs {
  positionals: string[];
  flags: Record<string, string | boolean | undefined>;
}

/** Strict parsing: an unknown flag or a missing value is a usage error naming the flag. */
export function parseArgs(command: string, argv: string[], spec: FlagSpec): ParsedArgs {
  try {
    const { values, positionals } = parseNodeArgs({ args: argv, options: { ...spec, help: { type: "boolean", short: "h" } }, allowPositionals: true, strict: true });
    return { positionals, flags: values as ParsedArgs["flags"] };
  } catch (err) {
    const message = (err as Error).message.split("\n")[0]!.replace(/\.$/, "");
    throw new BtError("BT_E_USAGE", `${command}: ${message} (see 'bytetide ${command} --help')`);
  }
}

export function expectPositionals(command: string, args: ParsedArgs, min: number, max: number, what: string): string[] {
  const n = args.positionals.length;
  if (n < min || n > max) throw new BtError("BT_E_USAGE", `${command}: expected ${what} (see 'bytetide ${command} --help')`);
  return args.positionals;
}

export function chunkSizeFlag(command: string, value: string | boolean | undefined, fallback: number): number {
  if (value === undefined) return fallback;
  const size = parseSize(String(value));
  const problem = size === null ? `cannot read '${value}' as a size` : chunkSizeProblem(size);
  if (problem) throw new BtError("BT_E_USAGE", `${command}: --chunk-size: ${problem}`);
  return size!;
}
