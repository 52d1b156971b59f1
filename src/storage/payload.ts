import { dirname, join } from "node:path";
import { type Package, packageName } from "../pkg/model.ts";

/** Where a package's data is expected by default: beside the .bpkg, under the recorded name. */
export const defaultPayloadPath = (packageFile: string, pkg: Package): string => join(dirname(packageFile), packageName(pkg));

/**
 * Maps entries to paths on disk when the package root is placed at `rootPath`.
 * Entry paths were validated on read, so the join cannot leave rootPath.
 */
export function payloadPathOf(pkg: Package, rootPath: string): (entryIndex: number) => string {
  const prefix = packageName(pkg).length;
  return (entryIndex) => join(rootPath, pkg.entries[entryIndex]!.path.slice(prefix));
}
