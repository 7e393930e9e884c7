/**
 * The traced program's standard descriptors: exactly the ones vmport was given, in the mode it was given them.
 *
 * Emulates: nothing; this keeps the README's promise that the program's stdio is its own. Two things Node does
 * would otherwise leak into the program:
 * - the first use of `process.stdout`/`process.stderr` puts a pipe into O_NONBLOCK mode (libuv), and a TTY is
 *   reopened onto the same descriptor number in a mode libuv chooses. File status flags belong to the open file
 *   description, which the program shares: it would get EAGAIN from `write` as soon as a slow reader lets the pipe
 *   fill (`head -c 1000000 /dev/zero | (sleep 2; wc -c)` lost all but 64 KiB);
 * - Node opens `/dev/null` (read-write) in place of a descriptor 0–2 that was closed when it started.
 Before the program starts, the tracer therefore clears O_NONBLOCK on descriptors 0–2 (programs expect blocking
 * standard descriptors; a caller that really hands vmport a non-blocking one — rare, and indistinguishable from
 * what Node's loaders do before vmport's first line runs — gets it back blocking). Which descriptors were closed
 * is read from `/proc/self/fdinfo` when this module is first loaded (`cli/main.ts` imports it first); a
 * descriptor Node had to open because it was closed is closed again for the program.
 * Source of truth: `fcntl(2)` (F_GETFL/F_SETFL act on the open file description), libuv `uv_pipe_open` /
 * `uv_tty_init`, Node `PlatformInit` (reopens closed 0–2 as `/dev/null`, O_RDWR).
 * Does not: give vmport's own later writes back their non-blocking mode (they block instead, which is harmless:
 * vmport writes a few lines); keep a descriptor non-blocking that the caller gave non-blocking; recognise a
 * descriptor that really was `/dev/null` opened read-write (`<>/dev/null`) — the program then gets it closed.
 */
import { readFileSync, readlinkSync } from "node:fs";

/** `O_NONBLOCK` on Linux. */
export const O_NONBLOCK = 0o4000;
const O_ACCMODE = 3;
const O_RDWR = 2;

/** What vmport was given as descriptors 0–2. */
export interface StdioPlan {
  /** Per descriptor 0–2: it was closed when vmport started (Node replaced it with /dev/null). */
  closed: boolean[];
  /**
   * Per descriptor 0–2: the descriptor of this process the program gets in its place (a pipe, `/dev/null`), or -1
   * for closed. Default: the same number (vmport's own descriptors).
   */
  fds?: number[];
}

/** Whether descriptor `fd` is Node's stand-in for a descriptor that was closed: `/dev/null` opened read-write. */
function wasClosed(fd: number): boolean {
  try {
    const m = /^flags:\s*([0-7]+)$/m.exec(readFileSync(`/proc/self/fdinfo/${fd}`, "utf8"));
    if (m === null) return false;
    return (parseInt(m[1]!, 8) & O_ACCMODE) === O_RDWR && readlinkSync(`/proc/self/fd/${fd}`) === "/dev/null";
  } catch {
    return false;
  }
}

const closedAtLoad = [0, 1, 2].map(wasClosed);

/** The descriptors as they were when this module was first loaded. */
export function stdioAtStart(): StdioPlan {
  return { closed: [...closedAtLoad] };
}

/**
 * Let libuv finish what it does to vmport's own stdout/stderr now, so that it does not change the shared
 * descriptors later while the program runs. Call before the program starts.
 */
export function settleOwnStdio(): void {
  void process.stdout;
  void process.stderr;
}

/** The O_NONBLOCK fix for one descriptor: the flags to set (F_SETFL), or null when it is already blocking. */
export function blockingFlags(current: number): number | null {
  return (current & O_NONBLOCK) === 0 ? null : current & ~O_NONBLOCK;
}
