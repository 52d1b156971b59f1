import { statfsSync } from "node:fs";
import { BtError, describeFsError } from "../errors.ts";
import { formatBytes } from "../util/units.ts";
import { libcOrNull } from "./libc.ts";

/** Bytes an unprivileged writer may still put on the filesystem holding `dir`. */
export function freeBytes(dir: string): number {
  const s = statfsSync(dir);
  return s.bavail * s.bsize;
}

/**
 * Refuses to start a download that cannot fit, before its first write: a get that fills
 * the disk hours in fails everything else on the node too. `output` names the download.
 */
export function requireFreeSpace(output: string, dir: string, needed: number): void {
  let free: number;
  try {
    free = freeBytes(dir);
  } catch (err) {
    // No statfs here (an odd filesystem): the writes themselves still report ENOSPC.
    if ((err as { code?: string }).code === "ENOSYS") return;
    throw new BtError("BT_E_IO", describeFsError(err, dir));
  }
  if (free >= needed) return;
  throw new BtError("BT_E_IO", `${output}: not enough space: ${formatBytes(needed)} (${needed} bytes) still to write, but ${dir} has ${formatBytes(free)} (${free} bytes) free`);
}

const EOPNOTSUPP = 95;

/**
 * Reserves a file's blocks up front (posix_fallocate, as aria2's --file-allocation=falloc),
 * so that the data lies contiguous and a full disk shows now rather than mid-download.
 * Returns why it could not, or null.
 */
export function preallocate(fd: number, size: number): string | null {
  if (size === 0) return null;
  const c = libcOrNull();
  if (!c) return "preallocation needs glibc's posix_fallocate, not available here";
  const err = c.posix_fallocate(fd, 0, size);
  if (err === 0) return null;
  return err === EOPNOTSUPP ? "this filesystem cannot preallocate" : err === 28 ? "no space left on device" : `posix_fallocate failed (errno ${err})`;
}
