import { lastErrno, libcOrNull } from "./libc.ts";

const LOCK_EX = 2;
const LOCK_NB = 4;
const EWOULDBLOCK = 11;

export type LockResult = "locked" | "held-elsewhere" | "unsupported";

/**
 * An exclusive flock(2) on an open file, without waiting. The kernel drops it when the
 * process ends however it ends (kill -9 included), so a crashed run never blocks the next,
 * which a lock file with a PID in it cannot promise (PIDs are reused, and differ across
 * containers sharing a volume). "unsupported": no glibc to call, or a filesystem without
 * locks; the caller goes on unlocked rather than refusing to work.
 */
export function lockExclusive(fd: number): LockResult {
  const c = libcOrNull();
  if (!c) return "unsupported";
  if (c.flock(fd, LOCK_EX | LOCK_NB) === 0) return "locked";
  return lastErrno(c) === EWOULDBLOCK ? "held-elsewhere" : "unsupported";
}
