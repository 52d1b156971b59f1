import { describe, expect, test } from "bun:test";
import { comparePaths, entriesProblem, pathProblem, symlinkProblem } from "../../src/pkg/paths.ts";
import { TREE } from "./fixtures.ts";

describe("recorded paths", () => {
  test("plain relative paths are fine", () => {
    expect(pathProblem("weights/layer.0/part-1.bin")).toBeNull();
  });
  test.each([
    ["/abs", /absolute/],
    ["a/../b", /'\.\.'/],
    ["a/./b", /'\.'/],
    ["a//b", /empty component/],
    ["a/", /empty component/],
    ["a\0b", /NUL/],
    ["x".repeat(256), /longer than 255/],
  ])("%p is refused", (path, reason) => {
    expect(pathProblem(path)).toMatch(reason);
  });
});

describe("symlink targets", () => {
  test.each([
    ["w/link", "file"],
    ["w/link", "sub/dir/file"],
    ["w/a/link", "../file"],
    ["w/a/b/link", "../../blobs/abc123"],
    ["w/a/link", ".."],
  ])("%p -> %p stays inside", (link, target) => {
    expect(symlinkProblem(link, target)).toBeNull();
  });
  test.each([
    ["w/link", "../outside", /outside the package/],
    ["w/a/link", "../../outside", /outside the package/],
    ["w/link", "/etc/passwd", /absolute/],
    ["w/link", "sub/../x", /'\.\.' after a name/],
    ["w/link", "", /empty target/],
    ["w/link", "./x", /'\.' component/],
  ])("%p -> %p is refused", (link, target, reason) => {
    expect(symlinkProblem(link, target)).toMatch(reason);
  });
});

describe("entry tables", () => {
  test("a well-formed tree passes", () => {
    expect(entriesProblem(TREE)).toBeNull();
  });
  test("directories sort before their contents and siblings compare bytewise", () => {
    const paths = ["w/a.txt", "w/a/z", "w", "w/a", "w/B"];
    expect(paths.sort(comparePaths)).toEqual(["w", "w/B", "w/a", "w/a/z", "w/a.txt"]);
  });
  test("a file root with more entries is refused", () => {
    expect(entriesProblem([{ kind: "file", path: "f", mode: 0o644, size: 1 }, { kind: "file", path: "f/x", mode: 0o644, size: 1 }])).toMatch(
      /is a file but more entries follow/,
    );
  });
  test("a symlink as the package root is refused", () => {
    expect(entriesProblem([{ kind: "symlink", path: "l", mode: 0o777, size: 0, target: "x" }])).toMatch(/is a symlink/);
  });
  test("a directory with a size is refused", () => {
    expect(entriesProblem([{ kind: "directory", path: "d", mode: 0o755, size: 3 }])).toMatch(/non-zero size/);
  });
});
