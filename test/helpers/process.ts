import type { Subprocess } from "bun";

export type PipedProcess = Subprocess<"ignore", "pipe", "pipe">;

export interface ProcessResult {
  code: number;
  stdout: string;
  stderr: string;
}

/** A process whose output is collected as it comes, for commands that run until stopped. */
export interface Watched {
  proc: PipedProcess;
  /** Everything printed so far. */
  readonly stdout: string;
  readonly stderr: string;
  /** Waits until the stream matches; fails, with everything printed, after timeoutMs or when the process ends first. */
  waitFor(pattern: RegExp, timeoutMs?: number, stream?: "stdout" | "stderr"): Promise<RegExpExecArray>;
  /** Sends the signal (unless it has ended), then resolves with the exit code and everything printed. */
  stop(signal?: NodeJS.Signals): Promise<ProcessResult>;
  done: Promise<ProcessResult>;
}

async function collect(stream: ReadableStream<Uint8Array>, append: (text: string) => void): Promise<void> {
  const decoder = new TextDecoder();
  for await (const chunk of stream) append(decoder.decode(chunk, { stream: true }));
}

/** Watches a spawned process; `epilogue` may add a last line to stderr once it ends (a timeout note, say). */
export function watch(proc: PipedProcess, label: string, epilogue: () => string = () => ""): Watched {
  let stdout = "";
  let stderr = "";
  let ended = false;
  const done = Promise.all([proc.exited, collect(proc.stdout, (t) => (stdout += t)), collect(proc.stderr, (t) => (stderr += t))]).then(([code]) => {
    ended = true;
    stderr += epilogue();
    return { code, stdout, stderr };
  });
  return {
    proc,
    get stdout() {
      return stdout;
    },
    get stderr() {
      return stderr;
    },
    async waitFor(pattern, timeoutMs = 30_000, stream = "stdout") {
      const deadline = Date.now() + timeoutMs;
      for (;;) {
        const m = pattern.exec(stream === "stdout" ? stdout : stderr);
        if (m) return m;
        if (ended || Date.now() > deadline) {
          throw new Error(`${label}: no ${pattern} on ${stream} (${ended ? "it ended" : `not within ${timeoutMs} ms`}):\n--- stdout\n${stdout}--- stderr\n${stderr}`);
        }
        await Bun.sleep(10);
      }
    },
    async stop(signal = "SIGTERM") {
      if (!ended) proc.kill(signal);
      return done;
    },
    done,
  };
}
