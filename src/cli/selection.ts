/** --only, as get and verify read it, and the line that reports a verified result. */
import { BtError } from "../errors.ts";
import { type Package, packageName } from "../pkg/model.ts";
import { type Selection, selectEntries } from "../pkg/selection.ts";
import { toHex } from "../util/units.ts";

/** The part of the package that --only's patterns select; null without any. A pattern that matches nothing is a usage error. */
export function onlySelection(command: string, pkg: Package, patterns: string[]): Selection | null {
  if (patterns.length === 0) return null;
  const selection = selectEntries(pkg, patterns);
  if (selection.unmatched.length) throw new BtError("BT_E_USAGE", `${command}: --only ${selection.unmatched[0]}: matches nothing in package ${packageName(pkg)}`);
  return selection;
}

/**
 * "VERIFY OK <root>" for the whole package; a part (--only) gets a line that neither
 * starts with nor contains that, since scripts grep for it to mean "every byte is here".
 */
export function verifiedLine(pkg: Package, selection: Selection | null): string {
  const root = toHex(pkg.root);
  if (!selection) return `VERIFY OK ${root}`;
  const files = pkg.entries.filter((e) => e.kind === "file").length;
  const selected = pkg.entries.filter((e, i) => e.kind === "file" && selection.entries[i]).length;
  return `VERIFY PARTIAL ${root} (only ${selected} of ${files} files, --only)`;
}
