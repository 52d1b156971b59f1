/** One line per event on stderr: time, event, then key=value fields (values quoted when needed). */
export interface Logger {
  event(name: string, fields?: Record<string, string | number | boolean | undefined>): void;
}

const quote = (v: string): string => (/^[\w.:/\-[\]@]+$/.test(v) ? v : JSON.stringify(v));

export function stderrLogger(prefix: string, enabled = true): Logger {
  return {
    event(name, fields = {}) {
      if (!enabled) return;
      const parts = Object.entries(fields)
        .filter(([, v]) => v !== undefined)
        .map(([k, v]) => `${k}=${quote(String(v))}`);
      process.stderr.write(`${new Date().toISOString()} ${prefix} ${name}${parts.length ? ` ${parts.join(" ")}` : ""}\n`);
    },
  };
}
