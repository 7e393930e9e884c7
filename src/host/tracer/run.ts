/**
 * Run a program under the tracer worker and collect the result: the front-end API behind `vmport run`.
 *
 * Does not: write files other than the trace (the CLI writes the state file atomically from the `onState` hook).
 */
import { Worker, MessageChannel } from "node:worker_threads";
import { fileURLToPath } from "node:url";
import { writeSync } from "node:fs";
import type { WorkerJob, WorkerMessage } from "./worker.js";
import type { RunResult } from "./tracer.js";
import type { GuestStateSnapshot } from "../../channels/guest-state.js";
import type { DurableState } from "../../vm/persistence.js";
import type { VmReport } from "../../vm/report.js";

/** Options of {@link runTraced}. */
export type RunOptions = Omit<WorkerJob, "control"> & {
  /** Called with the durable state whenever the guest changed it. */
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

/** Run `argv` traced; resolves when the root program has exited. Rejects with the worker's error message. */
export function runTraced(o: RunOptions): Promise<RunOutcome> {
  const here = fileURLToPath(import.meta.url);
  const ext = here.endsWith(".ts") ? ".ts" : ".js";
  const { port1, port2 } = new MessageChannel();
  const { onState, onTclo, onStarted, ...rest } = o;
  const job: WorkerJob = { ...rest, control: port2 };
  const url = new URL(`./worker${ext}`, import.meta.url);
  // Under tsx (tests, benchmarks) the worker must register the TypeScript loader itself before importing the
  // worker module (Node 20 does not apply the parent's --import hooks to a worker's entry); the built CLI runs JS.
  const worker =
    ext === ".ts"
      ? new Worker(`import("tsx/esm/api").then((m) => { m.register(); return import(${JSON.stringify(url.href)}); });`, {
          eval: true,
          workerData: job,
          transferList: [port2],
        })
      : new Worker(url, { workerData: job, transferList: [port2] });
  return new Promise<RunOutcome>((resolve, reject) => {
    let settled = false;
    worker.on("message", (m: WorkerMessage) => {
      if (m.type === "started") {
        const ring = (msg: object) => {
          port1.postMessage(msg);
          // Wake the tracer even if no trap is pending: one byte to the doorbell pipe.
          if (m.doorbellFd >= 0) writeSync(m.doorbellFd, "x");
        };
        onStarted?.(m.pid, {
          setGuestinfo: (key, value) => ring({ type: "guestinfo", key, value }),
          tclo: (command) => ring({ type: "tclo", command }),
        });
      }
      else if (m.type === "state") onState?.(m.state);
      else if (m.type === "tclo") onTclo?.(m.command, m.ok, m.text);
      else if (m.type === "error") {
        settled = true;
        reject(new Error(m.message));
      } else if (m.type === "done") {
        settled = true;
        resolve({ result: m.result, guest: m.guest, state: m.state, counters: m.counters, report: m.report });
      }
    });
    worker.on("error", (e) => {
      if (!settled) reject(e);
    });
    worker.on("exit", () => {
      port1.close();
      if (!settled) reject(new Error("tracer worker exited without a result"));
    });
  });
}
