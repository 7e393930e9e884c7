/**
 * What the main thread and the tracer worker say to each other: the job, the messages, the shared save flags.
 *
 * Emulates: nothing. Kept apart from `worker.ts` because importing that module runs the worker.
 */
import type { GuestStateSnapshot } from "../../channels/guest-state.js";
import type { DurableState } from "../../vm/persistence.js";
import type { VmProfileInput } from "../../devices/profile.js";
import type { MessagePort } from "node:worker_threads";
import type { RunResult } from "./tracer.js";
import type { VmReport } from "../../vm/report.js";
import type { ExecPlan } from "./program.js";
import type { StdioPlan } from "../stdio.js";
import type { VmportErrorCode } from "../../core/errors.js";

/** Indices into the shared `saveFlags` array. */
export const SAVE_FLAG = { /** 1 while the main thread holds a snapshot it has not finished writing. */ BUSY: 0, /** 1 when state changed since the last snapshot posted. */ DIRTY: 1 } as const;

/** What the worker is asked to do. */
export interface WorkerJob {
  exec: ExecPlan;
  env: string[];
  profile: VmProfileInput;
  /** Durable state to restore first, or null. */
  state: unknown;
  /** guestinfo to set (after the state): key → value. */
  guestinfo: [string, string][];
  /** TCLO commands queued at start. */
  tclo: string[];
  /** Path of a JSON Lines trace file, or null. */
  tracePath: string | null;
  /** Stop writing the trace after this many bytes (then one final record counts what was dropped); null: no limit. */
  traceLimit: number | null;
  pinCpu: number | null;
  seccomp: boolean;
  stdio: StdioPlan;
  /** Whether the host wants durable-state snapshots while the program runs. */
  wantState: boolean;
  /** Int32Array over a SharedArrayBuffer, indexed by {@link SAVE_FLAG}. */
  saveFlags: Int32Array;
  /** Port for host → worker control messages. */
  control: MessagePort | null;
}

/** Messages the worker posts. */
export type WorkerMessage =
  | { type: "started"; pid: number; doorbellFd: number }
  | { type: "state"; state: DurableState }
  | { type: "tclo"; command: string; ok: boolean; text: string }
  | { type: "done"; result: RunResult; guest: GuestStateSnapshot; state: DurableState; counters: Record<string, number>; report: VmReport }
  | { type: "error"; message: string; /** The code of a `VmportError`, rebuilt on the other side. */ code?: VmportErrorCode };

