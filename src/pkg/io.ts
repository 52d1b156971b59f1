import { constants } from "node:fs";
import { access, link, open, rename, stat, unlink, writeFile } from "node:fs/promises";
import { dirname, resolve } from "node:path";
import { BtError, describeFsError, fsError } from "../errors.ts";
import { decodePackage, encodePackage, expectedLength, FormatError, HEADER_LENGTH } from "./format.ts";
import type { Package } from "./model.ts";

/** Reads and fully validates a .bpkg. Every failure names the file. */
export async function readPackage(path: string): Promise<Package> {
  let file;
  try {
    file = await open(path, "r");
  } catch (err) {
    throw fsError("BT_E_INPUT", err, path);
  }
  try {
    const info = await file.stat();
    if (info.isDirectory()) throw new BtError("BT_E_INPUT", `${path}: is a directory, not a .bpkg file`);
    const header = new Uint8Array(Math.min(HEADER_LENGTH, info.size));
    await file.read(header, 0, header.length, 0);
    // Validate the header before allocating room for the rest.
    const length = expectedLength(header);
    if (info.size !== length) {
      throw new FormatError(info.size < length ? `truncated: ${info.size} of ${length} bytes` : `corrupt: ${info.size - length} unexpected bytes after the package`);
    }
    const bytes = new Uint8Array(length);
    const { bytesRead } = await file.read(bytes, 0, length, 0);
    return decodePackage(bytes.subarray(0, bytesRead));
  } catch (err) {
    if (err instanceof FormatError) throw new BtError("BT_E_PACKAGE", `${path}: ${err.message}${err.notAPackage ? await packageHint(path) : ""}`);
    if (err instanceof BtError) throw err;
    throw fsError("BT_E_INPUT", err, path);
  } finally {
    await file.close();
  }
}

/** For data given where its .bpkg was meant: the .bpkg beside it, or how to make one. */
async function packageHint(path: string): Promise<string> {
  const beside = `${path}.bpkg`;
  if (await stat(beside).then((s) => s.isFile(), () => false)) return `; did you mean ${beside}?`;
  return path.endsWith(".bpkg") ? "" : `; to package this data, run 'bytetide make ${path}'`;
}

/** Fails early, before hours of hashing, when the output exists and --force was not given. */
export async function refuseExisting(path: string, force: boolean): Promise<void> {
  if (force) return;
  const exists = await stat(path).then(() => true, () => false);
  if (exists) throw new BtError("BT_E_EXISTS", `${path}: already exists (use --force to overwrite)`);
}

/**
 * Fails early, before hours of hashing, when the package could not be written: its
 * directory is missing, not a directory, or not writable. The same code as a failed write.
 */
export async function refuseUnwritable(path: string): Promise<void> {
  const dir = dirname(resolve(path));
  let problem: string;
  try {
    if ((await stat(dir)).isDirectory()) {
      await access(dir, constants.W_OK);
      return;
    }
    problem = `${dir}: not a directory`;
  } catch (err) {
    problem = describeFsError(err, dir);
  }
  throw new BtError("BT_E_IO", `${path}: cannot be written: ${problem}`);
}

/**
 * Writes the package through a temporary file, so a reader never sees half a package.
 * Without force, link() publishes it only if the name is still free.
 */
export async function writePackage(path: string, pkg: Package, force: boolean): Promise<void> {
  const temp = `${path}.tmp-${process.pid}`;
  try {
    await writeFile(temp, encodePackage(pkg), { mode: 0o644 });
    if (force) {
      await rename(temp, path);
    } else {
      await link(temp, path);
      await unlink(temp);
    }
  } catch (err) {
    await unlink(temp).catch(() => {});
    const code = (err as { code?: string }).code === "EEXIST" ? "BT_E_EXISTS" : "BT_E_IO";
    throw fsError(code, err, path);
  }
}
