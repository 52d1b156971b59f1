/**
 * The permission bits a download gives its entries. A package records the modes its
 * maker saw, setuid and setgid included; the receiving node decides. By default a
 * package cannot make a file that runs with its owner's or group's privileges (or a
 * directory whose new files take its group): those bits are cleared. The sticky bit is
 * kept: it grants nothing (on a directory it only limits who may delete its entries;
 * Linux ignores it on files).
 */
export const PRIVILEGE_BITS = 0o6000;

export interface AppliedMode {
  mode: number;
  /** The bits the package recorded but the node refused, 0 when none. */
  stripped: number;
}

export function appliedMode(recorded: number, allowSetuid: boolean): AppliedMode {
  const stripped = allowSetuid ? 0 : recorded & PRIVILEGE_BITS;
  return { mode: recorded & ~stripped, stripped };
}

/** 0o4755 -> "4755", as inspect and the log print modes. */
export const octalMode = (mode: number): string => mode.toString(8).padStart(4, "0");
