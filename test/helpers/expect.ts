import { expect } from "bun:test";
import type { CliResult } from "./cli.ts";

/** A one-line error on stderr, `bytetide: <what>`, no stack trace, and the documented exit code. */
export function expectCleanError(result: Pick<CliResult, "code" | "stderr">, exitCode: number, ...mentions: string[]): string {
  expect(result.code).toBe(exitCode);
  const lines = result.stderr.trimEnd().split("\n");
  expect(lines).toHaveLength(1);
  expect(lines[0]).toStartWith("bytetide: ");
  for (const m of mentions) expect(lines[0]).toContain(m);
  return lines[0]!;
}

/** Every stdout line parsed as JSON (NDJSON); a line that is not JSON fails the test. */
export const ndjson = (stdout: string): Record<string, unknown>[] =>
  stdout
    .split("\n")
    .filter((line) => line !== "")
    .map((line) => JSON.parse(line) as Record<string, unknown>);
