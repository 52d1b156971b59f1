import { readFileSync } from "node:fs";
import type { TlsConfig } from "../peer/tls.ts";
import { BtError, fsError } from "../errors.ts";
import type { FlagSpec, ParsedArgs } from "./args.ts";

export const SECURITY_FLAGS: FlagSpec = {
  "secret-file": { type: "string" },
  "tls-cert": { type: "string" },
  "tls-key": { type: "string" },
  "tls-ca": { type: "string" },
};

export const SECURITY_HELP = `Access control:
  --secret-file PATH        a shared cluster secret (at least 16 bytes): peers must prove
                            they hold it (HMAC-SHA-256 challenge-response) before anything
                            else is exchanged; it never travels on the wire
  --tls-cert PATH           this node's certificate (PEM), issued by the cluster CA and
                            naming the node's IP addresses (subjectAltName IP:...)
  --tls-key PATH            its private key (PEM)
  --tls-ca PATH             the cluster CA (PEM): every connection, in and out, is TLS and
                            both ends must present a certificate it signed`;

const MIN_SECRET_BYTES = 16;

/** The secret from --secret-file, trailing whitespace removed; null when not given. */
export function readSecret(command: string, flags: ParsedArgs["flags"]): Uint8Array | null {
  const path = flags["secret-file"];
  if (path === undefined) return null;
  let bytes: Buffer;
  try {
    bytes = readFileSync(String(path));
  } catch (err) {
    throw fsError("BT_E_USAGE", err, `${command}: --secret-file ${path}`);
  }
  let end = bytes.length;
  while (end > 0 && /\s/.test(String.fromCharCode(bytes[end - 1]!))) end--;
  if (end < MIN_SECRET_BYTES) throw new BtError("BT_E_USAGE", `${command}: --secret-file ${path}: the secret must be at least ${MIN_SECRET_BYTES} bytes`);
  return new Uint8Array(bytes.subarray(0, end));
}

/** TLS material from --tls-cert, --tls-key and --tls-ca (all three, or none). */
export function readTls(command: string, flags: ParsedArgs["flags"]): TlsConfig | null {
  const given = ["tls-cert", "tls-key", "tls-ca"].filter((f) => flags[f] !== undefined);
  if (given.length === 0) return null;
  if (given.length !== 3) throw new BtError("BT_E_USAGE", `${command}: TLS needs --tls-cert, --tls-key and --tls-ca together (got ${given.map((f) => `--${f}`).join(", ")})`);
  const pem = (flag: string) => {
    const path = String(flags[flag]);
    let text: string;
    try {
      text = readFileSync(path, "utf8");
    } catch (err) {
      throw fsError("BT_E_USAGE", err, `${command}: --${flag} ${path}`);
    }
    if (!text.includes("-----BEGIN")) throw new BtError("BT_E_USAGE", `${command}: --${flag} ${path}: not a PEM file`);
    return text;
  };
  return { cert: pem("tls-cert"), key: pem("tls-key"), ca: pem("tls-ca") };
}
