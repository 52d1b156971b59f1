/**
 * On a terminal, get shows the progress bar, warnings and its result, as aria2 does, and
 * -v adds every event; the two never share a line. `script` gives the get a real pty.
 */
import { afterAll, describe, expect, test } from "bun:test";
import { writeFileSync } from "node:fs";
import { join } from "node:path";
import { COMPILED, makePackage } from "../helpers/cli.ts";
import { seededBytes, tempDir } from "../helpers/fixtures.ts";
import { outputOf } from "../helpers/netlab.ts";
import { startSeed } from "../helpers/peers.ts";

const hasScript = Bun.which("script") !== null;
const dir = tempDir("bytetide-terminal");
const input = join(dir, "model.bin");
writeFileSync(input, seededBytes(2 * 1024 * 1024, 8));
await makePackage(input, ["--chunk-size", "256KiB"]);
// Slow enough that the bar is drawn several times.
const seed = await startSeed([`${input}.bpkg`, "--max-upload-rate", "4M"]);
afterAll(() => seed.stop());

/** Runs get in a pseudo-terminal; returns what the terminal showed, escape sequences and all. */
async function onTerminal(out: string, extra: string[]): Promise<{ code: number; screen: string }> {
  const command = [COMPILED, "get", `${input}.bpkg`, "--peer", seed.address, "-o", join(dir, out), "--linger", "0", ...extra].join(" ");
  const r = await outputOf(Bun.spawn(["script", "-qfec", command, "/dev/null"], { stdin: "ignore", stdout: "pipe", stderr: "pipe", timeout: 60_000 }));
  return { code: r.code, screen: r.stdout };
}

/** Lines as a person reads them: a carriage return starts the line again. */
const lines = (screen: string): string[] => screen.split(/\r?\n/).map((l) => l.split("\r").at(-1)!.replace(/\x1b\[2K/g, ""));
const EVENT_LINE = /^\d{4}-\d\d-\d\dT\S+Z get /;

describe.skipIf(!hasScript)("get on a terminal (needs script from util-linux)", () => {
  test("by default shows the bar and VERIFY OK, and none of the event log", async () => {
    const { code, screen } = await onTerminal("quiet.bin", []);
    expect(code).toBe(0);
    expect(screen).toMatch(/downloading \[[#.]{24}\] \d+%/);
    expect(screen).toMatch(/\x1b\[2KVERIFY OK [0-9a-f]{64}/);
    expect(lines(screen).filter((l) => EVENT_LINE.test(l))).toEqual([]);
  });

  test("-v adds the events, each on a line of its own, never after a bar on the same line", async () => {
    const { code, screen } = await onTerminal("verbose.bin", ["-v"]);
    expect(code).toBe(0);
    const shown = lines(screen);
    expect(shown.some((l) => /^\S+ get peer-connected peer=/.test(l))).toBe(true);
    expect(shown.some((l) => /^\S+ get done /.test(l))).toBe(true);
    // Each event clears the line first, so a bar drawn before it is not left in front.
    for (const raw of screen.split("\n").filter((l) => / get (peer-connected|done) /.test(l))) expect(raw).toMatch(/\r\x1b\[2K\d{4}-/);
    expect(shown.filter((l) => /^VERIFY OK [0-9a-f]{64}$/.test(l))).toHaveLength(1);
  });
});
