/**
 * Run a program under the tracer worker and collect the result: the one-call form of a `vmport/host` session
 * (`../session.ts`), for `vmport demo` and the tracer's own tests.
 *
 * Before anything starts: PROGRAM is resolved as `execvp` would (a refusal rejects with {@link ExecError}, as a
 * shell would answer it), and vmport's own stdout/stderr are settled so that the program inherits its descriptors
 * in the mode vmport was given them (`stdio.ts`).
 * Durable state: `onState` is called with at most one snapshot at a time (the worker coalesces changes while it
 * runs) and with the state at exit; it must finish its write before returning.
 * Does not: write files other than the trace.
 */
import { ExecError, launch } from "../session.js";
import type { RunResult } from "./tracer.js";
import type { GuestStateSnapshot } from "../../channels/reported-state.js";
import type { DurableState } from "../../vm/persistence.js";
import type { VmProfileInput } from "../../devices/profile.js";
import type { VmReport } from "../../vm/report.js";

export { ExecError };

/** Options of {@link runTraced}. */
export interface RunOptions {
  /** Program and arguments. */
  argv: string[];
  /** Environment as `KEY=VALUE`. */
  env: string[];
  /** The VM profile keys (validated by the engine). */
  profile: VmProfileInput;
  /** Durable state to restore first, or null. */
  state: unknown;
  /** guestinfo to set (after the state). */
  guestinfo: [string, string][];
  /** TCLO commands queued at start. */
  tclo: string[];
  /** Path of a JSON Lines trace file, or null. */
  tracePath: string | null;
  /** Stop the trace file after this many bytes (default: no limit). */
  traceLimit?: number | null;
  /** The CPU to pin the tracer thread and the program to, or null. */
  pinCpu: number | null;
  /** Install the syscall policy in the program (`docs/tracer.md` §5); false only in tests. */
  seccomp: boolean;
  /** Called with the durable state when the guest changed it; at most one call at a time, write before returning. */
  onState?: (s: DurableState) => void;
  /** Called with each TCLO result, as it arrives. */
  onTclo?: (command: string, ok: boolean, text: string) => void;
  /** Called once the program is running, with a handle to change the host side while it runs. */
  onStarted?: (pid: number, control: RunControl) => void;
}

/** A running program: change the host side while it runs. */
export interface RunControl {
  /** Set guestinfo.KEY (prefix optional). */
  setGuestinfo(key: string, value: string): void;
  /** Queue a TCLO command. */
  tclo(command: string): void;
}

/** What a finished run returns. */
export interface RunOutcome {
  /** How the root program ended. */
  result: RunResult;
  /** The guest model at exit. */
  guest: GuestStateSnapshot;
  /** The durable state at exit (what `--state` saves). */
  state: DurableState;
  /** Counters of the tracer, the engine and the CPUID patcher, by name. */
  counters: Record<string, number>;
  /** Everything the host learnt, for `--report` (`vm/report.ts`). */
  report: VmReport;
}

/**
 * Run `argv` traced; resolves when the root program has exited. Rejects with {@link ExecError} when PROGRAM cannot
 * be executed (nothing ran), or with the worker's error message.
 */
export async function runTraced(o: RunOptions): Promise<RunOutcome> {
  const s = await launch({
    argv: o.argv,
    env: o.env,
    cwd: null,
    profile: o.profile,
    state: o.state,
    guestinfo: o.guestinfo,
    tclo: o.tclo,
    tracePath: o.tracePath,
    traceLimit: o.traceLimit ?? null,
    pinCpu: o.pinCpu,
    seccomp: o.seccomp,
    stdio: "inherit",
    onState: o.onState ?? null,
    stateFile: null,
  });
  const onTclo = o.onTclo;
  if (onTclo !== undefined) s.on("tclo-result", (r) => onTclo(r.command, r.ok, r.text));
  o.onStarted?.(s.pid, {
    setGuestinfo: (key, value) => void s.guestinfo.set(key, value).catch(() => {}),
    tclo: (command) => void s.tclo(command).catch(() => {}),
  });
  const exit = await s.exited;
  const d = s.finalDetails()!;
  return { result: d.result, guest: d.guest, state: exit.state, counters: d.counters, report: exit.report };
}
