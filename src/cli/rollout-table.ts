import { type PackageRollout, SHOWN_ORDER } from "../ops/rollout.ts";
import { formatBytes, formatDuration } from "../util/units.ts";

/** How a rollout stands, for `status`'s exit code: every node done, one failed or lost, or neither yet. */
export type RolloutVerdict = "done" | "broken" | "in-progress";

/** No node at all is not a finished rollout: the gets may not have started yet. */
export function rolloutVerdict(packages: readonly PackageRollout[]): RolloutVerdict {
  const nodes = packages.reduce((n, p) => n + p.nodes, 0);
  if (packages.some((p) => p.byState.failed > 0 || p.byState.lost > 0)) return "broken";
  return nodes > 0 && packages.every((p) => p.byState.done === p.nodes) ? "done" : "in-progress";
}

const percent = (verified: number, total: number): string => `${(total > 0 ? (100 * verified) / total : 100).toFixed(1)}%`;

/** One package's header line: the nodes by state, how far the bytes are, the rate and the ETA. */
export function rolloutHeader(p: PackageRollout): string {
  const states = SHOWN_ORDER.filter((s) => p.byState[s] > 0).map((s) => `${p.byState[s]} ${s}`);
  const eta = p.etaSeconds === null ? (p.bytesRemaining === 0 ? "done" : "ETA unknown") : `ETA ${formatDuration(p.etaSeconds)}`;
  return [
    `package ${p.package}`,
    `${p.nodes} node${p.nodes === 1 ? "" : "s"}${states.length > 0 ? `: ${states.join(", ")}` : ""}`,
    `${percent(p.verifiedBytes, p.totalBytes)} of ${formatBytes(p.totalBytes)}`,
    `${formatBytes(p.rateBytesPerSecond)}/s`,
    eta,
  ].join("  ·  ");
}

/** The node table, problems first (the order the seed gave), columns as wide as their widest cell. */
export function rolloutTable(p: PackageRollout): string[] {
  const header = ["NAME", "ZONE", "STATE", "DONE", "RATE", "PEERS", "LAST ERROR"];
  const rows = p.rows.map((r) => [
    r.name,
    r.zone || "-",
    r.state,
    percent(r.verifiedBytes, r.totalBytes),
    r.state === "downloading" ? `${formatBytes(r.rateBytesPerSecond)}/s` : "-",
    String(r.peers),
    r.errorCode ? `${r.errorCode}: ${r.errorMessage}` : "",
  ]);
  const widths = header.map((h, i) => Math.max(h.length, ...rows.map((row) => row[i]!.length)));
  const line = (cells: string[]) => cells.map((c, i) => (i === cells.length - 1 ? c : c.padEnd(widths[i]!))).join("  ").trimEnd();
  return [line(header), ...rows.map(line)];
}

/** Everything `status` prints for the packages, without --json. */
export function renderRollout(packages: readonly PackageRollout[], peer: string): string {
  if (packages.length === 0) return `${peer}: no node has reported yet`;
  return packages.map((p) => [rolloutHeader(p), ...rolloutTable(p)].join("\n")).join("\n\n");
}
