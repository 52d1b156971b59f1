/**
 * Where events go. Text: one line per event on stderr (time, prefix, event, key=value).
 * JSON: one object per line on stdout (NDJSON), each with an `event` field, for scripts.
 * Quiet: nothing.
 */
export interface Logger {
  readonly json: boolean;
  event(name: string, fields?: Record<string, unknown>): void;
}

const quote = (v: string): string => (/^[\w.:/\-[\]@]+$/.test(v) ? v : JSON.stringify(v));
const text = (v: unknown): string => (typeof v === "object" && v !== null ? JSON.stringify(v) : String(v));

export function stderrLogger(prefix: string, enabled = true): Logger {
  return {
    json: false,
    event(name, fields = {}) {
      if (!enabled) return;
      const parts = Object.entries(fields)
        .filter(([, v]) => v !== undefined)
        .map(([k, v]) => `${k}=${quote(text(v))}`);
      process.stderr.write(`${new Date().toISOString()} ${prefix} ${name}${parts.length ? ` ${parts.join(" ")}` : ""}\n`);
    },
  };
}

/** Internal peer events, as the `state` of one NDJSON `peer` event. */
const PEER_STATES: Record<string, string> = {
  "peer-connected": "connected",
  "peer-disconnected": "disconnected",
  "peer-banned": "banned",
  "peer-refused": "refused",
  "peer-unreachable": "unreachable",
  "peer-stalled": "stalled",
  "peer-read-failed": "read_failed",
};

export function jsonLogger(command: string): Logger {
  return {
    json: true,
    event(name, fields = {}) {
      const state = PEER_STATES[name];
      const head = state ? { event: "peer", state } : { event: name.replace(/-/g, "_") };
      const body = Object.fromEntries(Object.entries(fields).filter(([, v]) => v !== undefined));
      process.stdout.write(`${JSON.stringify({ ...head, time: new Date().toISOString(), command, ...body })}\n`);
    },
  };
}

export function loggerFor(command: string, mode: OutputMode): Logger {
  return mode === "json" ? jsonLogger(command) : stderrLogger(command, mode !== "quiet");
}

export type OutputMode = "text" | "json" | "quiet";
