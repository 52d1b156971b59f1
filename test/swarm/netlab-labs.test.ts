import { expect, test } from "bun:test";
import { join } from "node:path";
import { REPO_ROOT } from "../helpers/fixtures.ts";
import { createLab, netlabAvailable } from "../helpers/netlab.ts";

const NETLAB = join(REPO_ROOT, "scripts", "netlab.sh");
const netlab = (prefix: string, ...args: string[]) =>
  expect(Bun.spawnSync([NETLAB, ...args], { env: { ...process.env, NETLAB_PREFIX: prefix }, timeout: 60_000 }).exitCode).toBe(0);
const namespaces = () => Bun.spawnSync(["ip", "netns", "list"], { timeout: 10_000 }).stdout.toString();

test.skipIf(!netlabAvailable)(
  "a lab left by a dead process is cleared by the next lab of its family; a live process's lab is left alone (needs root and iproute2)",
  () => {
    const exited = Bun.spawnSync(["true"]);
    const deadPid = exited.pid;
    const livePid = process.ppid;
    netlab(`btlo${deadPid}`, "up", "1", "100", "orphan");
    netlab(`btlo${livePid}`, "up", "1", "100");
    try {
      const lab = createLab("btlo", 1, 100);
      try {
        const listed = namespaces();
        expect(listed).not.toContain(`btlo${deadPid}-h0`);
        expect(listed).toContain(`btlo${livePid}-h0`);
        expect(listed).toContain(`btlo${process.pid}-h0`);
      } finally {
        lab.down();
      }
    } finally {
      netlab(`btlo${deadPid}`, "down");
      netlab(`btlo${livePid}`, "down");
    }
    expect(namespaces()).not.toContain("btlo");
  },
);
