import { BtError, EXIT_CODES } from "../../errors.ts";
import { fetchRollout } from "../../peer/catalogue-client.ts";
import { REPORT_INTERVAL_MS } from "../../protocol/status.ts";
import { expectPositionals, parseArgs } from "../args.ts";
import type { Command } from "../command.ts";
import { networkPolicy } from "../network.ts";
import { askPeer, peerArgument } from "../package-ref.ts";
import { renderRollout, rolloutHeader, type RolloutVerdict, rolloutVerdict } from "../rollout-table.ts";
import { SECURITY_FLAGS, SECURITY_HELP } from "../security.ts";

const EXIT_FOR: Record<RolloutVerdict, number> = { done: 0, broken: EXIT_CODES.BT_E_ROLLOUT, "in-progress": EXIT_CODES.BT_E_IN_PROGRESS };

export const status: Command = {
  name: "status",
  summary: "show a rollout as a seed sees it: which nodes are done, which are stuck, and when it will finish",
  flags: { json: { type: "boolean" }, watch: { type: "boolean" }, package: { type: "string" }, ...SECURITY_FLAGS },
  exitCodes: {
    BT_E_USAGE: "bad arguments: unknown flag, a bad HOST[:PORT] or --package, an unreadable --secret-file or --tls-* file",
    BT_E_NO_PEERS: "the seed could not be reached, refused us, or answered wrongly",
    BT_E_ROLLOUT: "a node reported failing, or is lost (silent for 30 s before it finished)",
    BT_E_IN_PROGRESS: "without --watch: no node failed or is lost, but not every node is done yet (or none has reported)",
  },
  help: `Usage: bytetide status HOST[:PORT] [--package ID] [--watch] [--json]

Asks a serve what the gets that name it as their first --peer reported of themselves
(every 2 s, or as the seed asks: state, bytes verified, rate, peers, last error) and prints, per package, a
header line (nodes by state, the share of all bytes verified, the aggregate rate, the
ETA) and a table with
one row per node, problems first: failed, lost (silent for 30 s), stalled (no progress
for 60 s), then the rest. A seed shows what its own nodes told it: with several seeds,
ask each, or give every get the same first --peer.

Exit status: 0 when every node is done, 10 when one failed or is lost, 11 otherwise. With
--watch it waits until one of the first two, so a script can wait on a rollout:
  bytetide status seed:7654 --package ID --watch

Options:
  --package ID   only this package (its id, 64 hex digits, as make and ls print it)
  --watch        ask again every 2 s until every node is done or one failed or is lost;
                 redrawn in place on a terminal, a header line per package otherwise
  --json         print the rollout as one JSON object per answer: peer, packages
  -h, --help     show this help

${SECURITY_HELP}`,

  async run(argv) {
    const args = parseArgs("status", argv, status.flags);
    const [given] = expectPositionals("status", args, 1, 1, "one seed, HOST[:PORT]");
    const peer = peerArgument("status", "peer", given!);
    const network = networkPolicy("status", args.flags);
    const only = packageFlag(args.flags.package);
    const watching = args.flags.watch === true;
    const tty = process.stdout.isTTY === true;
    for (;;) {
      const packages = (await askPeer("status", fetchRollout(peer, network))).filter((p) => only === undefined || p.package === only);
      const verdict = rolloutVerdict(packages);
      const settled = !watching || verdict !== "in-progress";
      if (args.flags.json) console.log(JSON.stringify({ peer: given, packages }));
      else if (tty && watching) process.stdout.write(`\x1b[H\x1b[2J${renderRollout(packages, given!)}\n`);
      else if (settled) console.log(renderRollout(packages, given!));
      else console.log(packages.length > 0 ? packages.map(rolloutHeader).join("\n") : `${given}: no node has reported yet`);
      if (settled) return EXIT_FOR[verdict];
      await Bun.sleep(REPORT_INTERVAL_MS);
    }
  },
};

function packageFlag(value: unknown): string | undefined {
  if (value === undefined) return undefined;
  const id = String(value).toLowerCase();
  if (!/^[0-9a-f]{64}$/.test(id)) throw new BtError("BT_E_USAGE", `status: --package ${JSON.stringify(String(value))}: expected a package id, 64 hex digits (bytetide ls HOST:PORT lists them)`);
  return id;
}
