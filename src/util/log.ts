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

/** Events a person at a terminal sees under a progress bar even without -v: those that say something went wrong or was changed. */
const WARNINGS = new Set(["chunk-error", "mode-stripped", "lock-unavailable", "package-not-kept", "resume-check", "peer-banned", "metadata-refused"]);

/**
 * On a terminal a command with a progress bar shows the bar, warnings and its final line,
 * as aria2 does ("warnings"); "all" (-v, or no bar) shows every event, each clearing the
 * bar's line first so the two never share one. Off a terminal, every event: logs want them.
 */
export type TerminalEvents = "all" | "warnings";

export function stderrLogger(prefix: string, enabled = true, onTerminal: TerminalEvents = "all"): Logger {
  const tty = process.stderr.isTTY === true;
  return {
    json: false,
    event(name, fields = {}) {
      if (!enabled || (tty && onTerminal === "warnings" && !WARNINGS.has(name))) return;
      const parts = Object.entries(fields)
        .filter(([, v]) => v !== undefined)
        .map(([k, v]) => `${k}=${quote(text(v))}`);
      const line = `${new Date().toISOString()} ${prefix} ${name}${parts.length ? ` ${parts.join(" ")}` : ""}\n`;
      process.stderr.write(tty ? `\r\x1b[2K${line}` : line);
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

export function loggerFor(command: string, mode: OutputMode, onTerminal: TerminalEvents = "all"): Logger {
  return mode === "json" ? jsonLogger(command) : stderrLogger(command, mode !== "quiet", onTerminal);
}

export type OutputMode = "text" | "json" | "quiet";
