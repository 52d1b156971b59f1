import { expect, test } from "bun:test";
import { readdirSync, readFileSync } from "node:fs";
import { join } from "node:path";
import { REPO_ROOT } from "../helpers/fixtures.ts";

test("src/swarm and src/peer read no clock of their own: time comes from the clock they are given (util/clock.ts)", () => {
  const offenders: string[] = [];
  for (const dir of ["src/swarm", "src/peer"]) {
    for (const file of readdirSync(join(REPO_ROOT, dir))) {
      const lines = readFileSync(join(REPO_ROOT, dir, file), "utf8").split("\n");
      for (const [i, line] of lines.entries()) if (/\b(Date\.now|performance\.now)\s*\(/.test(line)) offenders.push(`${dir}/${file}:${i + 1}: ${line.trim()}`);
    }
  }
  expect(offenders).toEqual([]);
});

test("the swarm's pure modules (all of src/swarm but the node that adapts them) import no I/O module: no socket, file, process or CLI code", () => {
  const offenders: string[] = [];
  for (const file of readdirSync(join(REPO_ROOT, "src/swarm"))) {
    if (file === "node.ts") continue;
    const source = readFileSync(join(REPO_ROOT, "src/swarm", file), "utf8");
    for (const m of source.matchAll(/from "([^"]+)"/g)) if (/^(node:|bun$)|\/(peer|serve|storage|cli)\//.test(m[1]!)) offenders.push(`src/swarm/${file}: ${m[1]}`);
  }
  expect(offenders).toEqual([]);
});
