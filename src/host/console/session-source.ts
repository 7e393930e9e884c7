/**
 * The console's view of a `vmport/host` session: snapshots from the session's model, host calls, and its events
 * turned into the console's. The console can start before the program (its URL is printed first), so every call
 * waits until a session is attached.
 *
 * Emulates: nothing. Source of truth: `host/session.ts` (the session API), `docs/console.md`.
 * Does not: keep anything beyond what the session keeps; listen to `backdoor-call` while no page is connected
 * (the console says when it wants calls), so an unwatched console adds nothing to a trap.
 */
import type { VmSession, SessionEvents, SessionExit } from "../session.js";
import type { TraceRecord } from "../../vm/trace.js";
import type { GuestStateChange } from "../../channels/reported-state.js";
import type { TcloResultEvent } from "../session.js";
import type { ConsoleCall, ConsoleListener, ConsoleSnapshot, ConsoleSource } from "./console-server.js";

/** A console source that a session is attached to later. */
export interface LateSessionSource extends ConsoleSource {
  /** Attach the session that runs `argv` (call once, right after it started). */
  attach(session: VmSession): void;
  /** The session has exited: tell the pages (once), before the console closes. */
  finish(e: SessionExit): void;
}

/** A trace record as one feed row. */
export function toConsoleCall(r: TraceRecord): ConsoleCall {
  return {
    t: Math.floor(Number(r.timeNs) / 1e6),
    vcpu: r.vcpu,
    command: r.command,
    subcommand: r.subcommand,
    port: r.port,
    op: r.op,
    outcome: r.outcome,
  };
}

/** A source for `argv`, whose session is attached once it has started. */
export function sessionSource(argv: string[]): LateSessionSource {
  let session: VmSession | null = null;
  let attached: () => void = () => {};
  const ready = new Promise<void>((r) => (attached = r));
  let exit: SessionExit | null = null;
  const startedAtMs = Date.now();
  const listeners = new Set<ConsoleListener>();
  let callsWanted = 0;
  const s = async (): Promise<VmSession> => {
    await ready;
    return session!;
  };

  const onChange = (c: GuestStateChange) => {
    for (const l of listeners) l.guestChanged?.(c.field);
  };
  const onLog = (line: string) => {
    for (const l of listeners) l.log?.(line);
  };
  const onTclo = (r: TcloResultEvent) => {
    if (r.internal) return;
    for (const l of listeners) l.tcloResult?.(r.command, r.ok, r.text ?? "");
  };
  const onCall = (r: TraceRecord) => {
    const c = [toConsoleCall(r)];
    for (const l of listeners) l.calls?.(c);
  };
  const onDropped = (e: SessionEvents["events-dropped"]) => {
    if (e.kind !== "backdoor-call") return;
    for (const l of listeners) l.callsDropped?.(e.count);
  };
  const onExit = (e: SessionExit) => {
    if (exit !== null) return;
    exit = e;
    for (const l of listeners) l.exited?.(e.status, e.signal);
  };

  return {
    attach(sess: VmSession): void {
      session = sess;
      sess.on("guest-change", onChange).on("guest-log", onLog).on("tclo-result", onTclo).on("exit", onExit);
      if (callsWanted > 0) sess.on("backdoor-call", onCall).on("events-dropped", onDropped);
      attached();
    },
    finish: onExit,
    async snapshot(): Promise<ConsoleSnapshot> {
      const sess = await s();
      let report = exit?.report ?? null;
      let guestinfo: Record<string, string> | null = null;
      if (report === null) {
        try {
          [report, guestinfo] = await Promise.all([sess.guest(), sess.guestinfo.list()]);
        } catch {
          report = (await sess.exited).report; // it exited meanwhile
        }
      }
      const g = report.guest;
      return {
        status: {
          argv,
          pid: sess.pid,
          startedAtMs,
          running: exit === null && sess.running,
          exitStatus: exit?.status ?? null,
          signal: exit?.signal ?? null,
        },
        guest: g,
        guestinfo: guestinfo ?? g.guestinfo,
        counters: report.counters,
        log: report.log.lines,
      };
    },
    setGuestinfo: async (k, v) => (await s()).guestinfo.set(k, v),
    deleteGuestinfo: async (k) => void (await (await s()).guestinfo.delete(k)),
    tclo: async (c, timeoutMs) => (await s()).tclo(c, { timeoutMs }),
    mouse: async (x, y, b, w) => void (await (await s()).mouse(x, y, b, w)),
    subscribe(l: ConsoleListener): () => void {
      listeners.add(l);
      return () => listeners.delete(l);
    },
    wantCalls(want: boolean): void {
      callsWanted = want ? 1 : 0;
      if (session === null) return;
      if (want) session.on("backdoor-call", onCall).on("events-dropped", onDropped);
      else session.off("backdoor-call", onCall).off("events-dropped", onDropped);
    },
  };
}
