/**
 * Every failure a user can see carries a stable code; the code decides the exit status.
 * The table is documented in README.md ("Exit codes") and must stay in step with it.
 */
export const EXIT_CODES = {
  BT_E_INTERNAL: 1,
  BT_E_USAGE: 2,
  BT_E_INPUT: 3,
  BT_E_PACKAGE: 4,
  BT_E_VERIFY: 5,
  BT_E_EXISTS: 6,
  BT_E_IO: 7,
  BT_E_NO_PEERS: 8,
  BT_E_LOCKED: 9,
  BT_E_ROLLOUT: 10,
  BT_E_IN_PROGRESS: 11,
  BT_E_INTERRUPTED: 130,
  BT_E_TERMINATED: 143,
} as const;

export type ErrorCode = keyof typeof EXIT_CODES;

/** Exit codes a command can return, each with what it means there (for --help). */
export type ExitMeanings = Partial<Record<ErrorCode, string>>;

/** Every command can fail these ways; a command may word them its own way (Command.exitCodes). */
export const COMMON_EXIT_CODES: ExitMeanings = {
  BT_E_INTERNAL: "a bug: please report it (BYTETIDE_DEBUG=1 adds a stack trace)",
  BT_E_USAGE: "bad arguments: unknown flag, missing or bad value",
};

export class BtError extends Error {
  constructor(
    readonly code: ErrorCode,
    message: string,
  ) {
    super(message);
    this.name = "BtError";
  }

  get exitCode(): number {
    return EXIT_CODES[this.code];
  }
}

/** Turns a Node/Bun filesystem error into one line that names the path. */
export function describeFsError(err: unknown, path: string): string {
  const code = (err as { code?: string })?.code;
  const reason =
    code === "ENOENT" ? "no such file or directory"
    : code === "EACCES" || code === "EPERM" ? "permission denied"
    : code === "ENOTDIR" ? "a parent is not a directory"
    : code === "EISDIR" ? "is a directory"
    : code === "ENOSPC" ? "no space left on device"
    : code === "EROFS" ? "read-only file system"
    : code === "EEXIST" ? "already exists"
    : code === "EIO" ? "input/output error"
    : ((err as Error)?.message ?? String(err));
  return reason.startsWith(`${path}: `) ? reason : `${path}: ${reason}`;
}

/** Why a listening socket could not be opened, in words. */
export function describeBindError(err: unknown): string {
  const code = (err as { code?: string })?.code;
  return code === "EADDRINUSE" ? "address already in use"
    : code === "EADDRNOTAVAIL" ? "not an address of this machine"
    : code === "EACCES" || code === "EPERM" ? "permission denied (ports below 1024 need privileges)"
    : ((err as Error)?.message ?? String(err));
}

export function fsError(code: ErrorCode, err: unknown, path: string): BtError {
  return new BtError(code, describeFsError(err, path));
}
