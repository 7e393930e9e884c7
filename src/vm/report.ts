/**
 * The run report: one JSON-ready document of everything the host learnt from a guest — how the program ended, the
 * backdoor traffic and counters, the whole guest-state model with the namespace database, the TCLO commands and
 * their results, the guest's log, and the RPCs answered `Unknown command`.
 *
 * Emulates: what vCenter shows of a VM (its `GuestInfo`), plus the host's own bookkeeping.
 * Source of truth: the guest-state model (`channels/reported-state.ts`), the TCLO history (`channels/tclo-history.ts`),
 * the RPCI dispatcher's unknown-command counts, the VM's counters. `vmport run --report FILE` writes it at exit; the
 * control API serves the same model. The shape is versioned by {@link REPORT_SCHEMA}: fields are only ever added
 * within one version.
 * Does not: touch files (front ends write it), or include anything unbounded: the log, the TCLO history and the
 * unknown-command table keep their own bounds, and everything else is the bounded guest model.
 */
import type { GuestStateSnapshot } from "../channels/reported-state.js";
import type { TcloHistoryEntry } from "../channels/tclo-history.js";
import { toStoredBytes, type StoredBytes } from "./persistence.js";
import type { VirtualMachine } from "./virtual-machine.js";

/** The report format's name and version; a consumer checks it before reading. */
export const REPORT_SCHEMA = "vmport.report/1";

/** How the program ended. */
export interface ReportExit {
  /** The exit status vmport returned: the program's, or 128 + the signal that killed it. */
  status: number;
  /** The signal that killed the program, or null when it exited. */
  signal: number | null;
  /** That signal's name (`SIGTERM`), or null. */
  signalName: string | null;
}

/** The guest as the host sees it: the guest-state model (without the log, reported apart) and the namespace DB. */
export type ReportGuest = Omit<GuestStateSnapshot, "log"> & {
  /** The namespace database: namespace → key → value (text, or `{base64}` when not UTF-8). */
  namespaces: Record<string, Record<string, StoredBytes>>;
};

/** One report. */
export interface VmReport {
  /** Always {@link REPORT_SCHEMA}. */
  schema: typeof REPORT_SCHEMA;
  /** How the program ended, or null for a report taken while it runs (or from an embedding with no program). */
  exit: ReportExit | null;
  /** Backdoor accesses emulated (IN/OUT/INS/OUTS on 0x5658/0x5659 and pseudo-PMC reads). */
  backdoorCalls: number;
  /**
   * Counters by component, as `vm.counters()` gathers them (`intercept`, `backdoor`, `hb`, `clipboard`, `channels`,
   * `rpci`, `tclo`, `guest`, `mouse`, `events`), and from `vmport run` `tracer` (ptrace engine).
   */
  counters: Record<string, Record<string, number>>;
  /** The whole guest-state model. */
  guest: ReportGuest;
  /** TCLO commands in the order queued, with their outcome; `dropped` counts entries beyond the history bound. */
  tclo: { commands: TcloHistoryEntry[]; dropped: number };
  /** The guest's log (`log`, `guest.log.text`), newest last; `dropped` counts lines beyond the bound. */
  log: { lines: string[]; dropped: number };
  /**
   * RPCs answered `"0 Unknown command"`: count per command name; `other` counts names beyond the table's bound;
   * `total` is every such request.
   */
  unknownRpc: { commands: Record<string, number>; other: number; total: number };
}

/** What the front end knows about the run, for {@link buildReport}. */
export interface ReportRunInfo {
  /** Exit status (the program's, or 128 + signal). */
  exitStatus: number;
  /** The killing signal, or null. */
  signal: number | null;
  /** Backdoor accesses the front end emulated. */
  backdoorCalls: number;
  /** The front end's own counters (reported under `tracer`). */
  counters?: Record<string, number>;
}

/** Linux x86 signal numbers → names (`signal(7)`). */
const SIGNALS: Record<number, string> = {
  1: "SIGHUP",
  2: "SIGINT",
  3: "SIGQUIT",
  4: "SIGILL",
  5: "SIGTRAP",
  6: "SIGABRT",
  7: "SIGBUS",
  8: "SIGFPE",
  9: "SIGKILL",
  10: "SIGUSR1",
  11: "SIGSEGV",
  12: "SIGUSR2",
  13: "SIGPIPE",
  14: "SIGALRM",
  15: "SIGTERM",
  16: "SIGSTKFLT",
  17: "SIGCHLD",
  18: "SIGCONT",
  19: "SIGSTOP",
  20: "SIGTSTP",
  21: "SIGTTIN",
  22: "SIGTTOU",
  23: "SIGURG",
  24: "SIGXCPU",
  25: "SIGXFSZ",
  26: "SIGVTALRM",
  27: "SIGPROF",
  28: "SIGWINCH",
  29: "SIGIO",
  30: "SIGPWR",
  31: "SIGSYS",
};

/** The name of a Linux signal (`SIGRTMIN+N` for real-time signals), or null for 0 and unknown numbers. */
export function signalName(n: number): string | null {
  if (SIGNALS[n] !== undefined) return SIGNALS[n];
  return n >= 34 && n <= 64 ? `SIGRTMIN+${n - 34}` : null;
}

/**
 * Build the report of `vm` now. `run` is what the front end knows of the program (null while it runs, or for an
 * embedding without one; then `backdoorCalls` is the VM's emulated-instruction count).
 */
export function buildReport(vm: VirtualMachine, run: ReportRunInfo | null = null): VmReport {
  const m = vm.messaging;
  const { log, ...model } = m.reported.snapshot();
  const namespaces: Record<string, Record<string, StoredBytes>> = {};
  for (const [ns, entries] of m.namespaces.entries()) {
    namespaces[ns] = Object.fromEntries(entries.map(([k, v]) => [k, toStoredBytes(v)]));
  }
  const counters = vm.counters();
  if (run?.counters !== undefined) counters["tracer"] = { ...run.counters };
  return {
    schema: REPORT_SCHEMA,
    exit:
      run === null ? null : { status: run.exitStatus, signal: run.signal, signalName: run.signal === null ? null : signalName(run.signal) },
    backdoorCalls: run?.backdoorCalls ?? vm.interceptCounters.emulated,
    counters,
    guest: { ...model, namespaces },
    tclo: { commands: m.tcloHistory.entries(), dropped: m.tcloHistory.dropped },
    log: { lines: log, dropped: m.reported.counters.droppedLogLines },
    unknownRpc: { commands: m.rpci.unknownCommands(), other: m.rpci.unknownOther, total: m.rpci.counters.unknown },
  };
}
