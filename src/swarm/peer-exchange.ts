import { isIPLiteral } from "../util/address.ts";
import { MAX_PEERS_PER_MESSAGE, type PeerAddressEntry } from "../protocol/messages.ts";
import { type PeerAddress, peerLabel } from "./address-book.ts";

/**
 * Whether another node can dial this address as it stands: an IP literal and a port.
 * A host name means something only where it was resolved (a hosts file, a cluster's DNS),
 * so names are never passed on.
 */
export const dialableByOthers = (a: PeerAddress): boolean => isIPLiteral(a.host) && a.port > 0 && a.port <= 65_535;

/**
 * What a PEERS message to `recipient` lists: the listening addresses of the peers
 * connected now (those that left are not passed on, so newcomers do not chase them),
 * without the recipient's own, and only addresses the recipient can dial. Each entry has
 * its zone, "" when unknown: `forRecipient` takes them out for a peer that does not speak zones.
 */
export function addressesToShare(connected: Iterable<PeerAddress>, recipient: PeerAddress | null): PeerAddressEntry[] {
  const except = recipient ? peerLabel(recipient) : null;
  const out: PeerAddressEntry[] = [];
  for (const a of connected) {
    if (out.length === MAX_PEERS_PER_MESSAGE) break;
    if (peerLabel(a) !== except && dialableByOthers(a)) out.push({ host: a.host, port: a.port, zone: a.zone ?? "" });
  }
  return out;
}

/** The entries as a peer can read them: without zones for one that does not speak them (an older bytetide). */
export const forRecipient = (entries: PeerAddressEntry[], speaksZones: boolean): PeerAddressEntry[] =>
  speaksZones ? entries : entries.map(({ host, port }) => ({ host, port }));

/**
 * Splits a received PEERS list into the addresses worth learning and those to skip. An
 * entry another implementation got wrong (a name, port 0) costs only that entry: the
 * connection and the rest of the list stay.
 */
export function usableAddresses(entries: PeerAddressEntry[]): { usable: PeerAddress[]; skipped: string[] } {
  const usable: PeerAddress[] = [];
  const skipped: string[] = [];
  for (const e of entries) {
    if (dialableByOthers(e)) usable.push(e);
    else skipped.push(peerLabel(e));
  }
  return { usable, skipped };
}
