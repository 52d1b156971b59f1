import { readFileSync } from "node:fs";
import { BtError, fsError } from "../errors.ts";
import type { FlagSpec, ParsedArgs } from "./args.ts";

export const SECURITY_FLAGS: FlagSpec = {
  "secret-file": { type: "string" },
};

export const SECURITY_HELP = `Access control:
  --secret-file PATH        a shared cluster secret (at least 16 bytes): peers must prove
                            they hold it (HMAC-SHA-256 challenge-response) before anything
                            else is exchanged; it never travels on the wire`;

const MIN_SECRET_BYTES = 16;

/** The secret from --secret-file, trailing whitespace removed; null when not given. */
export function readSecret(command: string, flags: ParsedArgs["flags"]): Uint8Array | null {
  const path = flags["secret-file"];
  if (path === undefined) return null;
  let bytes: Buffer;
  try {
    bytes = readFileSync(String(path));
  } catch (err) {
    throw fsError("BT_E_USAGE", err, String(path));
  }
  let end = bytes.length;
  while (end > 0 && /\s/.test(String.fromCharCode(bytes[end - 1]!))) end--;
  if (end < MIN_SECRET_BYTES) throw new BtError("BT_E_USAGE", `${command}: --secret-file ${path}: the secret must be at least ${MIN_SECRET_BYTES} bytes`);
  return new Uint8Array(bytes.subarray(0, end));
}
