import { dlopen, FFIType, read } from "bun:ffi";

function openLibc() {
  return dlopen("libc.so.6", {
    flock: { args: [FFIType.i32, FFIType.i32], returns: FFIType.i32 },
    posix_fallocate: { args: [FFIType.i32, FFIType.i64, FFIType.i64], returns: FFIType.i32 },
    __errno_location: { args: [], returns: FFIType.ptr },
  });
}

export type Libc = ReturnType<typeof openLibc>["symbols"];
let libc: Libc | null | undefined;

/** The few libc calls Node's fs lacks (flock, posix_fallocate); null without glibc (musl, another OS). */
export function libcOrNull(): Libc | null {
  if (libc === undefined) {
    try {
      libc = openLibc().symbols;
    } catch {
      libc = null;
    }
  }
  return libc;
}

/** errno of the last failed call on this thread. */
export const lastErrno = (c: Libc): number => read.i32(c.__errno_location()!, 0);
