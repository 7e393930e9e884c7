/**
 * The tracer worker thread: owns spawn, seize, wait and every ptrace call, and runs the device model in-thread
 * (`tracer-notes.md` §1–2: ptrace calls must come from the thread that seized; per-trap hand-offs between threads
 * cost more than the trap).
 *
 * Receives a {@link WorkerJob} as `workerData`; posts `{ type: "started", pid }` once the program runs and
 * `{ type: "done", result, guest, state, report }` at the end (`report`: `vm/report.ts`). Host-side changes while the guest runs arrive on the control
 * port and are applied when the doorbell rings (see `Tracer`), so the per-trap path has no extra work.
 * Does not: print anything; the CLI decides what to show.
 */
import { parentPort, workerData, receiveMessageOnPort, type MessagePort } from "node:worker_threads";
import { VirtualMachine } from "../../vm/virtual-machine.js";
import { restoreDurableState, saveDurableState, type DurableState } from "../../vm/persistence.js";
import { buildReport, type VmReport } from "../../vm/report.js";
import { SystemClock } from "../system-clock.js";
import { Tracer, type RunResult } from "./tracer.js";
import type { GuestStateSnapshot } from "../../channels/guest-state.js";
import type { TraceRecord } from "../../vm/trace.js";
import type { VmProfileInput } from "../../devices/profile.js";
import { openSync, writeSync } from "node:fs";

/** What the worker is asked to do. */
export interface WorkerJob {
  argv: string[];
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
  pinCpu: number | null;
  seccomp: boolean;
  /** Port for host → worker control messages. */
  control: MessagePort | null;
}

/** Messages the worker posts. */
export type WorkerMessage =
  | { type: "started"; pid: number; doorbellFd: number }
  | { type: "state"; state: DurableState }
  | { type: "tclo"; command: string; ok: boolean; text: string }
  | { type: "done"; result: RunResult; guest: GuestStateSnapshot; state: DurableState; counters: Record<string, number>; report: VmReport }
  | { type: "error"; message: string };

function post(m: WorkerMessage): void {
  parentPort!.postMessage(m);
}

const job = workerData as WorkerJob;
try {
  const vm = new VirtualMachine({ profile: job.profile, clock: new SystemClock() });
  if (job.state !== null) restoreDurableState(vm, job.state);
  for (const [k, v] of job.guestinfo) vm.messaging.guestinfo.set(k, v);
  for (const cmd of job.tclo) {
    vm.messaging.tclo.send(cmd).then(
      (r) => post({ type: "tclo", command: cmd, ok: r.ok, text: r.text }),
      (e: unknown) => post({ type: "tclo", command: cmd, ok: false, text: String((e as Error).message) }),
    );
  }
  if (job.tracePath !== null) {
    const fd = openSync(job.tracePath, "a");
    vm.traceSink = (r: TraceRecord) => void writeSync(fd, JSON.stringify(r) + "\n");
  }
  // Durable state changes are reported to the main thread, which writes the file atomically.
  let dirty = false;
  vm.messaging.guestinfo.onChange = ((prev) => (c) => {
    prev?.(c);
    dirty = true;
  })(vm.messaging.guestinfo.onChange);
  vm.messaging.namespaces.onChange = () => {
    dirty = true;
  };
  const tracer = new Tracer({
    argv: job.argv,
    env: job.env,
    vm,
    pinCpu: job.pinCpu,
    seccomp: job.seccomp,
    afterTrap: () => {
      if (dirty) {
        dirty = false;
        post({ type: "state", state: saveDurableState(vm) });
      }
    },
    onDoorbell: () => {
      if (job.control !== null) drainControl(vm, job.control);
    },
  });
  const pid = tracer.spawn();
  post({ type: "started", pid, doorbellFd: tracer.doorbellFd });
  const result = tracer.run();
  vm.runTimers();
  post({
    type: "done",
    result,
    guest: vm.messaging.guest.snapshot(),
    state: saveDurableState(vm),
    counters: { ...tracer.counters, ...vm.counters },
    report: buildReport(vm, { exitStatus: result.exitStatus, signal: result.signal, backdoorCalls: result.traps, counters: { ...tracer.counters } }),
  });
} catch (e) {
  post({ type: "error", message: e instanceof Error ? e.message : String(e) });
}

/** Apply host → guest changes waiting on the control port (synchronously; no event loop runs here). */
function drainControl(vm: VirtualMachine, port: MessagePort): void {
  for (let m = receiveMessageOnPort(port); m !== undefined; m = receiveMessageOnPort(port)) {
    const msg = m.message as { type: string; key?: string; value?: string; command?: string };
    if (msg.type === "guestinfo" && msg.key !== undefined && msg.value !== undefined) vm.messaging.guestinfo.set(msg.key, msg.value);
    if (msg.type === "tclo" && msg.command !== undefined) void vm.messaging.tclo.send(msg.command).catch(() => {});
  }
}
