/**
 * Decoding the status word `waitpid` returns for a traced thread.
 *
 * Emulates: nothing; this is glibc's `WIFEXITED`/`WIFSIGNALED`/`WIFSTOPPED`/`WSTOPSIG` and the ptrace event field,
 * as plain functions. Source of truth: Linux `include/uapi/linux/ptrace.h`, `kernel/exit.c` (the status layout:
 * exit code << 8, or the signal in bits 0–6, or 0x7f | signal << 8 | event << 16 for a stop), `ptrace(2)`.
 * Does not: decode `WIFCONTINUED` (the tracer never asks for WCONTINUED).
 */
import { SIG } from "../ptrace/libc.js";

/** True when the thread exited or was killed (not a stop). */
export function hasEnded(status: number): boolean {
  return (status & 0x7f) === 0 || ((status & 0xff) !== 0x7f && (status & 0x7f) !== 0);
}

/** The signal of a stop (with 0x80 set for a TRACESYSGOOD syscall stop). */
export function stopSignal(status: number): number {
  return (status >> 8) & 0xff;
}

/** The ptrace event of a stop (PTRACE_EVENT_*; 0 for a signal-delivery stop). */
export function stopEvent(status: number): number {
  return (status >> 16) & 0xff;
}

/** The signal that killed the thread, or null when it exited. */
export function killSignal(status: number): number | null {
  return (status & 0x7f) !== 0 ? status & 0x7f : null;
}

/** The exit code of a thread that exited. */
export function exitCode(status: number): number {
  return (status >> 8) & 0xff;
}

/** The status of a plain SIGSEGV signal-delivery stop: the only one a backdoor #GP produces. */
export const SEGV_STOP_STATUS = (SIG.SEGV << 8) | 0x7f;
