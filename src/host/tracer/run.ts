/**
 * Run a program under the tracer worker and collect the result: the front-end API behind `vmport run`.
 *
 * Before anything starts: PROGRAM is resolved as `execvp` would (a refusal rejects with {@link ExecError}, as a
 * shell would answer it), and vmport's own stdout/stderr are settled so that the program inherits its descriptors
 * in the mode vmport was given them (`stdio.ts`).
 * Durable state: `onState` is called with at most one snapshot at a time (the worker coalesces changes while it
 * runs); it must finish its write before returning.
 * Does not: write files other than the trace (the CLI writes the state file from `onState`).
 */
import { MessageChannel } from "node:worker_threads";
import { writeSync } from "node:fs";
import { VmportError } from "../../core/errors.js";
import { SAVE_FLAG, type WorkerJob, type WorkerMessage } from "./worker-protocol.js";
import type { RunResult } from "./tracer.js";
import type { GuestStateSnapshot } from "../../channels/guest-state.js";
import type { DurableState } from "../../vm/persistence.js";
import { execFailure, resolveExec } from "./program.js";
import { settleOwnStdio, stdioAtStart } from "../stdio.js";
import { JOB_MESSAGE, takeTracerWorker } from "./worker-start.js";

/** PROGRAM cannot be executed: the message and exit status a shell would give. */
export class ExecError extends VmportError {
  /** 126 (found but not executable) or 127 (not found). */
  readonly exitStatus: number;
  constructor(message: string, exitStatus: number) {
    super("VMPORT_EXEC_FAILED", message);
    this.exitStatus = exitStatus;
  }
}
import type { VmReport } from "../../vm/report.js";

/** Options of {@link runTraced}. */
export type RunOptions = Omit<WorkerJob, "control" | "exec" | "stdio" | "saveFlags" | "wantState" | "traceLimit"> & {
  /** Program and arguments. */
  argv: string[];
  /** Stop the trace file after this many bytes (default: no limit). */
  traceLimit?: number | null;
  /** Called with the durable state when the guest changed it; at most one call at a time, write before returning. */
  onState?: (s: DurableState) => void;
  /** Called with each TCLO result. */
  onTclo?: (command: string, ok: boolean, text: string) => void;
  /** Called once the program is running, with a handle to change the host side while it runs. */
  onStarted?: (pid: number, control: RunControl) => void;
};

/** A running program: change the host side while it runs. */
export interface RunControl {
  /** Set guestinfo.KEY (prefix optional). */
  setGuestinfo(key: string, value: string): void;
  /** Queue a TCLO command. */
  tclo(command: string): void;
}

/** What a finished run returns. */
export interface RunOutcome {
  result: RunResult;
  guest: GuestStateSnapshot;
  state: DurableState;
  counters: Record<string, number>;
  /** Everything the host learnt, for `--report` (`vm/report.ts`). */
  report: VmReport;
}

/** PATH from an environment list. */
function envPath(env: string[]): string | undefined {
  const e = env.find((x) => x.startsWith("PATH="));
  return e === undefined ? undefined : e.slice(5);
}

/**
 * Run `argv` traced; resolves when the root program has exited. Rejects with {@link ExecError} when PROGRAM cannot
 * be executed (nothing ran), or with a `VmportError` carrying the worker's code (VMPORT_SPAWN_FAILED,
 * VMPORT_PTRACE_DENIED, VMPORT_BAD_PROFILE, VMPORT_BAD_STATE, …; VMPORT_TRACER_FAILED for anything untyped).
 */
export function runTraced(o: RunOptions): Promise<RunOutcome> {
  const plan = resolveExec(o.argv, envPath(o.env));
  if ("message" in plan) return Promise.reject(new ExecError(plan.message, plan.exitStatus));
  const { port1, port2 } = new MessageChannel();
  const { onState, onTclo, onStarted, argv, traceLimit, ...rest } = o;
  const saveFlags = new Int32Array(new SharedArrayBuffer(8));
  const job: WorkerJob = {
    ...rest,
    exec: plan,
    traceLimit: traceLimit ?? null,
    stdio: stdioAtStart(),
    wantState: onState !== undefined,
    saveFlags,
    control: port2,
  };
  settleOwnStdio();
  const worker = takeTracerWorker(); // prestarted by the CLI: its modules loaded while the options were checked
  worker.postMessage({ type: JOB_MESSAGE, job }, [port2]);
  return new Promise<RunOutcome>((resolve, reject) => {
    let settled = false;
    let doorbellFd = -1;
    const ring = () => {
      if (doorbellFd < 0 || settled) return;
      try {
        writeSync(doorbellFd, "x"); // wake the tracer even if no trap is pending
      } catch {
        // the run is ending
      }
    };
    worker.on("message", (m: WorkerMessage) => {
      if (m.type === "started") {
        doorbellFd = m.doorbellFd;
        const send = (msg: object) => {
          port1.postMessage(msg);
          ring();
        };
        onStarted?.(m.pid, {
          setGuestinfo: (key, value) => send({ type: "guestinfo", key, value }),
          tclo: (command) => send({ type: "tclo", command }),
        });
      } else if (m.type === "state") {
        try {
          onState?.(m.state);
        } finally {
          Atomics.store(saveFlags, SAVE_FLAG.BUSY, 0);
          if (Atomics.load(saveFlags, SAVE_FLAG.DIRTY) === 1) ring(); // changed meanwhile: ask for the latest
        }
      } else if (m.type === "tclo") onTclo?.(m.command, m.ok, m.text);
      else if (m.type === "error") {
        settled = true;
        // Typed failures (spawn, ptrace, profile, state) keep their code; anything else is the tracer's own failure.
        reject(new VmportError(m.code ?? "VMPORT_TRACER_FAILED", `run: ${m.message}`));
      } else if (m.type === "done") {
        settled = true;
        const r = m.result;
        if (r.execErrno !== null) {
          const f = execFailure(argv[0]!, r.execErrno);
          r.exitStatus = f.exitStatus;
          if (m.report.exit !== null) m.report.exit.status = f.exitStatus;
        }
        resolve({ result: r, guest: m.guest, state: m.state, counters: m.counters, report: m.report });
      }
    });
    worker.on("error", (e) => {
      if (!settled) reject(new VmportError("VMPORT_TRACER_FAILED", `run: tracer worker failed: ${e.message}`, { cause: e }));
    });
    worker.on("exit", () => {
      port1.close();
      if (!settled) reject(new VmportError("VMPORT_TRACER_FAILED", "run: tracer worker exited without a result"));
    });
  });
}
