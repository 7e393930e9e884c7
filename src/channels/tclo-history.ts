/**
 * The TCLO commands a VM sent and what became of each: the guest's result, a timeout, a closed channel, or
 * nothing yet.
 *
 * Emulates: nothing; it records what the host side of the TCLO loop (`tclo.ts`) did, for reports and the console.
 * Source of truth: `tclo.ts` (its observer hooks).
 * Does not: grow without bound: it keeps the newest {@link TCLO_HISTORY_MAX} commands (older ones are dropped and
 * counted) and cuts every command and result text to {@link TCLO_HISTORY_MAX_TEXT} characters — results are
 * guest-controlled, up to 64 KiB each.
 */
import type { TcloObserver, TcloResult } from "./tclo.js";

/** Commands kept, newest last. */
export const TCLO_HISTORY_MAX = 1000;
/** Longest command or result text kept, in characters; longer texts are cut. */
export const TCLO_HISTORY_MAX_TEXT = 4096;

/** One command and its outcome. */
export interface TcloHistoryEntry {
  /** The command as queued (cut to {@link TCLO_HISTORY_MAX_TEXT}). */
  command: string;
  /** True for the `reset` the host queues by itself when the guest opens its TCLO channel. */
  internal: boolean;
  /**
   * `pending` (no result yet), `ok` (`OK …`), `error` (`ERROR …` or anything else), `timeout` (no result in time),
   * `closed` (the guest closed its channel with the command in flight).
   */
  outcome: "pending" | "ok" | "error" | "timeout" | "closed";
  /** The result text after `OK `/`ERROR `, or the failure's message; null while pending. */
  text: string | null;
}

function cut(s: string): string {
  return s.length > TCLO_HISTORY_MAX_TEXT ? s.slice(0, TCLO_HISTORY_MAX_TEXT) : s;
}

/** The history; {@link TcloHistory.observer} is what the queue calls. */
export class TcloHistory {
  private readonly list: TcloHistoryEntry[] = [];
  /** Entries dropped because {@link TCLO_HISTORY_MAX} were kept. */
  dropped = 0;

  /** Hooks to merge into the queue's observer. */
  readonly observer: Required<Pick<TcloObserver, "onQueued" | "onResult" | "onFailed">> = {
    onQueued: (command, internal) => {
      this.list.push({ command: cut(command), internal, outcome: "pending", text: null });
      if (this.list.length > TCLO_HISTORY_MAX) {
        this.list.shift();
        this.dropped++;
      }
    },
    onResult: (command, r: TcloResult, internal) => this.settle(command, internal, r.ok ? "ok" : "error", r.text),
    onFailed: (command, code, message, internal) => this.settle(command, internal, code === "VMPORT_TCLO_TIMEOUT" ? "timeout" : "closed", message),
  };

  /** The oldest pending entry for this command settles (the queue hands out identical commands in order). */
  private settle(command: string, internal: boolean, outcome: TcloHistoryEntry["outcome"], text: string): void {
    const c = cut(command);
    const e = this.list.find((x) => x.outcome === "pending" && x.internal === internal && x.command === c);
    if (e === undefined) return; // dropped from the history already
    e.outcome = outcome;
    e.text = cut(text);
  }

  /** The entries, oldest first (copies). */
  entries(): TcloHistoryEntry[] {
    return this.list.map((e) => ({ ...e }));
  }
}
