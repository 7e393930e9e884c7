/**
 * Starting the traced program: posix_spawn of the static trampoline from the tracer thread, PTRACE_SEIZE, and the
 * doorbell child that wakes the blocking wait when the host has news.
 *
 * Emulates: nothing; this is `vmport run`'s start-up. Source of truth: `docs/tracer.md` §2–§3 (posix_spawn from the
 * tracer thread with fds 0–2 dup2'ed onto themselves and every signal reset to default; Node's O_NONBLOCK on shared
 * pipes; the self-stopping static trampoline), `posix_spawn(3)`, `ptrace(2)` (PTRACE_SEIZE options).
 * Does not: wait for the program (the stop loop does), or pick CPUs (`placement.ts`).
 */
import { VmportError } from "../../core/errors.js";
import { PTRACE, PTRACE_O, SIG, type Libc } from "../ptrace/libc.js";
import { blockingFlags, type StdioPlan } from "../stdio.js";
import type { ExecPlan } from "./program.js";

const F_GETFL = 3;
const F_SETFL = 4;
const SYS_FCNTL = 72;
const POSIX_SPAWN_SETSIGDEF = 0x04;
const POSIX_SPAWN_SETSIGMASK = 0x08;

/** What to start and how. */
export interface SpawnRequest {
  /** The program to execute (through the trampoline). */
  exec: ExecPlan;
  /** Environment as `KEY=VALUE`. */
  env: string[];
  /** Path of the trampoline executable (`trampolinePath`). */
  trampoline: string;
  /** Whether the trampoline installs the syscall policy (then seccomp stops are traced too). */
  seccomp: boolean;
  /** Descriptors 0–2 for the program. */
  stdio: StdioPlan;
  /** Working directory of the program, or null for vmport's. */
  cwd: string | null;
}

/** Clear O_NONBLOCK on descriptors 0–2 (Node's libuv set it on pipes; the program shares the descriptions). */
function restoreStdioFlags(c: Libc, plan: StdioPlan): void {
  for (const fd of [0, 1, 2]) {
    if (plan.closed[fd] || (plan.fds?.[fd] ?? fd) !== fd) continue; // only vmport's own descriptors are shared
    const cur = c.syscall6(SYS_FCNTL, fd, F_GETFL, 0, 0, 0, 0);
    if (cur < 0) continue;
    const want = blockingFlags(cur);
    if (want !== null) c.syscall6(SYS_FCNTL, fd, F_SETFL, want, 0, 0, 0);
  }
}

/**
 * Spawn the program under the trampoline and seize it; returns its pid (it stops itself before `execve`).
 * @throws VmportError VMPORT_SPAWN_FAILED when posix_spawn fails, VMPORT_PTRACE_DENIED when PTRACE_SEIZE does
 */
export function spawnSeized(c: Libc, r: SpawnRequest): number {
  restoreStdioFlags(c, r.stdio);
  const fa = c.alloc(80);
  const attr = c.alloc(336);
  c.faInit(fa.ptr);
  for (const fd of [0, 1, 2]) {
    const src = r.stdio.fds?.[fd] ?? fd;
    if (r.stdio.closed[fd] || src < 0)
      c.faAddClose(fa.ptr, fd); // closed when vmport started: closed for the program too
    else c.faAddDup2(fa.ptr, src, fd); // clears FD_CLOEXEC, which Node sets on 0–2
  }
  if (r.cwd !== null && c.faAddChdir(fa.ptr, r.cwd) !== 0) {
    c.faDestroy(fa.ptr);
    throw new VmportError("VMPORT_SPAWN_FAILED", `cannot use ${r.cwd} as the working directory`);
  }
  c.attrInit(attr.ptr);
  c.attrSetSigDefault(attr.ptr, new Uint8Array(128).fill(0xff)); // Node ignores SIGPIPE/SIGXFSZ: reset all
  c.attrSetSigMask(attr.ptr, new Uint8Array(128));
  c.attrSetFlags(attr.ptr, POSIX_SPAWN_SETSIGDEF | POSIX_SPAWN_SETSIGMASK);
  const argv = [r.trampoline, r.exec.path, ...r.exec.argv, null];
  const envp = [...r.env, null];
  const pid = new Int32Array(1);
  const rc = c.posixSpawn(pid, r.trampoline, fa.ptr, attr.ptr, argv, envp);
  c.faDestroy(fa.ptr);
  c.attrDestroy(attr.ptr);
  if (rc !== 0) throw new VmportError("VMPORT_SPAWN_FAILED", `posix_spawn of the trampoline ${r.trampoline} failed (error ${rc})`);
  const root = pid[0]!;
  let opts = PTRACE_O.TRACEFORK | PTRACE_O.TRACEVFORK | PTRACE_O.TRACECLONE | PTRACE_O.TRACEEXEC | PTRACE_O.EXITKILL;
  if (r.seccomp) opts |= PTRACE_O.TRACESECCOMP | PTRACE_O.TRACESYSGOOD;
  if (c.ptrace(PTRACE.SEIZE, root, 0, opts) !== 0) {
    const e = c.errno();
    c.kill(root, SIG.KILL);
    throw new VmportError(
      "VMPORT_PTRACE_DENIED",
      `ptrace(PTRACE_SEIZE) failed (errno ${e}); is ptrace allowed here (root, or kernel.yama.ptrace_scope 0; some container runtimes forbid it)?`,
    );
  }
  return root;
}

/**
 * The doorbell: an untraced child (`head -c 1`) reading a pipe. Writing a byte to {@link fd} makes it exit; its
 * exit wakes the tracer's blocking wait, the loop applies host-side changes, and {@link ring} is re-armed with
 * {@link respawn}.
 */
export class Doorbell {
  /** Write end of the pipe (O_CLOEXEC), or -1 when the doorbell could not be made. */
  fd = -1;
  /** Pid of the current doorbell child, 0 when none. */
  pid = 0;
  private readFd = -1;

  constructor(private readonly c: Libc) {
    const fds = new Int32Array(2);
    if (c.pipe2(fds, 0x80000 /* O_CLOEXEC */) !== 0) return;
    this.readFd = fds[0]!;
    this.fd = fds[1]!;
    this.respawn();
  }

  /** Start a new doorbell child (after the previous one rang). */
  respawn(): void {
    if (this.readFd < 0) return;
    const c = this.c;
    const fa = c.alloc(80);
    c.faInit(fa.ptr);
    c.faAddDup2(fa.ptr, this.readFd, 0);
    c.faAddOpen(fa.ptr, 1, "/dev/null", 1 /* O_WRONLY */, 0);
    const pid = new Int32Array(1);
    const rc = c.posixSpawn(pid, "/usr/bin/head", fa.ptr, null, ["head", "-c", "1", null], [null]);
    c.faDestroy(fa.ptr);
    this.pid = rc === 0 ? pid[0]! : 0;
  }

  /** Stop the current child for good (the run is over). */
  stop(): void {
    if (this.pid > 0) this.c.kill(this.pid, SIG.KILL);
  }

  /** Close the pipe; with `keepWriteEnd` the write end stays open for a thread that may still ring (it closes it). */
  close(keepWriteEnd = false): void {
    if (this.readFd >= 0) this.c.close(this.readFd);
    this.readFd = -1;
    if (!keepWriteEnd && this.fd >= 0) this.c.close(this.fd);
    if (!keepWriteEnd) this.fd = -1;
  }
}
