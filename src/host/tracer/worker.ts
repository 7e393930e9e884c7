/**
 * The tracer worker thread: owns spawn, seize, wait and every ptrace call, and runs the device model in-thread
 * (`docs/tracer.md`: ptrace calls must come from the thread that seized; per-trap hand-offs between threads
 * cost more than the trap).
 *
 * Receives a {@link WorkerJob} as `workerData`, or as the first message when the CLI started the thread early
 * (`worker-start.ts`; the libc bindings, the trampoline and the native step are prepared while it waits); posts `{ type: "started", pid }` once the program runs and
 * `{ type: "done", result, guest, state, report }` at the end (`report`: `vm/report.ts`). Host requests while the
 * guest runs (`worker-protocol.ts`: guestinfo, TCLO, mouse, clipboard, devices, the model, counters) arrive on the
 * control port and are answered when the doorbell rings (see `Tracer`), also while the guest makes no backdoor call.
 * Events: engine listener sets are listened to only while the main thread wants the events (a guest-model listener
 * for `guest-change`/`guest-log`; a `vm.trace` listener writing into the shared trace ring for backdoor calls), and
 * each event is posted as it happens — synchronously, from the listener, because this thread never returns to its
 * event loop while the guest runs (promise callbacks would run only after the program exits). TCLO results are
 * always forwarded (they are host-paced). With nobody listening, a trap runs exactly the work it ran before.
 * State saving is coalesced: after each access the worker compares one number (`durableGeneration`); when it
 * changed it marks the state dirty, and posts a snapshot only when the writer (the main thread) is free — at most
 * one snapshot is in flight, whatever the guest does; the writer rings the doorbell when it finishes and the
 * state is dirty again, so the last change is saved even if the guest then makes no call.
 * Memory: V8 frees the buffers of finished high-bandwidth transfers only when a collection finds them dead, and it
 * starts one for such external memory only after ≈ 64 MiB of it: a guest streaming large messages would grow vmport
 * by that much. The worker collects as HB traffic flows (`hb-gc.ts`: a scavenge per MiB, a full collection when the
 * heap has grown; measured in `docs/performance.md`).
 * Does not: print anything; the CLI decides what to show.
 */
import { parentPort, workerData, receiveMessageOnPort, type MessagePort } from "node:worker_threads";
import { closeSync, constants as FS, openSync, writeSync } from "node:fs";
import { VirtualMachine } from "../../vm/virtual-machine.js";
import { durableGeneration, restoreDurableState, saveDurableState } from "../../vm/persistence.js";
import { buildReport } from "../../vm/report.js";
import { isVmportError } from "../../core/errors.js";
import { SystemClock } from "../system-clock.js";
import { Tracer, warmTracer } from "./tracer.js";
import { HbCollector, type GcFunction } from "./hb-gc.js";
import { BufferedRandom } from "../buffered-random.js";
import type { TraceAccess, TraceRecord } from "../../vm/trace.js";
import type { GuestStateChange } from "../../channels/reported-state.js";
import type { TcloEvent } from "../../channels/tclo.js";
import { runHostCall } from "../host-calls.js";
import { TraceRingWriter } from "../trace-ring.js";
import {
  EVENT_BACKLOG_MAX,
  SAVE_FLAG,
  SIGNAL,
  type EventWants,
  type HostRequest,
  type WorkerEvent,
  type WorkerJob,
  type WorkerMessage,
} from "./worker-protocol.js";
import { setFlagsFromString } from "node:v8";
import { runInNewContext } from "node:vm";

function post(m: WorkerMessage): void {
  parentPort!.postMessage(m);
}

/** The trace sink: one JSON line per access, at most `limit` bytes, then one record saying how many were dropped. */
function openTrace(path: string, limit: number | null): { sink: (r: TraceRecord) => void; close: () => void } {
  const fd = openSync(path, FS.O_WRONLY | FS.O_CREAT | FS.O_APPEND, 0o600);
  let written = 0;
  let dropped = 0;
  return {
    sink: (r) => {
      const line = JSON.stringify(r) + "\n";
      if (limit !== null && (dropped > 0 || written + Buffer.byteLength(line) > limit)) {
        dropped++;
        return;
      }
      written += writeSync(fd, line);
    },
    close: () => {
      if (dropped > 0) writeSync(fd, JSON.stringify({ type: "trace-limit", limitBytes: limit, written, dropped }) + "\n");
      closeSync(fd);
    },
  };
}

setFlagsFromString("--expose-gc");
const collector = new HbCollector(runInNewContext("gc") as GcFunction);

if (workerData === undefined || workerData === null) warmTracer();
/** The job: given at start, or posted by the main thread once it has checked the options (`worker-start.ts`). */
const job = (workerData ??
  (await new Promise((resolve) => parentPort!.once("message", (m: { job: WorkerJob }) => resolve(m.job))))) as WorkerJob;
const signals = job.signals;
/** Events not posted because {@link EVENT_BACKLOG_MAX} were in flight, and not announced yet. */
let droppedEvents = 0;

/** Post an event unless the main thread is {@link EVENT_BACKLOG_MAX} behind (then count it). */
function postEvent(event: WorkerEvent): void {
  if (Atomics.load(signals, SIGNAL.EVENTS_IN_FLIGHT) >= EVENT_BACKLOG_MAX - (droppedEvents > 0 ? 1 : 0)) {
    droppedEvents++;
    return;
  }
  announceDropped();
  Atomics.add(signals, SIGNAL.EVENTS_IN_FLIGHT, 1);
  post({ type: "event", event });
}

/** Say how many events were dropped, once there is room. */
function announceDropped(): void {
  if (droppedEvents === 0 || Atomics.load(signals, SIGNAL.EVENTS_IN_FLIGHT) >= EVENT_BACKLOG_MAX) return;
  Atomics.add(signals, SIGNAL.EVENTS_IN_FLIGHT, 1);
  post({ type: "event", event: { kind: "dropped", count: droppedEvents } });
  droppedEvents = 0;
}

function errorReply(id: number, e: unknown): void {
  post({
    type: "reply",
    id,
    ok: false,
    code: isVmportError(e) ? e.code : "VMPORT_INTERNAL",
    message: e instanceof Error ? e.message : String(e),
  });
}

try {
  const vm = new VirtualMachine({ profile: job.profile, clock: new SystemClock(), random: new BufferedRandom() });
  if (job.state !== null) restoreDurableState(vm, job.state);
  for (const [k, v] of job.guestinfo) vm.messaging.guestinfo.set(k, v);
  /** TCLO command id → the request waiting for its result. */
  const tcloWaiting = new Map<number, number>();
  vm.messaging.tclo.events.on((e: TcloEvent) => {
    if (e.type === "queued") return;
    const outcome = e.type === "result" ? (e.result.ok ? "ok" : "error") : e.code === "VMPORT_TCLO_TIMEOUT" ? "timeout" : "closed";
    const text = e.type === "result" ? e.result.text : e.message;
    const id = tcloWaiting.get(e.id);
    if (id !== undefined) {
      tcloWaiting.delete(e.id);
      if (e.type === "result") post({ type: "reply", id, ok: true, value: { ok: e.result.ok, text } });
      else post({ type: "reply", id, ok: false, code: e.code, message: e.message });
    }
    postEvent({
      kind: "tclo-result",
      result: { command: e.command, internal: e.internal, outcome, ok: e.type === "result" && e.result.ok, text },
    });
  });
  for (const cmd of job.tclo) vm.messaging.tclo.enqueue(cmd);
  const trace = job.tracePath !== null ? openTrace(job.tracePath, job.traceLimit) : null;
  if (trace !== null) vm.trace.on((a: TraceAccess) => trace.sink(a.toRecord()));

  // Events the main thread asked for: engine listeners exist only while wanted.
  let wants: EventWants = { guestChange: false, guestLog: false, backdoorCall: false };
  const onGuest = (c: GuestStateChange): void => {
    if (c.field === "log") {
      if (wants.guestLog) postEvent({ kind: "guest-log", line: c.value as string });
    } else if (wants.guestChange) postEvent({ kind: "guest-change", change: c });
  };
  const ring = new TraceRingWriter(job.traceRing);
  const setWants = (w: EventWants): void => {
    wants = w;
    if (w.guestChange || w.guestLog) vm.messaging.reported.changes.on(onGuest);
    else vm.messaging.reported.changes.off(onGuest);
    if (w.backdoorCall) vm.trace.on(ring.write);
    else vm.trace.off(ring.write);
  };
  setWants(job.wants);

  const flags = job.saveFlags;
  let lastGen = durableGeneration(vm);
  const hb = vm.messaging.channels.counters;
  /** Post a snapshot if the state is dirty and the writer is free. */
  const offerState = () => {
    if (Atomics.load(flags, SAVE_FLAG.DIRTY) === 0) return;
    if (Atomics.compareExchange(flags, SAVE_FLAG.BUSY, 0, 1) !== 0) return; // the writer will ring when free
    Atomics.store(flags, SAVE_FLAG.DIRTY, 0);
    post({ type: "state", state: saveDurableState(vm) });
  };
  let tracer: Tracer | null = null;
  const tracerCounters = (): Record<string, number> => {
    const t = tracer!;
    const scan = t.patcher.scanCounters;
    return {
      ...t.counters,
      cpuids: t.patcher.counters.cpuids,
      patched: t.patcher.counters.patched,
      sharedSkipped: t.patcher.counters.sharedSkipped,
      sitesOverLimit: t.patcher.counters.sitesOverLimit,
      execMmaps: t.patcher.counters.execMmaps,
      mmapsByIdentity: t.patcher.counters.mmapsByIdentity,
      mappedNotRegular: scan.notRegular,
      mappedUnreadable: scan.unreadable,
      sectionsTooLarge: scan.tooLarge,
      sectionsScanned: scan.scanned,
    };
  };

  /** Answer the requests waiting on the control port (synchronously; no event loop runs here). */
  const drainControl = (port: MessagePort): void => {
    for (let m = receiveMessageOnPort(port); m !== undefined; m = receiveMessageOnPort(port)) {
      const req = m.message as HostRequest;
      if (req.op === "events") setWants(req.wants);
      else if (req.op === "call") {
        const c = req.call;
        try {
          if (c.name === "tclo") {
            // The caller's deadline counts from when it asked (the clocks are the same monotonic clock).
            const elapsedMs = Number(process.hrtime.bigint() - c.sentAtNs) / 1e6;
            const id = vm.messaging.tclo.enqueue(c.command, { timeoutMs: Math.max(0, c.timeoutMs - elapsedMs) });
            tcloWaiting.set(id, req.id);
          } else if (c.name === "status") post({ type: "reply", id: req.id, ok: true, value: { backdoorCalls: tracer!.counters.traps } });
          else if (c.name === "counters")
            post({ type: "reply", id: req.id, ok: true, value: { ...vm.counters(), tracer: tracerCounters() } });
          else if (c.name === "guest") post({ type: "reply", id: req.id, ok: true, value: buildReport(vm, null) });
          else post({ type: "reply", id: req.id, ok: true, value: runHostCall(vm, c) });
        } catch (e) {
          errorReply(req.id, e);
        }
      }
    }
  };

  tracer = new Tracer({
    exec: job.exec,
    env: job.env,
    cwd: job.cwd,
    vm,
    pinCpu: job.pinCpu,
    seccomp: job.seccomp,
    stdio: job.stdio,
    afterTrap: () => {
      collector.onTraffic(hb.hbBytesIn + hb.hbBytesOut);
      if (!job.wantState) return;
      const g = durableGeneration(vm);
      if (g === lastGen) return;
      lastGen = g;
      Atomics.store(flags, SAVE_FLAG.DIRTY, 1);
      offerState();
    },
    onDoorbell: () => {
      Atomics.store(signals, SIGNAL.RUNG, 0); // requests posted from now on ring again
      if (job.control !== null) drainControl(job.control);
      vm.runTimers();
      announceDropped();
      if (job.wantState) {
        const g = durableGeneration(vm);
        if (g !== lastGen) {
          lastGen = g;
          Atomics.store(flags, SAVE_FLAG.DIRTY, 1);
        }
        offerState();
      }
    },
  });
  const pid = tracer.spawn();
  post({ type: "started", pid, doorbellFd: tracer.doorbellFd });
  const result = tracer.run();
  // The program is gone: answer what is still waiting, on the final VM.
  if (job.control !== null) drainControl(job.control);
  vm.runTimers();
  for (const id of tcloWaiting.values())
    post({ type: "reply", id, ok: false, code: "VMPORT_SESSION_EXITED", message: "the program exited before the guest answered" });
  tracer.closeDoorbell(true); // the main thread may still ring; it closes the write end after "done"
  trace?.close();
  const counters = { ...tracerCounters(), ...vm.interceptCounters };
  post({
    type: "done",
    result,
    guest: vm.messaging.reported.snapshot(),
    state: saveDurableState(vm),
    counters,
    report: buildReport(vm, {
      exitStatus: result.exitStatus,
      signal: result.signal,
      backdoorCalls: result.traps,
      counters: tracerCounters(),
    }),
    droppedEvents,
  });
} catch (e) {
  // A VmportError keeps its code across the thread boundary (`run.ts` rebuilds it).
  post({ type: "error", message: e instanceof Error ? e.message : String(e), ...(isVmportError(e) ? { code: e.code } : {}) });
}
