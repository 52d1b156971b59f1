import { COMMON_EXIT_CODES, type ErrorCode, EXIT_CODES } from "../errors.ts";
import { envName } from "./args.ts";
import type { Command } from "./command.ts";

const WIDTH = 88;

/** Words joined with two spaces, broken into lines of at most WIDTH, each indented. */
function wrap(words: string[], indent: string): string[] {
  const lines: string[] = [];
  let line = "";
  for (const word of words) {
    if (line && indent.length + line.length + 2 + word.length > WIDTH) {
      lines.push(indent + line);
      line = "";
    }
    line = line ? `${line}  ${word}` : word;
  }
  if (line) lines.push(indent + line);
  return lines;
}

/** The BYTETIDE_* variables of this command's own flags, and the two every command reads. */
export function environmentHelp(command: Command): string {
  const variables = Object.keys(command.flags).map(envName);
  return [
    "Environment (the command line wins; a boolean as 1 or 0, a repeatable flag as a",
    "comma-separated list):",
    ...wrap(variables, "  "),
    "  BYTETIDE_HASHER=js|native  which SHA-256 to use (default: native when built)",
    "  BYTETIDE_DEBUG=1           a stack trace with an internal error",
  ].join("\n");
}

/** 0, the codes every command shares and the command's own, in numeric order. */
export function exitCodeHelp(command: Command): string {
  const meanings = { ...COMMON_EXIT_CODES, ...command.exitCodes };
  const codes = (Object.keys(meanings) as ErrorCode[]).sort((a, b) => EXIT_CODES[a] - EXIT_CODES[b]);
  return ["Exit codes:", "  0    success", ...codes.map((code) => `  ${String(EXIT_CODES[code]).padEnd(4)} ${meanings[code]}`)].join("\n");
}

export const helpOf = (command: Command): string => `${command.help}\n\n${environmentHelp(command)}\n\n${exitCodeHelp(command)}`;
