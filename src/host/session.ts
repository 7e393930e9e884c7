/**
 * `vmport/host` sessions: run a real, unmodified Linux program against the simulated VMware host, and drive and
 * watch that host while the program runs — set guestinfo, send TCLO commands and wait for the guest's answers, read
 * the guest model, move the absolute pointer, stage clipboard text, connect devices, listen to what the guest does.
 *
 * Emulates: the management side of a VMware host (what vSphere's API and a VMX's console do to a running VM), on
 * top of `vmport run`'s tracer (`tracer/worker.ts`; design in `docs/tracer.md`).
 * How a change reaches the guest: requests go to the tracer worker on a message port; the doorbell
 * (`docs/tracer.md` §7) wakes the worker from `waitpid` even when the program makes no backdoor call, and it answers
 * each request on the VM at once. Rings are coalesced through a shared flag: one pending ring wakes the worker once
 * for any number of requests. With no listener and no request, a trap runs exactly the work it ran before.
 * Events: `guest-change`, `guest-log`, `tclo-result`, `backdoor-call`, `events-dropped`, `state-error`, `exit`.
 * The worker forwards guest-model events only while someone listens to them, and backdoor-call records go through
 * a shared ring (`trace-ring.ts`) read every {@link TRACE_POLL_MS} ms while someone listens, at most
 * {@link TRACE_DELIVERY_MAX_PER_POLL} records each time; events beyond a named bound are dropped and counted
 * (`events-dropped`), never queued without limit.
 * No global state: two sessions in one process are independent (separate workers, VMs, doorbells, rings). Errors
 * are `VmportError`s with a code (`VMPORT_BAD_ARGUMENT`, `VMPORT_BAD_PROFILE`, `VMPORT_BAD_STATE`,
 * `VMPORT_EXEC_FAILED` for a program that cannot be executed, `VMPORT_SESSION_EXITED`, `VMPORT_TIMEOUT`, and the
 * engine's: `VMPORT_GUESTINFO_LIMIT`, `VMPORT_TCLO_TIMEOUT`, `VMPORT_TCLO_CLOSED`, `VMPORT_TCLO_QUEUE_FULL`,
 * `VMPORT_NO_DEVICE`, `VMPORT_NO_BACKDOOR`).
 * Does not: install process signal handlers (the CLI forwards SIGINT/SIGTERM/SIGHUP with {@link VmSession.kill});
 * run on anything but Linux x86-64 with ptrace.
 */
import { MessageChannel, type MessagePort, type Worker } from "node:worker_threads";
import { closeSync, openSync, statSync, writeSync } from "node:fs";
import { Socket } from "node:net";
import type { Readable, Writable } from "node:stream";
import { VmportError, type VmportErrorCode } from "../core/errors.js";
import { resolveProfile, type VmProfile, type VmProfileInput } from "../devices/profile.js";
import { VirtualMachine } from "../vm/virtual-machine.js";
import { restoreDurableState, type DurableState } from "../vm/persistence.js";
import { signalName, type VmReport } from "../vm/report.js";
import type { TraceRecord } from "../vm/trace.js";
import type { GuestStateChange } from "../channels/reported-state.js";
import { TCLO_DEFAULT_TIMEOUT_MS } from "../channels/tclo.js";
import { SystemClock } from "./system-clock.js";
import { runHostCall, type HostCall, type HostDevice } from "./host-calls.js";
import { TraceRingReader, createTraceRing } from "./trace-ring.js";
import {
  SAVE_FLAG,
  SIGNAL,
  type EventWants,
  type HostRequest,
  type TcloOutcome,
  type WorkerCall,
  type WorkerJob,
  type WorkerMessage,
} from "./tracer/worker-protocol.js";
import type { RunResult } from "./tracer/tracer.js";
import { execFailure, resolveExec } from "./tracer/program.js";
import { settleOwnStdio, stdioAtStart, type StdioPlan } from "./stdio.js";
import { checkWritableTarget, prepareDurableWrites, readStateFile, writeDurableFile } from "./state-file.js";
import { libc } from "./ptrace/libc.js";
import { JOB_MESSAGE, takeTracerWorker } from "./tracer/worker-start.js";
import type { GuestStateSnapshot } from "../channels/reported-state.js";

/** How often the backdoor-call ring is read while someone listens, in ms (the most a record waits). */
export const TRACE_POLL_MS = 10;
/**
 * Most backdoor-call records delivered per read of the ring (so at most 25 000 per second): the newest are kept,
 * older ones are dropped without being decoded and counted (`events-dropped`). Decoding and delivering a record
 * costs the host's event loop a few µs; a guest trapping faster than this would otherwise keep a CPU busy that the
 * traps themselves need (`docs/performance.md`). Every record still goes to a `trace` file.
 */
export const TRACE_DELIVERY_MAX_PER_POLL = 250;
/** How often {@link VmSession.waitForGuest} re-reads the model besides re-reading it after every guest event, in ms. */
export const WAIT_POLL_MS = 500;
/** Default time {@link VmSession.waitForGuest} waits, in ms. */
export const WAIT_DEFAULT_TIMEOUT_MS = 30_000;

/** Options of {@link start}. Every one but `argv` is optional. */
export interface StartOptions {
  /** The program and its arguments (`argv[0]` is looked up in the `PATH` of `env`, as `execvp` does). */
  argv: string[];
  /** VM profile keys (README "VM profile"); validated before anything starts. Default: every default. */
  profile?: VmProfileInput;
  /** guestinfo to set before the program starts: key (the `guestinfo.` prefix optional) → value. */
  guestinfo?: Record<string, string>;
  /**
   * Durable state: a state object (as `exited` returns it) to start from, or the path of a state file — loaded if
   * it exists, saved atomically whenever the guest changes it (coalesced) and at exit, like `vmport run --state`.
   */
  state?: DurableState | string;
  /** TCLO commands queued at start (their results arrive as `tclo-result` events). */
  tclo?: string[];
  /** A JSON Lines trace file (one record per backdoor access, created 0600, appended to), like `--trace`. */
  trace?: string;
  /** Stop writing `trace` after this many bytes (then one record counts the rest). Default: no limit. */
  traceLimit?: number;
  /**
   * The program's standard descriptors: `"pipe"` (default: {@link VmSession.stdin}, `stdout`, `stderr` are
   * streams), `"inherit"` (this process's own 0–2, left blocking as `vmport run` leaves them), `"ignore"` (`/dev/null`).
   */
  stdio?: "inherit" | "pipe" | "ignore";
  /** Pin the tracer thread and the program to this CPU (stable timings). Default: not pinned. */
  pin?: number | null;
  /** The program's environment. Default: this process's. */
  env?: Record<string, string | undefined>;
  /** The program's working directory. Default: this process's. */
  cwd?: string;
}

/** A guest's answer to a TCLO command. */
export interface TcloAnswer {
  /** True for `OK …`. */
  ok: boolean;
  /** The text after `OK `/`ERROR `. */
  text: string;
}

/** A TCLO command's end, the payload of `tclo-result` (also for commands queued at start, and the automatic `reset`). */
export type TcloResultEvent = TcloOutcome;

/** How the program ended, and everything the host had at that moment. */
export interface SessionExit {
  /** The exit status: the program's, 128 + N when it died of signal N, 126/127 when it could not be executed. */
  status: number;
  /** The signal that killed the program, or null. */
  signal: number | null;
  /** That signal's name (`SIGTERM`), or null. */
  signalName: string | null;
  /** Why the program could not be executed (`PROG: Exec format error`), or null when it ran. */
  execError: string | null;
  /** The model at exit: the same document as `vmport run --report` (`vm/report.ts`). */
  report: VmReport;
  /** The durable state at exit. */
  state: DurableState;
  /** Counters by component at exit (`report.counters`, the tracer's included). */
  counters: Record<string, Record<string, number>>;
  /** State-file saves made (with a `state` path), coalesced. */
  stateSaves: number;
  /** The first state-file write error, or null. */
  stateError: string | null;
}

/** What {@link VmSession.status} says. */
export interface SessionStatus {
  /** True until the program has exited. */
  running: boolean;
  /** The program's pid (0 before it started). */
  pid: number;
  /** null while running. */
  exitStatus: number | null;
  /** Backdoor accesses emulated so far. */
  backdoorCalls: number;
}

/** Events of a session and what their listeners get. */
export interface SessionEvents {
  /** A guest-model field changed (tools, identity, NICs, guestinfo — from guest or host — …). */
  "guest-change": GuestStateChange;
  /** The guest logged a line (`log`, `guest.log.text`). */
  "guest-log": string;
  /** A TCLO command got its answer, timed out, or was cut by a closed channel. */
  "tclo-result": TcloResultEvent;
  /** One record per backdoor access (`--trace`'s records), within {@link TRACE_POLL_MS} ms. */
  "backdoor-call": TraceRecord;
  /** Events the host could not keep up with and dropped: `backdoor-call` records, or the other events. */
  "events-dropped": { kind: "backdoor-call" | "events"; count: number };
  /** A save of the `state` file failed (the program goes on; later saves are tried). */
  "state-error": Error;
  /** The program has exited (also resolves {@link VmSession.exited}). */
  exit: SessionExit;
}

/** Names of {@link SessionEvents}. */
export const SESSION_EVENTS: readonly (keyof SessionEvents)[] = [
  "guest-change",
  "guest-log",
  "tclo-result",
  "backdoor-call",
  "events-dropped",
  "state-error",
  "exit",
];

/** Internal: everything a session needs, validated. */
export interface SessionInit {
  /** The program and its arguments. */
  argv: string[];
  /** The program's environment as `NAME=VALUE` strings. */
  env: string[];
  /** The program's working directory, or null for this process's. */
  cwd: string | null;
  /** The VM profile keys (validated). */
  profile: VmProfileInput;
  /** Durable state to restore (a parsed state file), or null. */
  state: unknown;
  /** guestinfo set before the program starts, as `[key, value]` pairs. */
  guestinfo: [string, string][];
  /** TCLO commands queued at start. */
  tclo: string[];
  /** The JSON Lines trace file, or null for none. */
  tracePath: string | null;
  /** Stop writing the trace after this many bytes, or null for no limit. */
  traceLimit: number | null;
  /** The CPU to pin the tracer and the program to, or null. */
  pinCpu: number | null;
  /** Install the syscall policy (`docs/tracer.md` §5) in the program; false only in tests. */
  seccomp: boolean;
  /** The program's descriptors 0–2: this process's, pipes the session exposes, or closed to `/dev/null`. */
  stdio: "inherit" | "pipe" | "ignore";
  /** Called with each durable-state snapshot while the program runs (one at a time) and at exit. */
  onState: ((s: DurableState) => void) | null;
  /** Sessions with a state file: saves and errors are counted here. */
  stateFile: string | null;
}

function bad(message: string): never {
  throw new VmportError("VMPORT_BAD_ARGUMENT", message);
}

function isRecord(v: unknown): v is Record<string, unknown> {
  return typeof v === "object" && v !== null && !Array.isArray(v);
}

/**
 * Start `options.argv` against a simulated VMware host. Resolves once the program runs, with the session that
 * drives it. Everything is checked first, and a mistake rejects before anything runs: `VMPORT_BAD_ARGUMENT` (an
 * option), `VMPORT_BAD_PROFILE`, `VMPORT_BAD_STATE`, `VMPORT_GUESTINFO_LIMIT`, `VMPORT_EXEC_FAILED` (PROGRAM cannot
 * be executed: the message and `exitStatus` a shell would give).
 */
export async function start(options: StartOptions): Promise<VmSession> {
  return launch(await prepare(options));
}

/** Validate and normalise {@link StartOptions}. */
async function prepare(o: StartOptions): Promise<SessionInit> {
  if (process.platform !== "linux" || process.arch !== "x64")
    bad(`vmport/host needs Linux on x86-64 (this is ${process.platform}/${process.arch})`);
  if (!isRecord(o)) bad("start: expected an options object");
  if (!Array.isArray(o.argv) || o.argv.length === 0 || !o.argv.every((a) => typeof a === "string"))
    bad("start: argv must be a non-empty array of strings");
  const profile = o.profile ?? {};
  resolveProfile(profile);
  const stdio = o.stdio ?? "pipe";
  if (stdio !== "inherit" && stdio !== "pipe" && stdio !== "ignore")
    bad(`start: stdio must be "inherit", "pipe" or "ignore", not ${JSON.stringify(stdio)}`);
  const pin = o.pin ?? null;
  if (pin !== null && (!Number.isInteger(pin) || pin < 0 || pin > 4095)) bad("start: pin must be an integer 0..4095");
  if (o.traceLimit !== undefined && (!Number.isInteger(o.traceLimit) || o.traceLimit < 1))
    bad("start: traceLimit must be a positive integer");
  const envIn = o.env ?? process.env;
  if (!isRecord(envIn)) bad("start: env must be an object of strings");
  const env: string[] = [];
  for (const [k, v] of Object.entries(envIn)) {
    if (v === undefined) continue;
    if (typeof v !== "string" || k.includes("=") || k.includes("\0") || v.includes("\0"))
      bad(`start: env ${JSON.stringify(k)} must be a string without NUL (and a name without "=")`);
    env.push(`${k}=${v}`);
  }
  let cwd: string | null = null;
  if (o.cwd !== undefined) {
    if (typeof o.cwd !== "string") bad("start: cwd must be a string");
    let dir = false;
    try {
      dir = statSync(o.cwd).isDirectory();
    } catch {
      // reported below
    }
    if (!dir) bad(`start: cwd ${o.cwd} is not a directory`);
    cwd = o.cwd;
  }
  const tclo = o.tclo ?? [];
  if (!Array.isArray(tclo) || !tclo.every((t) => typeof t === "string")) bad("start: tclo must be an array of strings");
  const gi = o.guestinfo ?? {};
  if (!isRecord(gi)) bad("start: guestinfo must be an object of strings");
  const guestinfo: [string, string][] = [];
  for (const [k, v] of Object.entries(gi)) {
    if (typeof v !== "string") bad(`start: guestinfo ${JSON.stringify(k)} must be a string`);
    guestinfo.push([k, v]);
  }
  if (o.trace !== undefined) {
    if (typeof o.trace !== "string") bad("start: trace must be a path");
    checkWritableTarget(o.trace, "trace", { regularOnly: false });
  }
  let state: unknown = null;
  let stateFile: string | null = null;
  if (typeof o.state === "string") {
    checkWritableTarget(o.state, "state");
    stateFile = o.state;
    state = readStateFile(o.state);
    await prepareDurableWrites();
  } else if (o.state !== undefined) state = o.state;
  // State, guestinfo and TCLO commands against a scratch VM, so a mistake is refused before the program starts.
  const scratch = new VirtualMachine({ profile });
  if (state !== null) restoreDurableState(scratch, state);
  for (const [k, v] of guestinfo) scratch.messaging.guestinfo.set(k, v);
  for (const t of tclo) scratch.messaging.tclo.enqueue(t);
  return {
    argv: o.argv,
    env,
    cwd,
    profile,
    state,
    guestinfo,
    tclo,
    tracePath: o.trace ?? null,
    traceLimit: o.traceLimit ?? null,
    pinCpu: pin,
    seccomp: true,
    stdio,
    onState: null,
    stateFile,
  };
}

/** PROGRAM cannot be executed: the message and exit status a shell would give. */
export class ExecError extends VmportError {
  /** 126 (found but not executable) or 127 (not found). */
  readonly exitStatus: number;
  /** A failure to execute PROGRAM with the shell's `message` and `exitStatus` (126 or 127). */
  constructor(message: string, exitStatus: number) {
    super("VMPORT_EXEC_FAILED", message);
    this.exitStatus = exitStatus;
  }
}

/** PATH from an environment list. */
function envPath(env: string[]): string | undefined {
  const e = env.find((x) => x.startsWith("PATH="));
  return e === undefined ? undefined : e.slice(5);
}

/** The program's descriptors for `mode`, and what this process keeps of them. */
function openStdio(mode: SessionInit["stdio"]): {
  plan: StdioPlan;
  streams: [Writable | null, Readable | null, Readable | null];
  childEnds: number[];
} {
  if (mode === "inherit") {
    settleOwnStdio();
    return { plan: stdioAtStart(), streams: [null, null, null], childEnds: [] };
  }
  if (mode === "ignore") {
    const fd = openSync("/dev/null", "r+");
    return { plan: { closed: [false, false, false], fds: [fd, fd, fd] }, streams: [null, null, null], childEnds: [fd] };
  }
  const c = libc();
  const pair = (): [number, number] => {
    const fds = new Int32Array(2);
    if (c.pipe2(fds, 0x80000 /* O_CLOEXEC */) !== 0) throw new Error(`pipe2 failed (errno ${c.errno()})`);
    return [fds[0]!, fds[1]!];
  };
  const made: number[] = [];
  try {
    const [inR, inW] = pair();
    made.push(inR, inW);
    const [outR, outW] = pair();
    made.push(outR, outW);
    const [errR, errW] = pair();
    made.push(errR, errW);
    const stdin = new Socket({ fd: inW, readable: false, writable: true });
    const stdout = new Socket({ fd: outR, readable: true, writable: false });
    const stderr = new Socket({ fd: errR, readable: true, writable: false });
    stdin.on("error", () => {}); // EPIPE when the program has exited without reading: not the caller's problem
    return {
      plan: { closed: [false, false, false], fds: [inR, outW, errW] },
      streams: [stdin, stdout, stderr],
      childEnds: [inR, outW, errW],
    };
  } catch (e) {
    for (const fd of made) closeSync(fd);
    throw e;
  }
}

/** Internal: start a session from a validated {@link SessionInit}. */
export function launch(init: SessionInit): Promise<VmSession> {
  const plan = resolveExec(init.argv, envPath(init.env), init.cwd ?? process.cwd());
  if ("message" in plan) return Promise.reject(new ExecError(plan.message, plan.exitStatus));
  const profile = resolveProfile(init.profile);
  const io = openStdio(init.stdio);
  const { port1, port2 } = new MessageChannel();
  const saveFlags = new Int32Array(new SharedArrayBuffer(8));
  const signals = new Int32Array(new SharedArrayBuffer(8));
  const traceRing = createTraceRing();
  const job: WorkerJob = {
    exec: plan,
    env: init.env,
    cwd: init.cwd,
    profile: init.profile,
    state: init.state,
    guestinfo: init.guestinfo,
    tclo: init.tclo,
    tracePath: init.tracePath,
    traceLimit: init.traceLimit,
    pinCpu: init.pinCpu,
    seccomp: init.seccomp,
    stdio: io.plan,
    wantState: init.onState !== null || init.stateFile !== null,
    saveFlags,
    signals,
    traceRing,
    wants: { guestChange: false, guestLog: false, backdoorCall: false },
    control: port2,
  };
  // The CLI may have started the worker early (its modules load while the options are checked): take it, or start
  // one now; either way the job goes to it as its first message.
  const worker = takeTracerWorker();
  worker.postMessage({ type: JOB_MESSAGE, job }, [port2]);
  return new Promise<VmSession>((resolve, reject) => {
    const s = new VmSession(
      init,
      profile,
      worker,
      port1,
      saveFlags,
      signals,
      new TraceRingReader(traceRing),
      io.streams,
      io.childEnds,
      resolve,
      reject,
    );
    void s;
  });
}

interface PendingCall {
  call: WorkerCall;
  resolve: (v: unknown) => void;
  reject: (e: Error) => void;
}

interface Final {
  result: RunResult;
  exit: SessionExit;
  guest: GuestStateSnapshot;
  flatCounters: Record<string, number>;
}

type AnyListener = (e: never) => void;

/** A running (then exited) program and the simulated host it talks to. Create with {@link start}. */
export class VmSession {
  private pidValue = 0;
  /** The resolved VM profile (every key, defaults filled in). */
  readonly profile: VmProfile;
  /** The program's standard input, when `stdio` is `"pipe"` (end it to give the program EOF); else null. */
  readonly stdin: Writable | null;
  /** The program's standard output, when `stdio` is `"pipe"`; else null. */
  readonly stdout: Readable | null;
  /** The program's standard error, when `stdio` is `"pipe"`; else null. */
  readonly stderr: Readable | null;
  /** Resolves when the program has exited, with how it ended and the model, state and counters at that moment. */
  readonly exited: Promise<SessionExit>;
  /** guestinfo variables, as the host sets them (keys with or without the `guestinfo.` prefix). */
  readonly guestinfo = {
    /** The value of `key` as text, or null. */
    get: (key: string): Promise<string | null> => this.hostCall(() => ({ name: "guestinfo-get", key: str("key", key) })),
    /** Set `key`; the guest reads it at its next `info-get`. Rejects with `VMPORT_GUESTINFO_LIMIT` beyond a bound. */
    set: (key: string, value: string): Promise<void> =>
      this.hostCall(() => ({ name: "guestinfo-set", key: str("key", key), value: str("value", value) })),
    /** Delete `key`; resolves whether it existed. */
    delete: (key: string): Promise<boolean> => this.hostCall(() => ({ name: "guestinfo-delete", key: str("key", key) })),
    /** Every variable: key → value. */
    list: (): Promise<Record<string, string>> => this.hostCall(() => ({ name: "guestinfo-list" })),
  };
  /** The legacy clipboard (backdoor commands 6–9). */
  readonly clipboard = {
    /** The text the guest sent last, or null. */
    get: (): Promise<string | null> => this.hostCall(() => ({ name: "clipboard-get" })),
    /** Stage `text` for the guest (null: nothing staged). At most 65 436 bytes of UTF-8. */
    set: (text: string | null): Promise<void> =>
      this.hostCall(() => ({ name: "clipboard-set", text: text === null ? null : str("text", text) })),
  };
  /** Removable devices (the profile's `devices`). */
  readonly devices = {
    /** Each device and whether it is connected. */
    list: (): Promise<HostDevice[]> => this.hostCall(() => ({ name: "device-list" })),
    /** Connect or disconnect the device named `name`; rejects with `VMPORT_NO_DEVICE` when there is none. */
    set: (name: string, connected: boolean): Promise<void> =>
      this.hostCall(() => {
        if (typeof connected !== "boolean") throw new VmportError("VMPORT_BAD_ARGUMENT", "devices.set: connected must be true or false");
        return { name: "device-set", device: str("name", name), connected };
      }),
  };

  private readonly listeners = new Map<keyof SessionEvents, Set<AnyListener>>();
  private readonly pending = new Map<number, PendingCall>();
  private nextId = 1;
  private doorbellFd = -1;
  private final: Final | null = null;
  private wants: EventWants = { guestChange: false, guestLog: false, backdoorCall: false };
  private ringTimer: ReturnType<typeof setInterval> | null = null;
  private stateSaves = 0;
  private stateError: string | null = null;
  private started = false;
  private resolveExited!: (e: SessionExit) => void;
  private rejectExited!: (e: Error) => void;

  /** @internal Use {@link start}. */
  constructor(
    private readonly init: SessionInit,
    profile: VmProfile,
    worker: Worker,
    private readonly port: MessagePort,
    private readonly saveFlags: Int32Array,
    private readonly signals: Int32Array,
    private readonly ring: TraceRingReader,
    streams: [Writable | null, Readable | null, Readable | null],
    private childEnds: number[],
    onStarted: (s: VmSession) => void,
    onFailed: (e: Error) => void,
  ) {
    this.profile = profile;
    [this.stdin, this.stdout, this.stderr] = streams;
    this.exited = new Promise<SessionExit>((resolve, reject) => {
      this.resolveExited = resolve;
      this.rejectExited = reject;
    });
    this.exited.catch(() => {}); // a failure is also reported to whoever awaits it; never an unhandled rejection
    const fail = (e: Error): void => {
      if (this.final !== null) return;
      this.closeChildEnds();
      for (const p of this.pending.values()) p.reject(e);
      this.pending.clear();
      this.stopRing();
      if (!this.started) {
        for (const st of [this.stdin, this.stdout, this.stderr]) st?.destroy();
        onFailed(e);
      } else this.rejectExited(e);
    };
    worker.on("message", (m: WorkerMessage) => {
      switch (m.type) {
        case "started":
          this.pidValue = m.pid;
          this.doorbellFd = m.doorbellFd;
          this.started = true;
          this.closeChildEnds(); // the program has its copies
          onStarted(this);
          break;
        case "state":
          try {
            this.saveState(m.state);
          } finally {
            Atomics.store(this.saveFlags, SAVE_FLAG.BUSY, 0);
            if (Atomics.load(this.saveFlags, SAVE_FLAG.DIRTY) === 1) this.ringDoorbell(); // changed meanwhile: ask for the latest
          }
          break;
        case "reply": {
          const p = this.pending.get(m.id);
          if (p === undefined) break;
          this.pending.delete(m.id);
          if (m.ok) p.resolve(m.value);
          else p.reject(new VmportError(m.code as VmportErrorCode, m.message));
          break;
        }
        case "event":
          Atomics.sub(this.signals, SIGNAL.EVENTS_IN_FLIGHT, 1);
          if (m.event.kind === "guest-change") this.emit("guest-change", m.event.change);
          else if (m.event.kind === "guest-log") this.emit("guest-log", m.event.line);
          else if (m.event.kind === "tclo-result") this.emit("tclo-result", m.event.result);
          else this.emit("events-dropped", { kind: "events", count: m.event.count });
          break;
        case "done":
          this.finish(m);
          break;
        case "error":
          // A VmportError keeps its code across the thread boundary.
          fail(m.code !== undefined ? new VmportError(m.code, m.message) : new VmportError("VMPORT_TRACER_FAILED", m.message));
          break;
      }
    });
    worker.on("error", (e) => fail(e));
    worker.on("exit", () => {
      port.close();
      fail(new Error("tracer worker exited without a result"));
    });
  }

  /** The program's process id. */
  get pid(): number {
    return this.pidValue;
  }

  /** True until the program has exited. */
  get running(): boolean {
    return this.final === null;
  }

  /**
   * Send a TCLO command (`ping`, `Capabilities_Register`, `Set_Option broadcastIP 1`) and wait for the guest's
   * answer. Rejects with `VMPORT_TCLO_TIMEOUT` when no answer came within `timeoutMs` (default 30 000; counted from
   * this call, also while the guest makes no backdoor call), `VMPORT_TCLO_CLOSED` when the guest closed its TCLO
   * channel first, `VMPORT_SESSION_EXITED` when the program exited first.
   */
  tclo(command: string, options: { timeoutMs?: number } = {}): Promise<TcloAnswer> {
    if (typeof command !== "string") return Promise.reject(new VmportError("VMPORT_BAD_ARGUMENT", "tclo: command must be a string"));
    const timeoutMs = options.timeoutMs ?? TCLO_DEFAULT_TIMEOUT_MS;
    if (typeof timeoutMs !== "number" || !Number.isFinite(timeoutMs) || timeoutMs < 0)
      return Promise.reject(new VmportError("VMPORT_BAD_ARGUMENT", "tclo: timeoutMs must be a number ≥ 0"));
    if (this.final !== null) return Promise.reject(exitedError());
    const p = this.call<TcloAnswer>({ name: "tclo", command, timeoutMs, sentAtNs: process.hrtime.bigint() });
    // The worker checks deadlines when woken: wake it when the time is up, then every 20 ms until the answer came
    // (a timer may fire a little before the worker's clock says so).
    let settled = false;
    let timer: ReturnType<typeof setTimeout> | null = null;
    const tick = (): void => {
      if (settled || this.final !== null) return;
      this.send({ op: "timers" });
      timer = setTimeout(tick, 20);
      timer.unref();
    };
    timer = setTimeout(tick, timeoutMs + 1);
    timer.unref();
    const done = (): void => {
      settled = true;
      if (timer !== null) clearTimeout(timer);
    };
    p.then(done, done);
    return p;
  }

  /** The model now: the same document as `vmport run --report` (`exit` is null while the program runs). */
  guest(): Promise<VmReport> {
    return this.call({ name: "guest" });
  }

  /**
   * Resolve with the model once `predicate(model)` is true: checked now, after every guest-model change, log line
   * and TCLO result, every {@link WAIT_POLL_MS} ms, and at exit. Rejects with `VMPORT_TIMEOUT` after `timeoutMs`
   * (default {@link WAIT_DEFAULT_TIMEOUT_MS}), with `VMPORT_SESSION_EXITED` when the program exited and the final
   * model does not satisfy it, or with what `predicate` threw.
   */
  waitForGuest(predicate: (model: VmReport) => boolean, options: { timeoutMs?: number } = {}): Promise<VmReport> {
    const timeoutMs = options.timeoutMs ?? WAIT_DEFAULT_TIMEOUT_MS;
    if (typeof predicate !== "function")
      return Promise.reject(new VmportError("VMPORT_BAD_ARGUMENT", "waitForGuest: predicate must be a function"));
    if (typeof timeoutMs !== "number" || !Number.isFinite(timeoutMs) || timeoutMs < 0)
      return Promise.reject(new VmportError("VMPORT_BAD_ARGUMENT", "waitForGuest: timeoutMs must be a number ≥ 0"));
    return new Promise<VmReport>((resolve, reject) => {
      let finished = false;
      let busy = false;
      let again = false;
      const onEvent = (): void => void check();
      const onExit = (): void =>
        void check().then(() =>
          end(() =>
            reject(
              new VmportError(
                "VMPORT_SESSION_EXITED",
                "waitForGuest: the program exited and its final model does not satisfy the predicate",
              ),
            ),
          ),
        );
      const poll = setInterval(onEvent, WAIT_POLL_MS);
      const timer = setTimeout(
        () => end(() => reject(new VmportError("VMPORT_TIMEOUT", `waitForGuest: the predicate was not true within ${timeoutMs} ms`))),
        timeoutMs,
      );
      const end = (f: () => void): void => {
        if (finished) return;
        finished = true;
        clearInterval(poll);
        clearTimeout(timer);
        this.off("guest-change", onEvent);
        this.off("guest-log", onEvent);
        this.off("tclo-result", onEvent);
        this.off("exit", onExit);
        f();
      };
      const check = async (): Promise<void> => {
        if (busy) {
          again = true;
          return;
        }
        busy = true;
        try {
          do {
            again = false;
            const model = await this.guest();
            if (finished) return;
            let ok: boolean;
            try {
              ok = predicate(model);
            } catch (e) {
              end(() => reject(e as Error));
              return;
            }
            if (ok) {
              end(() => resolve(model));
              return;
            }
          } while (again);
        } catch (e) {
          end(() => reject(e as Error));
        } finally {
          busy = false;
        }
      };
      this.on("guest-change", onEvent);
      this.on("guest-log", onEvent);
      this.on("tclo-result", onEvent);
      this.on("exit", onExit);
      void check();
    });
  }

  /**
   * Host pointer input for the guest's vmmouse (absolute: `x`, `y` in 0…0xFFFF; relative mode: deltas). Resolves
   * whether the event reached the device's queue: false while the guest has not enabled it, or when it is full.
   */
  mouse(x: number, y: number, buttons = 0, wheel = 0): Promise<boolean> {
    for (const [n, v] of [
      ["x", x],
      ["y", y],
      ["buttons", buttons],
      ["wheel", wheel],
    ] as const) {
      if (typeof v !== "number" || !Number.isFinite(v))
        return Promise.reject(new VmportError("VMPORT_BAD_ARGUMENT", `mouse: ${n} must be a finite number`));
    }
    return this.hostCall(() => ({ name: "mouse", x, y, buttons, wheel }));
  }

  /** Counters by component now (`vm.counters()` and the tracer's). */
  counters(): Promise<Record<string, Record<string, number>>> {
    return this.call({ name: "counters" });
  }

  /** Running or exited, the exit status, and the backdoor accesses so far. */
  async status(): Promise<SessionStatus> {
    if (this.final !== null) return this.finalStatus();
    const s = await this.call<{ backdoorCalls: number }>({ name: "status" });
    return this.final !== null ? this.finalStatus() : { running: true, pid: this.pid, exitStatus: null, backdoorCalls: s.backdoorCalls };
  }

  /** Send `signal` (default SIGTERM) to the program; false when it has exited already. */
  kill(signal: NodeJS.Signals | number = "SIGTERM"): boolean {
    if (this.final !== null || this.pid <= 0) return false;
    try {
      process.kill(this.pid, signal);
      return true;
    } catch {
      return false;
    }
  }

  /** Listen to `event`. Listeners run in the order added; adding the same one twice adds it once. */
  on<K extends keyof SessionEvents>(event: K, listener: (e: SessionEvents[K]) => void): this {
    if (!SESSION_EVENTS.includes(event))
      throw new VmportError("VMPORT_BAD_ARGUMENT", `on: unknown event ${JSON.stringify(event)} (events: ${SESSION_EVENTS.join(", ")})`);
    let set = this.listeners.get(event);
    if (set === undefined) {
      set = new Set();
      this.listeners.set(event, set);
    }
    set.add(listener as AnyListener);
    this.updateWants();
    return this;
  }

  /** Stop listening. */
  off<K extends keyof SessionEvents>(event: K, listener: (e: SessionEvents[K]) => void): this {
    this.listeners.get(event)?.delete(listener as AnyListener);
    this.updateWants();
    return this;
  }

  private emit<K extends keyof SessionEvents>(event: K, value: SessionEvents[K]): void {
    const set = this.listeners.get(event);
    if (set === undefined) return;
    for (const l of [...set]) {
      try {
        (l as (e: SessionEvents[K]) => void)(value);
      } catch (e) {
        process.nextTick(() => {
          throw e; // the listener's own error, as an uncaught exception: the session's state stays consistent
        });
      }
    }
  }

  private has(event: keyof SessionEvents): boolean {
    return (this.listeners.get(event)?.size ?? 0) > 0;
  }

  /** Tell the worker which events to forward, when that changed. */
  private updateWants(): void {
    const w: EventWants = {
      guestChange: this.has("guest-change"),
      guestLog: this.has("guest-log"),
      backdoorCall: this.has("backdoor-call"),
    };
    if (w.guestChange === this.wants.guestChange && w.guestLog === this.wants.guestLog && w.backdoorCall === this.wants.backdoorCall)
      return;
    const wasTracing = this.wants.backdoorCall;
    this.wants = w;
    if (this.final !== null) return;
    this.send({ op: "events", wants: w });
    if (w.backdoorCall && !wasTracing) {
      this.ringTimer = setInterval(() => this.drainRing(), TRACE_POLL_MS);
      this.ringTimer.unref();
    } else if (!w.backdoorCall && wasTracing) {
      this.stopRing();
      this.ring.skip();
    }
  }

  private stopRing(): void {
    if (this.ringTimer !== null) clearInterval(this.ringTimer);
    this.ringTimer = null;
  }

  /** Hand the records waiting in the ring to `backdoor-call` listeners. */
  private drainRing(): void {
    const { records, dropped } = this.ring.read(TRACE_DELIVERY_MAX_PER_POLL);
    if (dropped > 0) this.emit("events-dropped", { kind: "backdoor-call", count: dropped });
    for (const r of records) this.emit("backdoor-call", r);
  }

  private send(req: HostRequest): void {
    this.port.postMessage(req);
    this.ringDoorbell();
  }

  /** Wake the worker, unless a ring is already pending (it will drain everything posted before it looks). */
  private ringDoorbell(): void {
    if (this.doorbellFd < 0 || this.final !== null) return;
    if (Atomics.compareExchange(this.signals, SIGNAL.RUNG, 0, 1) !== 0) return;
    try {
      writeSync(this.doorbellFd, "x");
    } catch {
      // the run is ending: the worker no longer listens
    }
  }

  private call<T>(c: WorkerCall): Promise<T> {
    if (this.final !== null) return this.afterExit(c) as Promise<T>;
    const id = this.nextId++;
    return new Promise<T>((resolve, reject) => {
      this.pending.set(id, { call: c, resolve: resolve as (v: unknown) => void, reject });
      this.send({ op: "call", id, call: c });
    });
  }

  /** A host call whose arguments `make` checks (a mistake rejects, never throws). */
  private hostCall<T>(make: () => HostCall): Promise<T> {
    let c: HostCall;
    try {
      c = make();
    } catch (e) {
      return Promise.reject(e as Error);
    }
    return this.call<T>(c);
  }

  /** A call after the program exited: reads are answered from the state and model at exit, changes refused. */
  private afterExit(c: WorkerCall): Promise<unknown> {
    const f = this.final!;
    try {
      switch (c.name) {
        case "guest":
          return Promise.resolve(structuredClone(f.exit.report));
        case "counters":
          return Promise.resolve(structuredClone(f.exit.counters));
        case "status":
          return Promise.resolve({ backdoorCalls: f.result.traps });
        case "guestinfo-get":
        case "guestinfo-list":
        case "clipboard-get":
        case "device-list": {
          const vm = new VirtualMachine({ profile: this.init.profile, clock: new SystemClock() });
          restoreDurableState(vm, f.exit.state);
          return Promise.resolve(runHostCall(vm, c));
        }
        default:
          return Promise.reject(exitedError());
      }
    } catch (e) {
      return Promise.reject(e as Error);
    }
  }

  private finalStatus(): SessionStatus {
    const f = this.final!;
    return { running: false, pid: this.pid, exitStatus: f.exit.status, backdoorCalls: f.result.traps };
  }

  private saveState(s: DurableState): void {
    this.init.onState?.(s);
    const file = this.init.stateFile;
    if (file === null) return;
    this.stateSaves++;
    try {
      writeDurableFile(file, JSON.stringify(s, null, 2) + "\n");
    } catch (e) {
      const first = this.stateError === null;
      this.stateError ??= (e as Error).message;
      if (first || this.has("state-error")) this.emit("state-error", e as Error);
    }
  }

  private closeChildEnds(): void {
    for (const fd of this.childEnds) {
      try {
        closeSync(fd);
      } catch {
        // already closed
      }
    }
    this.childEnds = [];
  }

  private finish(m: Extract<WorkerMessage, { type: "done" }>): void {
    const r = m.result;
    let execError: string | null = null;
    if (r.execErrno !== null) {
      const f = execFailure(this.init.argv[0]!, r.execErrno);
      r.exitStatus = f.exitStatus;
      execError = f.message;
      if (m.report.exit !== null) m.report.exit.status = f.exitStatus;
    }
    this.saveState(m.state); // the state at exit
    // Records and events still on their way belong before the exit.
    if (this.wants.backdoorCall) this.drainRing();
    this.stopRing();
    if (m.droppedEvents > 0) this.emit("events-dropped", { kind: "events", count: m.droppedEvents });
    const exit: SessionExit = {
      status: r.exitStatus,
      signal: r.signal,
      signalName: r.signal === null ? null : signalName(r.signal),
      execError,
      report: m.report,
      state: m.state,
      counters: m.report.counters,
      stateSaves: this.stateSaves,
      stateError: this.stateError,
    };
    this.final = { result: r, exit, guest: m.guest, flatCounters: m.counters };
    const fd = this.doorbellFd;
    this.doorbellFd = -1;
    if (fd >= 0) closeSync(fd);
    this.stdin?.destroy();
    // Calls the worker did not see: answered from the final state, or refused.
    for (const [id, p] of this.pending) {
      this.pending.delete(id);
      this.afterExit(p.call).then(p.resolve, p.reject);
    }
    this.emit("exit", exit);
    this.resolveExited(exit);
  }

  /** @internal The tracer's result, the model snapshot and flat counters at exit (for `runTraced`). */
  finalDetails(): { result: RunResult; guest: GuestStateSnapshot; counters: Record<string, number> } | null {
    return this.final === null ? null : { result: this.final.result, guest: this.final.guest, counters: this.final.flatCounters };
  }
}

function str(name: string, v: unknown): string {
  if (typeof v !== "string") throw new VmportError("VMPORT_BAD_ARGUMENT", `${name} must be a string`);
  return v;
}

function exitedError(): VmportError {
  return new VmportError("VMPORT_SESSION_EXITED", "the program has exited");
}
