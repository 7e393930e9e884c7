/**
 * The TCLO commands a VM sent and what became of each: the guest's result, a timeout, a closed channel, or
 * nothing yet.
 *
 * Emulates: nothing; it records what the host side of the TCLO loop (`tclo.ts`) did, for reports and the console.
 * Source of truth: `tclo.ts` (its events).
 * Does not: grow without bound: it keeps the newest {@link TCLO_HISTORY_MAX} commands (older ones are dropped and
 * counted) and cuts every command and result text to {@link TCLO_HISTORY_MAX_TEXT} characters — results are
 * guest-controlled, up to 64 KiB each.
 */
import type { TcloEvent } from "./tclo.js";

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

/** The history; {@link TcloHistory.listener} is what listens to the queue's events. */
export class TcloHistory {
  private readonly list: (TcloHistoryEntry & { id: number })[] = [];
  /** Entries dropped because {@link TCLO_HISTORY_MAX} were kept. */
  dropped = 0;

  /** Listener for `TcloQueue.events`. */
  readonly listener = (e: TcloEvent): void => {
    if (e.type === "queued") {
      this.list.push({ id: e.id, command: cut(e.command), internal: e.internal, outcome: "pending", text: null });
      if (this.list.length > TCLO_HISTORY_MAX) {
        this.list.shift();
        this.dropped++;
      }
    } else if (e.type === "result") this.settle(e.id, e.result.ok ? "ok" : "error", e.result.text);
    else this.settle(e.id, e.code === "VMPORT_TCLO_TIMEOUT" ? "timeout" : "closed", e.message);
  };

  private settle(id: number, outcome: TcloHistoryEntry["outcome"], text: string): void {
    const e = this.list.find((x) => x.id === id);
    if (e === undefined) return; // dropped from the history already
    e.outcome = outcome;
    e.text = cut(text);
  }

  /** The entries, oldest first (copies). */
  entries(): TcloHistoryEntry[] {
    return this.list.map(({ command, internal, outcome, text }) => ({ command, internal, outcome, text }));
  }
}
