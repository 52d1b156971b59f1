import { lookup } from "node:dns/promises";
import { isIP } from "node:net";

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
  if (isIP(host) !== 0) return [host];
  const found = await lookup(host, { all: true });
  return [...new Set(found.map((a) => a.address))];
}

/** Why a name did not resolve, in words. */
export function resolveFailure(host: string, err: unknown): string {
  const code = (err as { code?: string })?.code;
  const why = code === "ENOTFOUND" || code === "EAI_NONAME" ? "no such host" : code === "EAI_AGAIN" ? "name lookup failed (no answer from the resolver)" : (code ?? (err as Error)?.message ?? String(err));
  return `cannot resolve ${host}: ${why}`;
}
