import type { ExitMeanings } from "../errors.ts";
import type { FlagSpec } from "./args.ts";

export interface Command {
  name: string;
  summary: string;
  /** Usage, description and options; dispatch.ts adds the environment and exit codes from `flags` and `exitCodes`. */
  help: string;
  /** Every flag the command takes: run() parses with it, --help names its BYTETIDE_* variables. */
  flags: FlagSpec;
  /**
   * The exit codes particular to this command, each with what it means here; those every
   * command shares (COMMON_EXIT_CODES) are added, and may be reworded here.
   */
  exitCodes: ExitMeanings;
  /** Returns the exit code; failures throw BtError. */
  run(argv: string[]): Promise<number>;
}
