import { NET, type NetworkPolicy } from "../config.ts";
import { BtError } from "../errors.ts";
import { CatalogueError, fetchPackage } from "../peer/catalogue-client.ts";
import { equalBytes, packageId } from "../pkg/format.ts";
import { readPackage } from "../pkg/io.ts";
import type { Package } from "../pkg/model.ts";
import { type PeerAddress, peerLabel } from "../swarm/address-book.ts";
import { parseHostPort } from "../util/address.ts";
import type { Logger } from "../util/log.ts";
import { toHex } from "../util/units.ts";

/** A command's question to one peer's catalogue (ls, status): a peer that cannot answer is BT_E_NO_PEERS, named after the command. */
export async function askPeer<T>(command: string, question: Promise<T>): Promise<T> {
  try {
    return await question;
  } catch (err) {
    if (err instanceof CatalogueError) throw new BtError("BT_E_NO_PEERS", `${command}: ${err.message}`);
    throw err;
  }
}

const SCHEME = "bytetide://";
const ID_PATTERN = /^[0-9a-f]{64}$/;

/** What `get` was told to fetch, a .bpkg on disk or a package id, and the peers to fetch from. */
export type PackageRef = ({ kind: "file"; path: string } | { kind: "id"; id: Uint8Array }) & { peers: PeerAddress[] };

/** The URL that names a package by id and a peer that has it: bytetide://HOST:PORT/<id>. */
export const packageUrl = (peer: PeerAddress, id: Uint8Array): string => `${SCHEME}${peerLabel(peer)}/${toHex(id)}`;

/** A peer named on the command line: HOST:PORT, [v6]:PORT, or a bare HOST or [v6] on the default port. */
export function peerArgument(command: string, what: string, text: string): PeerAddress {
  const address = parseHostPort(text, "") ?? parseHostPort(`${text}:${NET.defaultListenPort}`, "");
  // ":7654" is a listening address's way to say "every interface"; a peer needs its host said.
  if (!address?.host) throw new BtError("BT_E_USAGE", `${command}: ${what} ${text}: expected HOST[:PORT] (IPv6 as [addr]:port)`);
  if (address.port === 0) throw new BtError("BT_E_USAGE", `${command}: ${what} ${text}: port 0 is no peer's port (a serve's default is ${NET.defaultListenPort})`);
  return address;
}

function idArgument(command: string, what: string, text: string): Uint8Array {
  const hex = text.toLowerCase();
  if (!ID_PATTERN.test(hex)) throw new BtError("BT_E_USAGE", `${command}: ${what} ${text}: expected a package id, 64 hex digits (make and ls print it)`);
  return Uint8Array.from(hex.match(/../g)!, (byte) => Number.parseInt(byte, 16));
}

/**
 * Reads get's positional argument and --id: a URL (its peer is asked first, then the
 * --peer ones), an id given with --id, or a path to a .bpkg.
 */
export function packageRef(command: string, positional: string | undefined, idFlag: string | undefined, peers: PeerAddress[]): PackageRef {
  if (positional?.startsWith(SCHEME)) {
    if (idFlag !== undefined) throw new BtError("BT_E_USAGE", `${command}: --id and a ${SCHEME} URL exclude each other`);
    const rest = positional.slice(SCHEME.length);
    const slash = rest.lastIndexOf("/");
    if (slash < 0) throw new BtError("BT_E_USAGE", `${command}: ${positional}: expected ${SCHEME}HOST[:PORT]/<id>`);
    const peer = peerArgument(command, "URL", rest.slice(0, slash));
    return { kind: "id", id: idArgument(command, "URL", rest.slice(slash + 1)), peers: [peer, ...peers] };
  }
  if (idFlag !== undefined) {
    if (positional !== undefined) throw new BtError("BT_E_USAGE", `${command}: --id and a .bpkg exclude each other`);
    return { kind: "id", id: idArgument(command, "--id", idFlag), peers };
  }
  if (positional === undefined) throw new BtError("BT_E_USAGE", `${command}: expected a .bpkg, a ${SCHEME} URL, or --id`);
  return { kind: "file", path: positional, peers };
}

/** Where a get by id keeps the package it fetched: beside the output, as `make` names a package beside its input. */
export const keptPackagePath = (output: string): string => `${output}.bpkg`;

/**
 * The package a ref names. By id: the copy a get kept beside the output (`kept`, the -o
 * given) when it has that id, so a node restarted while no peer is up still has it;
 * otherwise the peers are asked in turn. Either must check out against the id, and a
 * peer whose answer does not is logged and passed over.
 */
export async function loadPackage(command: string, ref: PackageRef, network: NetworkPolicy, logger: Logger, kept?: string): Promise<Package> {
  if (ref.kind === "file") return readPackage(ref.path);
  const keptCopy = kept === undefined ? null : await readPackage(keptPackagePath(kept)).catch(() => null);
  if (keptCopy && equalBytes(packageId(keptCopy), ref.id)) {
    logger.event("metadata", { file: keptPackagePath(kept!), id: toHex(ref.id) });
    return keptCopy;
  }
  if (ref.peers.length === 0) throw new BtError("BT_E_USAGE", `${command}: no peers to fetch package ${toHex(ref.id)} from (use --peer HOST:PORT)`);
  const failures: string[] = [];
  for (const peer of ref.peers) {
    try {
      const pkg = await fetchPackage(peer, network, ref.id);
      logger.event("metadata", { peer: peerLabel(peer), id: toHex(ref.id) });
      return pkg;
    } catch (err) {
      if (!(err instanceof CatalogueError)) throw err;
      logger.event("metadata-refused", { peer: peerLabel(peer), reason: err.message });
      failures.push(err.message);
    }
  }
  throw new BtError("BT_E_NO_PEERS", `${command}: no peer gave package ${toHex(ref.id)}: ${failures.join("; ")}`);
}
