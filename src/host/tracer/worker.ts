/**
 * The tracer worker thread: owns spawn, seize, wait and every ptrace call, and runs the device model in-thread
 * (`docs/tracer.md`: ptrace calls must come from the thread that seized; per-trap hand-offs between threads
 * cost more than the trap).
 *
 * Receives a {@link WorkerJob} as `workerData`, or as the first message when the CLI started the thread early
 * (`worker-start.ts`; the libc bindings, the trampoline and the native step are prepared while it waits); posts
 * `{ type: "started", pid }` once the program runs and
 * `{ type: "done", result, guest, state, report }` at the end (`report`: `vm/report.ts`). Host-side changes while the guest runs arrive on the control
 * port and are applied when the doorbell rings (see `Tracer`), so the per-trap path has no extra work.
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
import { SystemClock } from "../system-clock.js";
import { Tracer, warmTracer } from "./tracer.js";
import { HbCollector, type GcFunction } from "./hb-gc.js";
import { BufferedRandom } from "../buffered-random.js";
import { isVmportError } from "../../core/errors.js";
import type { TraceRecord } from "../../vm/trace.js";
import { SAVE_FLAG, type WorkerJob, type WorkerMessage } from "./worker-protocol.js";
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
const job = (workerData ?? (await new Promise((resolve) => parentPort!.once("message", (m: { job: WorkerJob }) => resolve(m.job))))) as WorkerJob;
try {
  const vm = new VirtualMachine({ profile: job.profile, clock: new SystemClock(), random: new BufferedRandom() });
  if (job.state !== null) restoreDurableState(vm, job.state);
  for (const [k, v] of job.guestinfo) vm.messaging.guestinfo.set(k, v);
  for (const cmd of job.tclo) {
    vm.messaging.tclo.send(cmd).then(
      (r) => post({ type: "tclo", command: cmd, ok: r.ok, text: r.text }),
      (e: unknown) => post({ type: "tclo", command: cmd, ok: false, text: String((e as Error).message) }),
    );
  }
  const trace = job.tracePath !== null ? openTrace(job.tracePath, job.traceLimit) : null;
  if (trace !== null) vm.traceSink = trace.sink;
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
  const tracer = new Tracer({
    exec: job.exec,
    env: job.env,
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
      if (job.control !== null) drainControl(vm, job.control);
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
  vm.runTimers();
  trace?.close();
  const scan = tracer.patcher.scanCounters;
  post({
    type: "done",
    result,
    guest: vm.messaging.guest.snapshot(),
    state: saveDurableState(vm),
    counters: {
      ...tracer.counters,
      ...vm.counters,
      sharedSkipped: tracer.patcher.counters.sharedSkipped,
      sitesOverLimit: tracer.patcher.counters.sitesOverLimit,
      execMmaps: tracer.patcher.counters.execMmaps,
      mappedNotRegular: scan.notRegular,
      mappedUnreadable: scan.unreadable,
      sectionsTooLarge: scan.tooLarge,
      sectionsScanned: scan.scanned,
    },
    report: buildReport(vm, { exitStatus: result.exitStatus, signal: result.signal, backdoorCalls: result.traps, counters: { ...tracer.counters } }),
  });
} catch (e) {
  // A VmportError keeps its code across the thread boundary (`run.ts` rebuilds it).
  post({ type: "error", message: e instanceof Error ? e.message : String(e), ...(isVmportError(e) ? { code: e.code } : {}) });
}

/** Apply host → guest changes waiting on the control port (synchronously; no event loop runs here). */
function drainControl(vm: VirtualMachine, port: MessagePort): void {
  for (let m = receiveMessageOnPort(port); m !== undefined; m = receiveMessageOnPort(port)) {
    const msg = m.message as { type: string; key?: string; value?: string; command?: string };
    if (msg.type === "guestinfo" && msg.key !== undefined && msg.value !== undefined) vm.messaging.guestinfo.set(msg.key, msg.value);
    if (msg.type === "tclo" && msg.command !== undefined) void vm.messaging.tclo.send(msg.command).catch(() => {});
  }
}
