const SIZE_UNITS: Record<string, number> = {
  "": 1, b: 1,
  k: 1e3, kb: 1e3, kib: 1024,
  m: 1e6, mb: 1e6, mib: 1024 ** 2,
  g: 1e9, gb: 1e9, gib: 1024 ** 3,
  t: 1e12, tb: 1e12, tib: 1024 ** 4,
};

/** "4MiB" -> 4194304, "100M" -> 100000000. Returns null for anything else. */
export function parseSize(text: string): number | null {
  const m = /^\s*(\d+(?:\.\d+)?)\s*([a-zA-Z]*)\s*$/.exec(text);
  if (!m) return null;
  const unit = SIZE_UNITS[m[2]!.toLowerCase()];
  if (unit === undefined) return null;
  const value = Number(m[1]) * unit;
  return Number.isSafeInteger(value) ? value : null;
}

const RATE_PREFIXES: Record<string, number> = { "": 1, k: 1e3, ki: 1024, m: 1e6, mi: 1024 ** 2, g: 1e9, gi: 1024 ** 3, t: 1e12, ti: 1024 ** 4 };

/**
 * A rate, in bytes per second: "100M" (in the command's bare unit), "100MB", "50MiB/s",
 * "800Mbit", "1Gbps". "B" (and "MiB", "KiB", ...) is bytes and "bit"/"bps" bits, whatever
 * the bare unit; "100mb", with a lone lower-case b, means bits to some and bytes to
 * others, so it is refused rather than guessed. Null for anything else.
 */
export function parseRate(text: string, bare: "bytes" | "bits"): number | null {
  const m = /^\s*(\d+(?:\.\d+)?)\s*([kmgt]i?)?(bytes?|bits?|bps|b)?(?:\/s)?\s*$/i.exec(text);
  if (!m) return null;
  const [, number, prefix = "", unit] = m;
  const binary = prefix.length === 2;
  let bits: boolean;
  if (unit === undefined) bits = bare === "bits";
  else if (/^bits?$/i.test(unit) || unit === "bps") bits = true;
  else if (unit === "B" || unit === "Bps" || /^bytes?$/i.test(unit) || (unit === "b" && binary)) bits = false;
  else return null;
  const value = Number(number) * RATE_PREFIXES[prefix.toLowerCase()]!;
  return Number.isFinite(value) ? (bits ? value / 8 : value) : null;
}

export function formatBytes(n: number): string {
  if (n < 1024) return `${n} B`;
  const units = ["KiB", "MiB", "GiB", "TiB", "PiB"];
  let v = n / 1024;
  let i = 0;
  while (v >= 1024 && i < units.length - 1) {
    v /= 1024;
    i++;
  }
  return `${v >= 100 ? v.toFixed(0) : v >= 10 ? v.toFixed(1) : v.toFixed(2)} ${units[i]}`;
}

export function formatDuration(seconds: number): string {
  if (!Number.isFinite(seconds)) return "--:--";
  const s = Math.round(seconds);
  const h = Math.floor(s / 3600);
  const mm = String(Math.floor((s % 3600) / 60)).padStart(2, "0");
  const ss = String(s % 60).padStart(2, "0");
  return h > 0 ? `${h}:${mm}:${ss}` : `${mm}:${ss}`;
}

export const toHex = (bytes: Uint8Array): string => Buffer.from(bytes.buffer, bytes.byteOffset, bytes.byteLength).toString("hex");

const DURATION_UNITS: Record<string, number> = { "": 1000, ms: 1, s: 1000, m: 60_000, h: 3_600_000 };

/** "30s" -> 30000, "500ms" -> 500, "2m" -> 120000, "5" -> 5000 (seconds). Null for anything else. */
export function parseDuration(text: string): number | null {
  const m = /^\s*(\d+(?:\.\d+)?)\s*(ms|s|m|h)?\s*$/.exec(text);
  if (!m) return null;
  return Math.round(Number(m[1]) * DURATION_UNITS[m[2] ?? ""]!);
}

/** A figure for a report: `digits` decimals, as a number. */
export const round = (x: number, digits = 3): number => Number(x.toFixed(digits));
