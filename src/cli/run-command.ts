/**
 * `vmport run [options] -- PROGRAM [ARGS…]`: run an unmodified Linux program against the simulated VMware host.
 *
 * The program's ring-3 backdoor accesses fault; the tracer emulates them (see `host/tracer/tracer.ts`). Exit
 * status = the program's, or 128 + N when it died of signal N; 126/127 with the shell's message when PROGRAM cannot
 * be executed. SIGINT/SIGTERM/SIGHUP to vmport are forwarded to the program, so it ends cleanly and its status is
 * still reported. Host-side misuse — bad arguments, a profile, `@file` or state file that is not a regular file of
 * bounded size, a state directory that does not exist or is not writable — is one `vmport:` line and exit 2,
 * before the program starts. Everything printed that came from the guest is escaped (`escapeText`).
 * `--report FILE` writes the run report (`vm/report.ts`) atomically when the program has exited.
 * Built on `vmport/host` (`host/session.ts`): the program runs in a session; `--control PATH` serves that session
 * on a QMP socket (`host/control-server.ts`) until the program exits and `SHUTDOWN` has been sent; `--console[=PORT]`
 * serves the web console (`host/console/`) on 127.0.0.1 and prints its URL, with its token, before the program starts.
 */
import { VmportError } from "../core/errors.js";
import { escapeText } from "../core/text.js";
import { resolveProfile } from "../devices/profile.js";
import { restoreDurableState } from "../vm/persistence.js";
import { VirtualMachine } from "../vm/virtual-machine.js";
import { ExecError, start, type VmSession } from "../host/session.js";
import {
  checkWritableTarget,
  HOST_FILE_LIMITS,
  prepareDurableWrites,
  readHostFile,
  readStateFile,
  writeDurableFile,
} from "../host/state-file.js";
import { usage } from "./errors.js";

/** Parsed options of `vmport run`. */
export interface RunCliOptions {
  /** `--guestinfo KEY=VALUE` / `KEY=@FILE` values, in order. */
  guestinfo: string[];
  /** `--state FILE`: durable state loaded at start and saved on change. */
  state?: string;
  /** `--profile FILE`: the VM profile (JSON). */
  profile?: string;
  /** `--tclo CMD` commands queued at start, in order. */
  tclo: string[];
  /** `--trace FILE`: one JSON line per backdoor access. */
  trace?: string;
  /** `--trace-limit BYTES`: stop writing the trace after this many bytes (≥ 1). */
  traceLimit?: number;
  /** `--pin CPU`: pin the tracer and the program to this CPU (0–4095). */
  pin?: number;
  /** `--verbose`: TCLO results and a summary on stderr. */
  verbose: boolean;
  /** Write the run report (JSON) here at exit. */
  report?: string;
  /** Serve a QMP control socket here while the program runs. */
  control?: string;
  /** Serve the web console on 127.0.0.1 (true: a free port). */
  console?: number | true;
  /** Let the console send dangerous TCLO commands (after a confirmation). */
  allowDangerousTclo?: boolean;
}

/** `KEY=VALUE` or `KEY=@file` → [key, value]; the `guestinfo.` prefix is optional. */
export function parseGuestinfo(spec: string): [string, string] {
  const eq = spec.indexOf("=");
  if (eq <= 0) usage(`--guestinfo "${spec}": expected KEY=VALUE or KEY=@FILE`);
  const key = spec.slice(0, eq);
  const raw = spec.slice(eq + 1);
  const value = raw.startsWith("@")
    ? readHostFile(raw.slice(1), "--guestinfo file", HOST_FILE_LIMITS.guestinfoValue).toString("utf8")
    : raw;
  return [key, value];
}

/** Read and validate everything the host side gave, before the program starts. */
function prepare(o: RunCliOptions): { profile: object; guestinfo: [string, string][] } {
  let profile: unknown = {};
  if (o.profile !== undefined) {
    const text = readHostFile(o.profile, "--profile", HOST_FILE_LIMITS.profile).toString("utf8");
    try {
      profile = JSON.parse(text);
    } catch (e) {
      usage(`--profile ${o.profile}: not JSON (${(e as Error).message})`);
    }
  }
  resolveProfile(profile); // validate here: one clear line instead of a worker error
  if (o.state !== undefined) checkWritableTarget(o.state, "--state");
  if (o.trace !== undefined) checkWritableTarget(o.trace, "--trace", { regularOnly: false });
  if (o.report !== undefined) checkWritableTarget(o.report, "--report"); // fail before the program runs, not after
  const state = o.state !== undefined ? readStateFile(o.state) : null;
  const guestinfo = o.guestinfo.map(parseGuestinfo);
  // Validate state and guestinfo against a scratch VM before starting anything.
  const scratch = new VirtualMachine({ profile: profile as object });
  if (state !== null) restoreDurableState(scratch, state);
  for (const [k, v] of guestinfo) scratch.messaging.guestinfo.set(k, v);
  return { profile: profile as object, guestinfo };
}

/** The web console of `--console`, started before the program so that its URL is printed first. */
interface RunConsole {
  handle: { close(): Promise<void> };
  source: { attach(s: VmSession): void; finish(e: Awaited<VmSession["exited"]>): void };
}

/** Start the console `--console` asks for (null without it); a port that cannot be bound is a usage error. */
async function startRunConsole(argv: string[], o: RunCliOptions): Promise<RunConsole | null> {
  if (o.allowDangerousTclo === true && o.console === undefined) usage("--allow-dangerous-tclo needs --console");
  if (o.console === undefined) return null;
  const port = o.console === true ? 0 : o.console;
  const [{ startConsole }, { sessionSource }] = await Promise.all([
    import("../host/console/console-server.js"),
    import("../host/console/session-source.js"),
  ]);
  const source = sessionSource(argv);
  try {
    const handle = await startConsole({ source, port, allowDangerousTclo: o.allowDangerousTclo === true });
    process.stderr.write(`vmport: console at ${handle.url}\n`);
    return { handle, source };
  } catch (e) {
    usage(`--console: cannot listen on 127.0.0.1:${port} (${(e as NodeJS.ErrnoException).code ?? (e as Error).message})`);
  }
}

/**
 * Forward SIGINT/SIGTERM/SIGHUP to the program: a signal that arrives before the session exists is kept and sent
 * when it is attached. `dispose` removes the handlers.
 */
function forwardSignals(): { attach(s: VmSession): void; dispose(): void } {
  let session: VmSession | null = null;
  let pending: NodeJS.Signals | null = null;
  const handlers = (["SIGINT", "SIGTERM", "SIGHUP"] as const).map((sig) => {
    const h = (): void => {
      if (session !== null) session.kill(sig);
      else pending = sig;
    };
    process.on(sig, h);
    return [sig, h] as const;
  });
  return {
    attach(s) {
      session = s;
      if (pending !== null) s.kill(pending);
    },
    dispose() {
      for (const [sig, h] of handlers) process.off(sig, h);
    },
  };
}

/** `--verbose`: what the run did, after the program exited (every guest-supplied text escaped). */
function printSummary(out: Awaited<VmSession["exited"]>, o: RunCliOptions): void {
  const c = out.counters["tracer"] ?? {};
  const say = (line: string): boolean => process.stderr.write(`vmport: ${line}\n`);
  say(`exit ${out.status}, ${out.report.backdoorCalls} backdoor calls emulated`);
  say(
    `cpuid: ${c["patched"] ?? 0} sites patched, ${c["cpuids"] ?? 0} emulated; ${c["execMmaps"] ?? 0} executable mmaps followed (${c["mmapsByIdentity"] ?? 0} from the cache by identity); peak RSS ${Math.round(process.resourceUsage().maxRSS / 1024)} MiB`,
  );
  if (o.state !== undefined) say(`state saves ${out.stateSaves} (coalesced)`);
  const skipped = [
    "sharedSkipped",
    "mappedNotRegular",
    "mappedUnreadable",
    "sectionsTooLarge",
    "sitesOverLimit",
    "killedAfterRoot",
    "foreignSeccomp",
  ].filter((k) => (c[k] ?? 0) > 0);
  if (skipped.length > 0) say(skipped.map((k) => `${k} ${c[k]}`).join(", "));
  const g = out.report.guest;
  if (g.toolsRunning) {
    const addrs = g.nics.reduce((k, nic) => k + nic.ips.length, 0);
    say(
      `guest: tools ${escapeText(String(g.toolsVersion ?? "?"))}, hostname ${escapeText(g.hostname ?? "?")}, ${g.nics.length} NIC(s), ${addrs} address(es), ${g.routes.length} route(s)`,
    );
  }
  const unknown = Object.entries(out.report.unknownRpc.commands).map(([name, n]) => `"${escapeText(name)}" x${n}`);
  if (unknown.length > 0) say(`RPCs answered "Unknown command": ${unknown.join(", ")}`);
}

/** `--report FILE`: the run report, written atomically; a failure is one line, the program's status still stands. */
function writeReport(out: Awaited<VmSession["exited"]>, o: RunCliOptions): void {
  if (o.report === undefined) return;
  try {
    writeDurableFile(o.report, JSON.stringify(out.report, null, 2) + "\n");
  } catch (e) {
    process.stderr.write(`vmport: --report ${o.report}: ${(e as Error).message}\n`);
  }
}

/** Run; returns the exit status. */
export async function runRun(argv: string[], o: RunCliOptions): Promise<number> {
  if (argv.length === 0) usage("run: missing PROGRAM (usage: vmport run [options] -- PROGRAM [ARGS...])");
  if (process.platform !== "linux" || process.arch !== "x64")
    usage(`run needs Linux on x86-64 (this is ${process.platform}/${process.arch})`);
  const { profile, guestinfo } = prepare(o);
  // Loaded only when asked for: start-up of a plain run stays what it was.
  const control = o.control !== undefined ? await import("../host/control-server.js") : null;
  if (control !== null) await control.prepareControlPath(o.control!);
  if (o.report !== undefined) await prepareDurableWrites();
  const runConsole = await startRunConsole(argv, o);
  const signals = forwardSignals();
  try {
    const s = await start({
      argv,
      profile,
      guestinfo: Object.fromEntries(guestinfo),
      ...(o.state !== undefined ? { state: o.state } : {}),
      tclo: o.tclo,
      ...(o.trace !== undefined ? { trace: o.trace } : {}),
      ...(o.traceLimit !== undefined ? { traceLimit: o.traceLimit } : {}),
      pin: o.pin ?? null,
      stdio: "inherit",
    });
    runConsole?.source.attach(s);
    signals.attach(s);
    s.on("state-error", (e) => process.stderr.write(`vmport: --state ${o.state}: ${e.message}\n`));
    if (o.verbose)
      s.on("tclo-result", (r) =>
        process.stderr.write(`vmport: tclo "${escapeText(r.command)}": ${r.ok ? "OK" : "ERROR"} ${escapeText(r.text)}\n`),
      );
    const server =
      control === null
        ? null
        : await control.ControlServer.listen(s, o.control!).catch((e: Error) => {
            process.stderr.write(`vmport: --control ${o.control}: ${escapeText(e.message)}\n`); // the program runs on without it
            return null;
          });
    const out = await s.exited;
    await server?.closed;
    runConsole?.source.finish(out);
    await runConsole?.handle.close();
    writeReport(out, o);
    if (out.execError !== null) process.stderr.write(`vmport: run: ${escapeText(out.execError)}\n`);
    else if (o.verbose) printSummary(out, o);
    return out.status;
  } catch (e) {
    if (e instanceof ExecError) {
      process.stderr.write(`vmport: run: ${escapeText(e.message)}\n`);
      return e.exitStatus;
    }
    if (e instanceof VmportError) throw e;
    throw new VmportError("VMPORT_BAD_ARGUMENT", `run: ${escapeText((e as Error).message)}`);
  } finally {
    signals.dispose();
    await runConsole?.handle.close(); // also when the program could not start
  }
}
