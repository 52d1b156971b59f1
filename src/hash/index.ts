import { BtError } from "../errors.ts";
import { jsHasher, sha256 } from "./fallback.ts";
import { loadNativeHasher } from "./native.ts";
import type { Hasher } from "./types.ts";

export type { Hasher } from "./types.ts";
export { DIGEST_LENGTH } from "./types.ts";

let active: Hasher | undefined;

/**
 * The hasher in use: the native addon when it was built, else Bun.CryptoHasher.
 * BYTETIDE_HASHER=js forces the fallback; BYTETIDE_HASHER=native makes a missing addon an error.
 */
export function hasher(): Hasher {
  if (active) return active;
  const wanted = process.env.BYTETIDE_HASHER ?? "auto";
  if (!["auto", "native", "js"].includes(wanted)) {
    throw new BtError("BT_E_USAGE", `BYTETIDE_HASHER=${wanted}: expected auto, native or js`);
  }
  const native = wanted === "js" ? null : loadNativeHasher();
  if (wanted === "native" && !native) {
    throw new BtError("BT_E_USAGE", "BYTETIDE_HASHER=native: the native addon was not built (run ./scripts/bootstrap.sh with a Rust toolchain)");
  }
  active = native ?? jsHasher;
  return active;
}

/** SHA-256 of one small buffer, on the calling thread. */
export function sha256Of(bytes: Uint8Array): Uint8Array {
  return bytes.length === 0 ? sha256() : hasher().hashChunks(bytes, bytes.length);
}
