import { listPackages } from "../../peer/catalogue-client.ts";
import { formatBytes, toHex } from "../../util/units.ts";
import { expectPositionals, parseArgs } from "../args.ts";
import type { Command } from "../command.ts";
import { networkPolicy } from "../network.ts";
import { askPeer, peerArgument } from "../package-ref.ts";
import { SECURITY_FLAGS, SECURITY_HELP } from "../security.ts";

export const ls: Command = {
  name: "ls",
  summary: "list the packages a peer serves, with the id to get each by",
  flags: { json: { type: "boolean" }, ...SECURITY_FLAGS },
  exitCodes: {
    BT_E_USAGE: "bad arguments: unknown flag, a bad HOST[:PORT], an unreadable --secret-file or --tls-* file",
    BT_E_NO_PEERS: "the peer could not be reached, refused us, or answered wrongly",
  },
  help: `Usage: bytetide ls HOST[:PORT] [--json]

Lists what a serve (or a get, while it runs) offers: each package's id, size and name,
in name order. Fetch one on any node with 'bytetide get bytetide://HOST:PORT/<id>'.

Options:
  --json       print one JSON object: peer, packages [{id, name, size}]
  -h, --help   show this help

${SECURITY_HELP}`,

  async run(argv) {
    const args = parseArgs("ls", argv, ls.flags);
    const [given] = expectPositionals("ls", args, 1, 1, "one peer, HOST:PORT");
    const peer = peerArgument("ls", "peer", given!);
    const network = networkPolicy("ls", args.flags);
    const packages = await askPeer("ls", listPackages(peer, network));
    const rows = packages.map((p) => ({ id: toHex(p.id), name: p.name, size: p.size }));
    if (args.flags.json) {
      console.log(JSON.stringify({ peer: given, packages: rows }));
      return 0;
    }
    if (rows.length === 0) console.log(`${given} serves no packages`);
    for (const row of rows) console.log(`${row.id}  ${formatBytes(row.size).padStart(10)}  ${row.name}`);
    return 0;
  },
};
