/**
 * What the fuzz campaign (main thread) and a fuzz worker thread say to each other. Kept apart from `worker.ts`
 * because importing that module runs the worker.
 *
 * Emulates: nothing. Flow: the worker posts `ready` once loaded; the campaign posts one {@link FuzzRunJob} at a
 * time; the worker posts `started` (with the pid, so the main thread can enforce `--timeout-ms` and `--max-rss`)
 * and `done` when the program has exited.
 * Does not: carry anything per trap.
 */
import type { ExecPlan } from "../host/tracer/program.js";
import type { StdioPlan } from "../host/stdio.js";
import type { VmProfileInput } from "../devices/profile.js";
import type { RunResult } from "../host/tracer/tracer.js";
import type { AnswerRecord, MutatedAnswer } from "./answers.js";
import type { CrashInfo } from "./crash-probe.js";

/** One run. */
export interface FuzzRunJob {
  /** How the program is started. */
  exec: ExecPlan;
  /** Its environment, `NAME=VALUE` strings. */
  env: string[];
  /** The VM profile. */
  profile: VmProfileInput;
  /** Guestinfo variables set at start. */
  guestinfo: [string, string][];
  /** TCLO commands queued at start, in order. */
  tclo: string[];
  /** The descriptors the program gets. */
  stdio: StdioPlan;
  /** Mutations to give at their indices. */
  base: MutatedAnswer[];
  /** Seed of the run's fresh mutations ({@link Prng}(seed, run)), or null for an exact replay. */
  random: { seed: number; run: number } | null;
  /** Probability that an answer point is mutated. */
  rate: number;
}

/** What one run did. */
export interface FuzzRunResult {
  /** How the program ended (status, signal, counters). */
  result: RunResult;
  /** The answers given. */
  record: AnswerRecord;
  /** Coverage keys the run produced. */
  keys: string[];
  /** Recorded mutations not given (the guest asked something else at that point). */
  mismatches: number;
  /** The last fatal-signal stop of each signal number seen, newest last. */
  crashes: CrashInfo[];
}

/** Messages of the worker. */
export type FuzzWorkerMessage =
  | { type: "ready" }
  | { type: "started"; pid: number }
  | { type: "done"; run: FuzzRunResult }
  | { type: "error"; message: string };
