import type { Logger, OutputMode } from "../util/log.ts";
import { formatBytes, formatDuration } from "../util/units.ts";

export interface ProgressState {
  done: number;
  peers?: number;
  chunks?: number;
}

export interface Progress {
  update(state: ProgressState): void;
  finish(): void;
}

const REDRAW_MS = 100;
const PLAIN_EVERY_MS = 2_000;
const JSON_EVERY_MS = 1_000;

/**
 * Progress for make and get. On a terminal: a live line on stderr with bar, percent,
 * rate, ETA, peers and verified chunks. Off a terminal: the same as a plain line every
 * 2 s. With --json: a `progress` event every second. With --quiet: nothing.
 */
export function createProgress(label: string, total: number, totalChunks: number, mode: OutputMode, logger: Logger): Progress {
  if (mode === "quiet") return { update() {}, finish() {} };
  const tty = mode === "text" && process.stderr.isTTY === true;
  const every = mode === "json" ? JSON_EVERY_MS : tty ? REDRAW_MS : PLAIN_EVERY_MS;
  const started = performance.now();
  let last = started;
  let finished = false;
  const describe = (s: ProgressState) => {
    const seconds = (performance.now() - started) / 1000;
    const rate = seconds > 0 ? s.done / seconds : 0;
    const percent = total > 0 ? Math.floor((s.done / total) * 100) : 100;
    return { rate, percent, eta: rate > 0 ? (total - s.done) / rate : Infinity };
  };
  const render = (s: ProgressState): string => {
    const { rate, percent, eta } = describe(s);
    const width = 24;
    const filled = Math.round((percent / 100) * width);
    const bar = tty ? ` [${"#".repeat(filled)}${".".repeat(width - filled)}]` : "";
    const peers = s.peers === undefined ? "" : ` peers ${s.peers}`;
    const chunks = s.chunks === undefined ? "" : ` chunks ${s.chunks}/${totalChunks}`;
    return `${label}${bar} ${percent}% ${formatBytes(s.done)}/${formatBytes(total)} ${formatBytes(rate)}/s ETA ${formatDuration(eta)}${peers}${chunks}`;
  };
  return {
    update(s) {
      const now = performance.now();
      if (finished || now - last < every) return;
      last = now;
      if (mode === "json") {
        const { rate } = describe(s);
        logger.event("progress", { bytes_verified: s.done, total_bytes: total, rate_bytes_per_s: Math.round(rate), peers: s.peers, chunks_verified: s.chunks });
      } else if (tty) process.stderr.write(`\r\x1b[2K${render(s)}`);
      else process.stderr.write(`${render(s)}\n`);
    },
    finish() {
      finished = true;
      if (tty) process.stderr.write("\r\x1b[2K");
    },
  };
}
