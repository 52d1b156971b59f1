import { expect, test } from "bun:test";
import { join } from "node:path";
import { REPO_ROOT } from "../helpers/fixtures.ts";

const TIMEOUT_MS = 120_000;

test(
  "scripts/demo-rarest.sh: a getter asks for the chunks one peer holds before those three hold, and ends in VERIFY OK",
  async () => {
    const proc = Bun.spawn([join(REPO_ROOT, "scripts", "demo-rarest.sh")], {
      cwd: REPO_ROOT,
      stdin: "ignore",
      stdout: "pipe",
      stderr: "pipe",
      timeout: TIMEOUT_MS - 5_000,
    });
    const [stdout, stderr, code] = await Promise.all([new Response(proc.stdout).text(), new Response(proc.stderr).text(), proc.exited]);
    const output = `${stdout}\n--- stderr ---\n${stderr}`;
    expect(code, output).toBe(0);

    const lines = stdout.trimEnd().split("\n");
    expect(lines.at(-1), output).toMatch(/^VERIFY OK [0-9a-f]{64}$/);

    // Every chunk was asked for once in the printed order, and the summary agrees with it.
    const order = [...stdout.matchAll(/^ *\d+-\d+ +(.*)$/gm)].flatMap((m) => m[1]!.trim().split(/\s+/));
    const rare = order.flatMap((entry, i) => (entry.endsWith("*") ? [i + 1] : []));
    const common = order.flatMap((entry, i) => (entry.endsWith("*") ? [] : [i + 1]));
    expect(new Set(order.map((e) => Number.parseInt(e, 10))).size, output).toBe(order.length);
    expect(rare.length, output).toBeGreaterThan(0);
    expect(common.length, output).toBeGreaterThan(0);
    const median = (xs: number[]) => xs[Math.floor((xs.length - 1) / 2)]!;
    expect(median(rare), output).toBeLessThan(median(common));

    const rareMedian = Number(/^rare chunks .*median position (\d+)/m.exec(stdout)?.[1]);
    const commonMedian = Number(/^common chunks .*median position (\d+)/m.exec(stdout)?.[1]);
    const share = Number(/in (\d+)% of the \d+ pairs/.exec(stdout)?.[1]);
    expect(rareMedian, output).toBeLessThan(commonMedian);
    expect(share, output).toBeGreaterThanOrEqual(70);
    expect(stdout, output).toContain("rarest first: held");
  },
  TIMEOUT_MS,
);
