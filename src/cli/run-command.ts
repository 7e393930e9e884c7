/**
 * `vmport run [options] -- PROGRAM [ARGS…]`: run an unmodified Linux program against the simulated VMware host.
 *
 * The program's ring-3 backdoor accesses fault; the tracer emulates them (see `host/tracer/tracer.ts`). Exit
 * status = the program's, or 128 + N when it died of signal N. SIGINT/SIGTERM/SIGHUP to vmport are forwarded to
 * the program, so it ends cleanly and its status is still reported. Usage errors: one `vmport:` line, exit 2.
 * `--report FILE` writes the run report (`vm/report.ts`) atomically when the program has exited.
 */
import { readFileSync, statSync } from "node:fs";
import { dirname } from "node:path";
import { VmportError } from "../core/errors.js";
import { resolveProfile } from "../devices/profile.js";
import { restoreDurableState, type DurableState } from "../vm/persistence.js";
import { VirtualMachine } from "../vm/virtual-machine.js";
import { runTraced } from "../host/tracer/run.js";
import { readStateFile, writeFileAtomic } from "../host/state-file.js";
import { usage } from "./errors.js";

/** Parsed options of `vmport run`. */
export interface RunCliOptions {
  guestinfo: string[];
  state?: string;
  profile?: string;
  tclo: string[];
  trace?: string;
  pin?: number;
  verbose: boolean;
  /** Write the run report (JSON) here at exit. */
  report?: string;
}

function readText(path: string, what: string): string {
  try {
    return readFileSync(path, "utf8");
  } catch (e) {
    usage(`${what} ${path}: ${(e as NodeJS.ErrnoException).code ?? (e as Error).message}`);
  }
}

/** `KEY=VALUE` or `KEY=@file` → [key, value]; the `guestinfo.` prefix is optional. */
export function parseGuestinfo(spec: string): [string, string] {
  const eq = spec.indexOf("=");
  if (eq <= 0) usage(`--guestinfo "${spec}": expected KEY=VALUE or KEY=@FILE`);
  const key = spec.slice(0, eq);
  const raw = spec.slice(eq + 1);
  const value = raw.startsWith("@") ? readText(raw.slice(1), "--guestinfo file") : raw;
  return [key, value];
}

/** The directory that will hold `path` must exist, else a usage error. */
function checkWritableDir(path: string): void {
  const dir = dirname(path);
  let ok = false;
  try {
    ok = statSync(dir).isDirectory();
  } catch {
    ok = false;
  }
  if (!ok) usage(`--report ${path}: directory ${dir} does not exist`);
}

/** Run; returns the exit status. */
export async function runRun(argv: string[], o: RunCliOptions): Promise<number> {
  if (argv.length === 0) usage("run: missing PROGRAM (usage: vmport run [options] -- PROGRAM [ARGS...])");
  if (process.platform !== "linux" || process.arch !== "x64") usage(`run needs Linux on x86-64 (this is ${process.platform}/${process.arch})`);
  let profile: unknown = {};
  if (o.profile !== undefined) {
    try {
      profile = JSON.parse(readText(o.profile, "--profile"));
    } catch (e) {
      if (e instanceof VmportError) throw e;
      usage(`--profile ${o.profile}: not JSON (${(e as Error).message})`);
    }
  }
  resolveProfile(profile); // validate here: one clear line instead of a worker error
  if (o.report !== undefined) checkWritableDir(o.report); // fail before the program runs, not after
  const state = o.state !== undefined ? readStateFile(o.state) : null;
  const guestinfo = o.guestinfo.map(parseGuestinfo);
  // Validate state and guestinfo against a scratch VM before starting anything.
  const scratch = new VirtualMachine({ profile: profile as object });
  if (state !== null) restoreDurableState(scratch, state);
  for (const [k, v] of guestinfo) scratch.messaging.guestinfo.set(k, v);

  let lastState: DurableState | null = null;
  const save = (s: DurableState) => {
    lastState = s;
    if (o.state !== undefined) writeFileAtomic(o.state, JSON.stringify(s, null, 2) + "\n");
  };
  let childPid = 0;
  let pending: NodeJS.Signals | null = null; // a signal that came before the program started
  const send = (sig: NodeJS.Signals) => {
    try {
      process.kill(childPid, sig);
    } catch {
      // already gone
    }
  };
  const forward = (sig: NodeJS.Signals) => () => {
    if (childPid > 0) send(sig);
    else pending = sig;
  };
  const handlers: [NodeJS.Signals, () => void][] = (["SIGINT", "SIGTERM", "SIGHUP"] as const).map((s) => [s, forward(s)]);
  for (const [s, h] of handlers) process.on(s, h);
  try {
    const out = await runTraced({
      argv,
      env: Object.entries(process.env).map(([k, v]) => `${k}=${v ?? ""}`),
      profile: profile as object,
      state,
      guestinfo,
      tclo: o.tclo,
      tracePath: o.trace ?? null,
      pinCpu: o.pin ?? null,
      seccomp: true,
      onStarted: (pid) => {
        childPid = pid;
        if (pending !== null) send(pending);
      },
      onState: save,
      onTclo: (cmd, ok, text) => {
        if (o.verbose) process.stderr.write(`vmport: tclo ${JSON.stringify(cmd)}: ${ok ? "OK" : "ERROR"} ${text}\n`);
      },
    });
    save(out.state);
    void lastState;
    if (o.report !== undefined) writeFileAtomic(o.report, JSON.stringify(out.report, null, 2) + "\n");
    if (o.verbose) {
      process.stderr.write(`vmport: exit ${out.result.exitStatus}, ${out.result.traps} backdoor calls emulated\n`);
      const g = out.report.guest;
      if (g.toolsRunning) {
        const addrs = g.nics.reduce((k, nic) => k + nic.ips.length, 0);
        process.stderr.write(`vmport: guest: tools ${g.toolsVersion ?? "?"}, hostname ${g.hostname ?? "?"}, ${g.nics.length} NIC(s), ${addrs} address(es), ${g.routes.length} route(s)\n`);
      }
      const unknown = Object.entries(out.report.unknownRpc.commands).map(([name, n]) => `${JSON.stringify(name)} x${n}`);
      if (unknown.length > 0) process.stderr.write(`vmport: RPCs answered "Unknown command": ${unknown.join(", ")}\n`);
    }
    return out.result.exitStatus;
  } catch (e) {
    if (e instanceof VmportError) throw e;
    throw new VmportError("VMPORT_BAD_ARGUMENT", `run: ${(e as Error).message}`);
  } finally {
    for (const [s, h] of handlers) process.off(s, h);
  }
}
