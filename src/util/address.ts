import { lookup } from "node:dns/promises";

/**
 * Whether `host` is an IPv4 or IPv6 literal rather than a name. Not node:net's isIP: loading
 * that module costs every start of the executable about 20 ms (docs/performance.md).
 */
export const isIPLiteral = (host: string): boolean => isIPv4(host) || isIPv6(host);

const isIPv4 = (host: string): boolean =>
  /^\d{1,3}(\.\d{1,3}){3}$/.test(host) && host.split(".").every((octet) => Number(octet) <= 255 && (octet === "0" || !octet.startsWith("0")));

/** Eight groups of 1-4 hex digits, fewer around one "::", the last two possibly as IPv4 (RFC 4291). */
function isIPv6(host: string): boolean {
  const halves = host.split("::");
  if (halves.length > 2) return false;
  const groupsOf = (part: string) => (part === "" ? [] : part.split(":"));
  const head = groupsOf(halves[0]!);
  const tail = halves.length === 2 ? groupsOf(halves[1]!) : [];
  const last = (halves.length === 2 ? tail : head).at(-1);
  const endsInIPv4 = last !== undefined && last.includes(".");
  if (endsInIPv4 && !isIPv4(last)) return false;
  const hex = [...head, ...tail].slice(0, endsInIPv4 ? -1 : undefined);
  if (!hex.every((g) => /^[0-9a-fA-F]{1,4}$/.test(g))) return false;
  const groups = hex.length + (endsInIPv4 ? 2 : 0);
  return halves.length === 2 ? groups <= 7 : groups === 8;
}

/** "host:port", "[v6]:port" or ":port"; null when it is none of those. */
export function parseHostPort(text: string, defaultHost: string): { host: string; port: number } | null {
  const m = /^(?:\[([0-9a-fA-F:.]+)\]|([^:[\]]*)):(\d{1,5})$/.exec(text.trim());
  if (!m) return null;
  const port = Number(m[3]);
  if (port > 65535) return null;
  return { host: m[1] ?? (m[2] || defaultHost), port };
}

/**
 * Every address a host stands for: an IP literal as it is, a name through the system
 * resolver (hosts file, then DNS), A and AAAA alike. Called again on every dial, so a
 * restarted pod or a moved Service is followed.
 */
export async function resolveHost(host: string): Promise<string[]> {
  if (isIPLiteral(host)) return [host];
  const found = await lookup(host, { all: true });
  return [...new Set(found.map((a) => a.address))];
}

/** Why a name did not resolve, in words. */
export function resolveFailure(host: string, err: unknown): string {
  const code = (err as { code?: string })?.code;
  const why = code === "ENOTFOUND" || code === "EAI_NONAME" ? "no such host" : code === "EAI_AGAIN" ? "name lookup failed (no answer from the resolver)" : (code ?? (err as Error)?.message ?? String(err));
  return `cannot resolve ${host}: ${why}`;
}
