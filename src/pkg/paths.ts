import { LIMITS } from "../config.ts";
import type { Entry } from "./model.ts";

const utf8Length = (s: string): number => Buffer.byteLength(s, "utf8");

function nameProblem(name: string): string | null {
  if (name === "") return "has an empty component";
  if (name === "." || name === "..") return `has a '${name}' component`;
  if (name.includes("\0")) return "contains a NUL byte";
  if (utf8Length(name) > LIMITS.maxNameBytes) return `has a component longer than ${LIMITS.maxNameBytes} bytes`;
  return null;
}

/** Why a recorded path is unsafe or malformed, or null when it is fine. */
export function pathProblem(path: string): string | null {
  if (path.startsWith("/")) return "is absolute";
  if (utf8Length(path) > LIMITS.maxPathBytes) return `is longer than ${LIMITS.maxPathBytes} bytes`;
  for (const name of path.split("/")) {
    const problem = nameProblem(name);
    if (problem) return problem;
  }
  return null;
}

/**
 * Why a symlink at `linkPath` with `target` could leave the package tree, or null.
 * Allowed: a relative target made of leading '..' steps, no more than the link's depth
 * below the package root, then plain names. The link's parents are real directories
 * (every parent is a directory entry), so the leading steps resolve exactly; the plain
 * names after them can only descend, through links that obey the same rule.
 * "a/../b" is refused even though it looks harmless: if "a" were itself a link,
 * its ".." would be resolved from wherever "a" points.
 */
export function symlinkProblem(linkPath: string, target: string): string | null {
  if (target === "") return "has an empty target";
  if (target.startsWith("/")) return `points to an absolute path (${target})`;
  if (utf8Length(target) > LIMITS.maxPathBytes) return `has a target longer than ${LIMITS.maxPathBytes} bytes`;
  const names = target.split("/");
  let up = 0;
  while (up < names.length && names[up] === "..") up++;
  const depth = linkPath.split("/").length - 2;
  if (up > depth) return `points outside the package (${target})`;
  for (const name of names.slice(up)) {
    if (name === "..") return `uses '..' after a name (${target}); only leading '..' steps are allowed`;
    const problem = nameProblem(name);
    if (problem) return `target ${problem} (${target})`;
  }
  return null;
}

/** Orders paths component by component, so a directory precedes everything inside it. */
export function comparePaths(a: string, b: string): number {
  const x = a.split("/");
  const y = b.split("/");
  for (let i = 0; i < Math.min(x.length, y.length); i++) {
    if (x[i] !== y[i]) return Buffer.compare(Buffer.from(x[i]!), Buffer.from(y[i]!));
  }
  return x.length - y.length;
}

const parentOf = (path: string): string => path.slice(0, Math.max(0, path.lastIndexOf("/")));

/**
 * Why an entry table is not a well-formed package tree, or null. Well-formed: the first
 * entry is the package root (a file alone, or a directory holding all others); paths are
 * safe, strictly ordered by comparePaths, and every parent is a directory listed earlier.
 */
export function entriesProblem(entries: readonly Entry[]): string | null {
  if (entries.length === 0) return "the package has no entries";
  const top = entries[0]!;
  const topProblem = pathProblem(top.path);
  if (topProblem) return `entry ${JSON.stringify(top.path)} ${topProblem}`;
  if (top.kind === "symlink") return `the package root "${top.path}" is a symlink`;
  if (top.path.includes("/")) return `the package root "${top.path}" is not a single name`;
  if (top.kind === "file" && entries.length > 1) return `the package root "${top.path}" is a file but more entries follow`;
  const directories = new Set<string>();
  let previous: string | null = null;
  for (const e of entries) {
    const quoted = JSON.stringify(e.path);
    const problem = pathProblem(e.path);
    if (problem) return `entry ${quoted} ${problem}`;
    if (previous !== null && comparePaths(previous, e.path) >= 0) return `entry ${quoted} is duplicated or out of order`;
    if (previous !== null && !directories.has(parentOf(e.path))) return `entry ${quoted} has no parent directory entry`;
    if (!Number.isSafeInteger(e.size) || e.size < 0) return `entry ${quoted} has an invalid size`;
    if (e.kind !== "file" && e.size !== 0) return `entry ${quoted} is a ${e.kind} with a non-zero size`;
    if (!Number.isInteger(e.mode) || e.mode < 0 || e.mode > 0o7777) return `entry ${quoted} has an invalid mode`;
    if (e.kind === "symlink") {
      const linkProblem = symlinkProblem(e.path, e.target ?? "");
      if (linkProblem) return `symlink ${quoted} ${linkProblem}`;
    }
    if (e.kind === "directory") directories.add(e.path);
    previous = e.path;
  }
  return null;
}
