import { describe, expect, test } from "bun:test";
import { copyFileSync, writeFileSync } from "node:fs";
import { join } from "node:path";
import { makePackage, runCli } from "../helpers/cli.ts";
import { seededBytes, tempDir } from "../helpers/fixtures.ts";
import { spawnCli } from "../helpers/peers.ts";
import { CHROMIUM_FLAGS, chromium, pageRows } from "../helpers/browser.ts";

/** The page as a headless Chromium renders it once its script has polled /api/swarm: the DOM, and a screenshot. */
async function renderInChromium(url: string, screenshot: string): Promise<string> {
  const dom = Bun.spawn([chromium!, ...CHROMIUM_FLAGS, "--dump-dom", url], { stdout: "pipe", stderr: "ignore", timeout: 60_000 });
  const shot = Bun.spawn([chromium!, ...CHROMIUM_FLAGS, `--screenshot=${screenshot}`, url], { stdout: "ignore", stderr: "ignore", timeout: 60_000 });
  const [html] = await Promise.all([new Response(dom.stdout).text(), dom.exited, shot.exited]);
  return html;
}

describe.if(chromium !== null)("the rollout page in a real browser (needs chromium: scripts/test.sh installs Debian's when it can)", () => {
  test("while a small swarm runs, the page's table fills, its done count reaches the getters that finished, and it shows the failed node with its error", async () => {
    const dir = tempDir("bytetide-page");
    const payload = seededBytes(3_000_000, 41);
    writeFileSync(join(dir, "weights.bin"), payload);
    await makePackage(join(dir, "weights.bin"), ["--chunk-size", "256KiB"]);
    const pkg = join(dir, "weights.bin.bpkg");
    copyFileSync(join(dir, "weights.bin"), join(dir, "seed-copy.bin"));
    const seed = spawnCli(["serve", pkg, "--data", join(dir, "seed-copy.bin"), "--listen", "127.0.0.1:0", "--metrics", "127.0.0.1:0"]);
    let slow: ReturnType<typeof spawnCli> | null = null;
    try {
      const port = (await seed.waitFor(/ on 127\.0\.0\.1:(\d+)\n/))[1];
      const page = (await seed.waitFor(/metrics on (http:\S+)/))[1]!.replace("/metrics", "/");
      const get = (name: string, zone: string, ...more: string[]) => ["get", pkg, "--peer", `127.0.0.1:${port}`, "-o", join(dir, `${name}.bin`), "--name", name, "--zone", zone, ...more];
      for (const name of ["gpu-01", "gpu-02"]) expect((await runCli(get(name, "rack-1", "--linger", "0"))).code).toBe(0);
      // The seed's copy is damaged under it (a new stamp: it proves the chunks again), so the
      // gets from now on find chunk 2 nowhere: the two done have gone (--linger 0).
      await Bun.sleep(1_200);
      const damaged = payload.slice();
      damaged[2 * 256 * 1024 + 7]! ^= 0xff;
      writeFileSync(join(dir, "seed-copy.bin"), damaged);
      await Bun.sleep(1_200);
      slow = spawnCli(get("gpu-03", "rack-2", "--max-download-rate", "150K"));
      const failed = await runCli(get("gpu-04", "rack-2", "--retry-for", "1s", "--linger", "0"));
      expect(failed.code).toBe(8);

      const html = await renderInChromium(page, join(dir, "rollout-page.png"));
      const rows = pageRows(html);
      expect(rows).toContainEqual(["gpu-01", "done"]);
      expect(rows).toContainEqual(["gpu-02", "done"]);
      expect(rows).toContainEqual(["gpu-04", "failed"]);
      expect(rows.find(([name]) => name === "gpu-03")?.[1]).toMatch(/^(starting|downloading)$/);
      // The failed node comes first, with its error.
      expect(rows[0]).toEqual(["gpu-04", "failed"]);
      expect(html).toContain("BT_E_NO_PEERS: ");
      expect(html).toMatch(/VERIFY OK<\/div><div class="value ?">2 of 4</);
      expect(html).toMatch(/1 failed · 0 lost · 0 stalled/);
      expect(Bun.file(join(dir, "rollout-page.png")).size).toBeGreaterThan(10_000);
      // docs/rollout-page.png is made this way: BYTETIDE_PAGE_SCREENSHOT=docs/rollout-page.png bun test test/operator/rollout-page.test.ts
      const keep = process.env.BYTETIDE_PAGE_SCREENSHOT;
      if (keep) copyFileSync(join(dir, "rollout-page.png"), keep);
    } finally {
      slow?.proc.kill("SIGKILL");
      seed.proc.kill("SIGTERM");
      await seed.done;
    }
  });
});
