import { parseArgs as parseNodeArgs } from "node:util";
import { chunkSizeProblem } from "../pkg/format.ts";
import { BtError } from "../errors.ts";
import { parseHostPort } from "../util/address.ts";
import { parseDuration, parseRate, parseSize } from "../util/units.ts";

export type FlagSpec = Record<string, { type: "boolean" | "string"; short?: string; multiple?: boolean }>;

export interface ParsedArgs {
  positionals: string[];
  flags: Record<string, string | boolean | string[] | undefined>;
}

/** "max-upload-rate" -> "BYTETIDE_MAX_UPLOAD_RATE". */
export const envName = (flag: string): string => `BYTETIDE_${flag.toUpperCase().replace(/-/g, "_")}`;

/**
 * A flag's value from its BYTETIDE_* variable: booleans as 1/0, true/false, yes/no;
 * repeatable flags as a comma- or space-separated list.
 */
function fromEnvironment(command: string, flag: string, kind: FlagSpec[string], env: Record<string, string | undefined>): ParsedArgs["flags"][string] {
  const raw = env[envName(flag)];
  if (raw === undefined || raw === "") return undefined;
  if (kind.type === "boolean") {
    if (/^(1|true|yes)$/i.test(raw)) return true;
    if (/^(0|false|no)$/i.test(raw)) return false;
    throw new BtError("BT_E_USAGE", `${command}: ${envName(flag)}=${raw}: expected 1 or 0 (for --${flag})`);
  }
  return kind.multiple ? raw.split(/[\s,]+/).filter(Boolean) : raw;
}

/** A value that parseArgs would take for a flag rather than for a string option's value. */
const looksLikeFlag = (value: string): boolean => value.length > 1 && value.startsWith("-");

/**
 * The first problem with the command line, in bytetide's words rather than Node's:
 * an unknown flag, a string flag without its value, a value given to a boolean flag.
 */
function commandLineProblem(command: string, argv: string[], spec: FlagSpec): string | null {
  const seeHelp = `(see 'bytetide ${command} --help')`;
  const { tokens } = parseNodeArgs({ args: argv, options: spec, allowPositionals: true, strict: false, tokens: true });
  for (const token of tokens) {
    if (token.kind !== "option") continue;
    const kind = spec[token.name];
    if (!kind) {
      const typed = argv[token.index]!;
      const within = typed !== token.rawName && !typed.startsWith(`${token.rawName}=`) ? ` (in ${typed})` : "";
      return `${command}: unknown flag ${token.rawName}${within} ${seeHelp}`;
    }
    if (kind.type === "boolean" && token.value !== undefined) return `${command}: ${token.rawName} takes no value (got ${token.rawName}=${token.value})`;
    if (kind.type === "string" && token.value === undefined) return `${command}: ${token.rawName} needs a value ${seeHelp}`;
    if (kind.type === "string" && !token.inlineValue && looksLikeFlag(token.value!)) {
      return `${command}: ${token.rawName} needs a value, but ${token.value} looks like a flag (write --${token.name}=${token.value} if it is the value)`;
    }
  }
  return null;
}

/**
 * Strict parsing: an unknown flag or a missing value is a usage error naming the flag.
 * A flag not on the command line is taken from its BYTETIDE_* variable, if set.
 */
export function parseArgs(command: string, argv: string[], spec: FlagSpec, env: Record<string, string | undefined> = process.env): ParsedArgs {
  const options: FlagSpec = { ...spec, help: { type: "boolean", short: "h" } };
  const problem = commandLineProblem(command, argv, options);
  if (problem) throw new BtError("BT_E_USAGE", problem);
  let parsed: ParsedArgs;
  try {
    const { values, positionals } = parseNodeArgs({ args: argv, options, allowPositionals: true, strict: true });
    parsed = { positionals, flags: values as ParsedArgs["flags"] };
  } catch (err) {
    // Only for a case commandLineProblem does not foresee: Node's words, on one line.
    const message = (err as Error).message.split("\n")[0]!.replace(/\.$/, "");
    throw new BtError("BT_E_USAGE", `${command}: ${message} (see 'bytetide ${command} --help')`);
  }
  for (const [flag, kind] of Object.entries(spec)) {
    if (parsed.flags[flag] === undefined) parsed.flags[flag] = fromEnvironment(command, flag, kind, env);
  }
  return parsed;
}

export function expectPositionals(command: string, args: ParsedArgs, min: number, max: number, what: string): string[] {
  const n = args.positionals.length;
  // A stray word names itself: "--linger 5 minutes" leaves "minutes" over.
  if (n > max) throw new BtError("BT_E_USAGE", `${command}: unexpected argument '${args.positionals[max]}': expected ${what} (see 'bytetide ${command} --help')`);
  if (n < min) throw new BtError("BT_E_USAGE", `${command}: expected ${what} (see 'bytetide ${command} --help')`);
  return args.positionals;
}

/** --chunk-size, checked; undefined when not given (the default follows the package's size). */
export function chunkSizeFlag(command: string, value: unknown): number | undefined {
  if (value === undefined) return undefined;
  const size = parseSize(String(value));
  const problem = size === null ? "expected a size such as 4MiB" : chunkSizeProblem(size);
  if (problem) throw new BtError("BT_E_USAGE", `${command}: --chunk-size ${value}: ${problem}`);
  return size!;
}

/** Every value of a repeatable flag (parseArgs gives an array with `multiple: true`). */
export const listFlag = (value: unknown): string[] => (value === undefined ? [] : Array.isArray(value) ? value.map(String) : [String(value)]);

export function integerFlag(command: string, flag: string, value: unknown, fallback: number, min: number, max: number): number {
  if (value === undefined) return fallback;
  const n = Number(value);
  if (!Number.isInteger(n) || n < min || n > max) throw new BtError("BT_E_USAGE", `${command}: --${flag} ${value}: expected a whole number from ${min} to ${max}`);
  return n;
}

export function addressFlag(command: string, flag: string, value: string, defaultHost: string): { host: string; port: number } {
  const address = parseHostPort(value, defaultHost);
  if (!address) throw new BtError("BT_E_USAGE", `${command}: --${flag} ${value}: expected host:port (IPv6 as [addr]:port)`);
  return address;
}

export function durationFlag(command: string, flag: string, value: unknown, fallbackMs: number): number {
  if (value === undefined) return fallbackMs;
  const ms = parseDuration(String(value));
  if (ms === null) throw new BtError("BT_E_USAGE", `${command}: --${flag} ${value}: expected a duration such as 30s, 500ms or 2m`);
  return ms;
}

/**
 * A rate limit in bytes per second ("100M", "50MiB", "800Mbit"); undefined when the flag is
 * absent or 0, which means no limit, as it does to curl and aria2.
 */
export function rateFlag(command: string, flag: string, value: unknown): number | undefined {
  if (value === undefined) return undefined;
  const rate = parseRate(String(value), "bytes");
  if (rate === null) throw new BtError("BT_E_USAGE", `${command}: --${flag} ${value}: expected a rate in bytes per second, such as 100M (100 MB/s), 50MiB or 800Mbit (bits); 0 for no limit`);
  return rate === 0 ? undefined : rate;
}
