import { formatBytes, formatDuration } from "../util/units.ts";

export interface Progress {
  update(done: number): void;
  finish(): void;
}

const REDRAW_MS = 100;

/** A one-line live display on stderr when it is a terminal; silent otherwise. */
export function createProgress(label: string, total: number, enabled = process.stderr.isTTY === true): Progress {
  if (!enabled) return { update() {}, finish() {} };
  const started = performance.now();
  let lastDraw = 0;
  const draw = (done: number): void => {
    const seconds = (performance.now() - started) / 1000;
    const rate = seconds > 0 ? done / seconds : 0;
    const percent = total > 0 ? Math.floor((done / total) * 100) : 100;
    const width = 24;
    const filled = Math.round((percent / 100) * width);
    const eta = rate > 0 ? formatDuration((total - done) / rate) : "--:--";
    const line = `${label} [${"#".repeat(filled)}${".".repeat(width - filled)}] ${percent}% ${formatBytes(done)}/${formatBytes(total)} ${formatBytes(rate)}/s ETA ${eta}`;
    process.stderr.write(`\r\x1b[2K${line}`);
  };
  return {
    update(done) {
      const now = performance.now();
      if (now - lastDraw < REDRAW_MS) return;
      lastDraw = now;
      draw(done);
    },
    finish() {
      process.stderr.write("\r\x1b[2K");
    },
  };
}
