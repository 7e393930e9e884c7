/**
 * A fuzz worker thread: runs one program after the other under the tracer, each on a fresh VM whose answers an
 * {@link Answerer} mutates, and reports how each run ended. ptrace requires every call to come from the thread that
 * seized, so spawn, the stop loop and the crash probe all run here (`docs/tracer.md` §1); the thread stays alive
 * between runs, so a run costs what a `vmport run` of the program costs minus Node's start-up.
 *
 * Emulates: a VMware host turned hostile (`docs/fuzzing.md`). Source of truth: `worker-protocol.ts`.
 * Fatal signals (SIGSEGV, SIGBUS, SIGABRT, SIGFPE, SIGILL) are read at their signal-delivery stop, before the
 * program dies (`crash-probe.ts`).
 * Programs run without address-space randomisation (`personality(2)` ADDR_NO_RANDOMIZE, set on this thread only and
 * inherited by the programs it spawns; as AFL recommends): a stack overflow that runs off the end of the stack
 * faults at the same instruction every time, so a finding replays with the same key.
 * Does not: enforce time or memory limits (the main thread kills the program), decide what is a finding, print.
 */
import { parentPort } from "node:worker_threads";
import { VirtualMachine } from "../vm/virtual-machine.js";
import { SystemClock } from "../host/system-clock.js";
import { BufferedRandom } from "../host/buffered-random.js";
import { Tracer, warmTracer } from "../host/tracer/tracer.js";
import { libc } from "../host/ptrace/libc.js";
import { CrashProbe, type CrashInfo } from "./crash-probe.js";
import { Answerer } from "./answerer.js";
import { Prng } from "./prng.js";
import type { FuzzRunJob, FuzzWorkerMessage } from "./worker-protocol.js";

/** Signals whose delivery is read as a crash: SIGILL, SIGABRT, SIGBUS, SIGFPE, SIGSEGV. */
const FATAL = new Set([4, 6, 7, 8, 11]);
/** Most crash records kept per run (a program that handles its own SIGSEGVs in a loop cannot grow the list). */
const MAX_CRASHES = 16;
/** Seed of the answers' stream, apart from the campaign's planning stream of the same run. */
const ANSWER_STREAM = 0x5bd1e995;

const port = parentPort!;
const post = (m: FuzzWorkerMessage): void => port.postMessage(m);

/** `personality(2)`: its x86-64 system call number, the flag, and the "query" argument. */
const SYS_PERSONALITY = 135;
const ADDR_NO_RANDOMIZE = 0x0040000;
const PERSONALITY_QUERY = 0xffffffff;

warmTracer();
const c = libc();
const probe = new CrashProbe(c);
const persona = c.syscall6(SYS_PERSONALITY, PERSONALITY_QUERY, 0, 0, 0, 0, 0);
if (persona >= 0) c.syscall6(SYS_PERSONALITY, (persona | ADDR_NO_RANDOMIZE) >>> 0, 0, 0, 0, 0, 0);

function runOne(job: FuzzRunJob): void {
  const vm = new VirtualMachine({ profile: job.profile, clock: new SystemClock(), random: new BufferedRandom() });
  for (const [k, v] of job.guestinfo) vm.messaging.guestinfo.set(k, v);
  const answers = new Answerer({
    base: job.base,
    rng: job.random === null ? null : new Prng((job.random.seed ^ ANSWER_STREAM) >>> 0, job.random.run),
    rate: job.rate,
  });
  if (vm.backdoor !== null) vm.backdoor.hooks = answers;
  vm.messaging.channels.hooks = answers;
  vm.messaging.rpci.hooks = answers;
  vm.messaging.tclo.events.on((e) => {
    if (e.type === "queued" || e.internal) return;
    const name = e.command.split(/[ \t\0]/, 1)[0]!.slice(0, 64);
    answers.note(`tclo:${name}:${e.type === "result" ? (e.result.ok ? "ok" : "error") : "none"}`);
  });
  for (const cmd of job.tclo) {
    try {
      vm.messaging.tclo.enqueue(cmd);
    } catch {
      // a full queue: the rest are not sent
    }
  }
  const crashes: CrashInfo[] = [];
  const tracer = new Tracer({
    exec: job.exec,
    env: job.env,
    vm,
    pinCpu: null,
    seccomp: true,
    stdio: job.stdio,
    onSignal: (tid, sig) => {
      if (!FATAL.has(sig)) return;
      const c = probe.read(tid, sig);
      if (c === null) return;
      if (crashes.length >= MAX_CRASHES) crashes.shift();
      crashes.push(c);
    },
  });
  const pid = tracer.spawn();
  post({ type: "started", pid });
  try {
    const result = tracer.run();
    post({ type: "done", run: { result, record: answers.record(), keys: [...answers.keys], mismatches: answers.mismatches, crashes } });
  } finally {
    tracer.closeDoorbell();
  }
}

port.on("message", (m: { type: "run"; job: FuzzRunJob }) => {
  try {
    runOne(m.job);
  } catch (e) {
    post({ type: "error", message: e instanceof Error ? e.message : String(e) });
  }
});
post({ type: "ready" });
