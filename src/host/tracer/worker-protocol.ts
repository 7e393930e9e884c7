/**
 * What the main thread and the tracer worker say to each other: the job, the requests, the messages, the shared
 * flags.
 *
 * Emulates: nothing. Kept apart from `worker.ts` because importing that module runs the worker.
 * Flow (docs/tracer.md §7): the main thread posts {@link HostRequest}s on the control port and rings the doorbell;
 * the worker, woken from `waitpid`, drains the port, answers each call with a `reply` and keeps running the guest.
 * Events go the other way as `event` messages (at most {@link EVENT_BACKLOG_MAX} not yet received by the main
 * thread), except backdoor-call records, which go through a shared ring (`trace-ring.ts`).
 */
import type { GuestStateChange, GuestStateSnapshot } from "../../channels/reported-state.js";
import type { DurableState } from "../../vm/persistence.js";
import type { VmProfileInput } from "../../devices/profile.js";
import type { MessagePort } from "node:worker_threads";
import type { RunResult } from "./tracer.js";
import type { VmReport } from "../../vm/report.js";
import type { ExecPlan } from "./program.js";
import type { StdioPlan } from "../stdio.js";
import type { HostCall } from "../host-calls.js";
import type { VmportErrorCode } from "../../core/errors.js";

/** Indices into the shared `saveFlags` array. */
export const SAVE_FLAG = {
  /** 1 while the main thread holds a snapshot it has not finished writing. */ BUSY: 0,
  /** 1 when state changed since the last snapshot posted. */ DIRTY: 1,
} as const;

/** Indices into the shared `signals` array. */
export const SIGNAL = {
  /** 1 from the moment the main thread rings the doorbell until the worker starts draining: one ring is enough. */
  RUNG: 0,
  /** `event` messages the worker posted that the main thread has not received yet. */
  EVENTS_IN_FLIGHT: 1,
} as const;

/**
 * Most `event` messages in flight from the worker to the main thread; further events are dropped and counted (one
 * `dropped` event says how many, once there is room). Each carries at most one guest-model change (a guestinfo
 * value ≤ 64 KiB), so the queue between the threads holds at most ≈ 16 MiB whatever the guest does.
 */
export const EVENT_BACKLOG_MAX = 256;

/** Which events the main thread wants forwarded (TCLO results always are: they are rare and host-paced). */
export interface EventWants {
  /** Guest-model changes (fields, guestinfo). */
  guestChange: boolean;
  /** Guest log lines. */
  guestLog: boolean;
  /** One record per backdoor access, into the shared trace ring. */
  backdoorCall: boolean;
}

/** What the worker is asked to do. */
export interface WorkerJob {
  /** The program to execute. */
  exec: ExecPlan;
  /** Environment as `KEY=VALUE`. */
  env: string[];
  /** Working directory of the program, or null for vmport's own. */
  cwd: string | null;
  /** The VM profile keys. */
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
  /** The CPU to pin the tracer and the program to, or null. */
  pinCpu: number | null;
  /** Install the syscall policy in the program (`docs/tracer.md` §5). */
  seccomp: boolean;
  /** How the program's descriptors 0–2 are set up. */
  stdio: StdioPlan;
  /** Whether the host wants durable-state snapshots while the program runs. */
  wantState: boolean;
  /** Int32Array over a SharedArrayBuffer, indexed by {@link SAVE_FLAG}. */
  saveFlags: Int32Array;
  /** Int32Array over a SharedArrayBuffer, indexed by {@link SIGNAL}. */
  signals: Int32Array;
  /** The shared ring backdoor-call records go through (`trace-ring.ts`). */
  traceRing: SharedArrayBuffer;
  /** Events wanted from the start. */
  wants: EventWants;
  /** Port for host → worker requests. */
  control: MessagePort | null;
}

/** Requests the main thread posts on the control port (then it rings the doorbell). */
export type HostRequest =
  | { op: "call"; id: number; call: WorkerCall }
  | { op: "events"; wants: EventWants }
  /** Run the VM's timers now (a TCLO command's time is up). */
  | { op: "timers" };

/** A call on the VM ({@link HostCall}), or one only the worker can answer. */
export type WorkerCall =
  | HostCall
  /** Queue a TCLO command; the reply comes when the guest answers or the command fails. */
  | { name: "tclo"; command: string; timeoutMs: number /** `process.hrtime` when the caller asked. */; sentAtNs: bigint }
  /** `{ backdoorCalls }` so far. */
  | { name: "status" }
  /** `vm.counters()` plus the tracer's. */
  | { name: "counters" }
  /** The run report of now. */
  | { name: "guest" };

/** A TCLO command's end, as the worker reports it. */
export interface TcloOutcome {
  /** The command as it was queued. */
  command: string;
  /** True for the `reset` sent by itself when the guest opens its TCLO channel. */
  internal: boolean;
  /** `ok` / `error`: the guest's answer; `timeout`: none in time; `closed`: the guest closed its channel. */
  outcome: "ok" | "error" | "timeout" | "closed";
  /** True for `OK …`. */
  ok: boolean;
  /** The answer after `OK `/`ERROR `, or why there is none. */
  text: string;
}

/** An event from the worker. */
export type WorkerEvent =
  | { kind: "guest-change"; change: GuestStateChange }
  | { kind: "guest-log"; line: string }
  | { kind: "tclo-result"; result: TcloOutcome }
  /** Events dropped because {@link EVENT_BACKLOG_MAX} were in flight. */
  | { kind: "dropped"; count: number };

/** Messages the worker posts. */
export type WorkerMessage =
  | { type: "started"; pid: number; doorbellFd: number }
  | { type: "state"; state: DurableState }
  | { type: "reply"; id: number; ok: true; value: unknown }
  | { type: "reply"; id: number; ok: false; code: string; message: string }
  | { type: "event"; event: WorkerEvent }
  | {
      type: "done";
      result: RunResult;
      guest: GuestStateSnapshot;
      state: DurableState;
      /** Flat counters for `--verbose`: the tracer's, the intercept's, the CPUID patcher's. */
      counters: Record<string, number>;
      report: VmReport;
      /** Events dropped (backlog) and never announced. */
      droppedEvents: number;
    }
  | { type: "error"; message: string /** The code of a `VmportError`, rebuilt on the other side. */; code?: VmportErrorCode };
