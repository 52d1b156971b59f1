import { expect, test } from "bun:test";
import { RolloutBook } from "../../src/ops/rollout.ts";
import type { NodeReport } from "../../src/protocol/status.ts";
import { renderRollout, rolloutHeader, rolloutTable, rolloutVerdict } from "../../src/cli/rollout-table.ts";

const GiB = 2 ** 30;
const report = (name: string, o: Partial<NodeReport> = {}): NodeReport => ({
  name, zone: "", state: "downloading", verifiedBytes: 0, totalBytes: 10 * GiB, rateBytesPerSecond: 0, peers: 4, errorCode: "", errorMessage: "", version: "0.1.0", ...o,
});

function rollout(...reports: NodeReport[]) {
  const clock = { ms: 0 };
  const book = new RolloutBook(() => clock.ms);
  for (const r of reports) book.report("p1", r);
  return { clock, book };
}

test("the verdict: every node done is done; one failed or lost is broken; anything else, and no node at all, is in progress", () => {
  expect(rolloutVerdict(rollout(report("a", { state: "done", verifiedBytes: 10 * GiB })).book.view())).toBe("done");
  expect(rolloutVerdict(rollout(report("a", { state: "done" }), report("b")).book.view())).toBe("in-progress");
  expect(rolloutVerdict(rollout(report("a", { state: "done" }), report("b", { state: "failed" })).book.view())).toBe("broken");
  const { clock, book } = rollout(report("a"));
  clock.ms = 31_000;
  expect(rolloutVerdict(book.view())).toBe("broken");
  expect(rolloutVerdict([])).toBe("in-progress");
});

test("the header gives the nodes by state, the share of bytes, the rate and the ETA; the table puts problems first with their errors", () => {
  const { book } = rollout(
    report("gpu-1", { state: "done", verifiedBytes: 10 * GiB, zone: "rack-1" }),
    report("gpu-2", { verifiedBytes: 5 * GiB, rateBytesPerSecond: 100 * 2 ** 20 }),
    report("gpu-3", { state: "failed", verifiedBytes: 0, errorCode: "BT_E_IO", errorMessage: "/data/w: no space left on device" }),
  );
  const [p] = book.view();
  expect(rolloutHeader(p!)).toBe("package p1  ·  3 nodes: 1 failed, 1 downloading, 1 done  ·  50.0% of 30.0 GiB  ·  100 MiB/s  ·  ETA 02:34");
  const lines = rolloutTable(p!);
  expect(lines[0]).toMatch(/^NAME +ZONE +STATE +DONE +RATE +PEERS +LAST ERROR$/);
  expect(lines[1]).toMatch(/^gpu-3 +- +failed +0\.0% +- +4 +BT_E_IO: \/data\/w: no space left on device$/);
  expect(lines[2]).toMatch(/^gpu-2 +- +downloading +50\.0% +100 MiB\/s +4$/);
  expect(lines[3]).toMatch(/^gpu-1 +rack-1 +done +100\.0% +- +4$/);
  expect(renderRollout([], "seed:7654")).toBe("seed:7654: no node has reported yet");
});
