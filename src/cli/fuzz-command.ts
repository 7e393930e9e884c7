/**
 * `vmport fuzz [options] -- PROGRAM [ARGS…]`: run PROGRAM again and again against a hostile simulated VMware host
 * (answers mutated deterministically from `--seed` and the run number) and write each unique finding to
 * `--findings DIR`; `--replay FILE` gives a finding's answers again, exactly, and exits with the program's status;
 * `--minimize FILE` shrinks a finding to the fewest mutated answers that still reproduce it.
 *
 * Emulates: nothing itself; the campaign is `fuzz/campaign.ts`, the design `docs/fuzzing.md`.
 * Exit status: campaign 0 without finding, 1 with findings; replay the program's status; minimize 0 when the
 * finding reproduced (and was shrunk), 1 when it did not reproduce; 2 on usage errors (one `vmport:` line).
 * A `--tclo` command that acts on the machine (`channels/tclo-safety.ts`) is refused: a fuzzer runs unattended.
 * SIGINT/SIGTERM/SIGHUP during a campaign stop it gracefully: no new run starts, the runs under way finish, the
 * summary is printed (a second signal ends vmport at once; the tracer's PTRACE_O_EXITKILL ends the programs).
 * Does not: show the program's output during a campaign or a minimization (stdout goes to /dev/null; stderr is
 * captured for sanitizer reports and kept in findings); only `--replay` gives the program vmport's own stdio.
 */
import { availableParallelism } from "node:os";
import { accessSync, constants as FS, mkdirSync } from "node:fs";
import { escapeText } from "../core/text.js";
import { tcloDanger } from "../channels/tclo-safety.js";
import { resolveProfile } from "../devices/profile.js";
import { VirtualMachine } from "../vm/virtual-machine.js";
import { signalName } from "../vm/report.js";
import { HOST_FILE_LIMITS, prepareDurableWrites, readHostFile, writeDurableFile } from "../host/state-file.js";
import { resolveExec, type ExecPlan } from "../host/tracer/program.js";
import { settleOwnStdio, stdioAtStart } from "../host/stdio.js";
import {
  minimizeFinding,
  readFinding,
  replayFinding,
  runCampaign,
  RunStdio,
  type CampaignStats,
  type RunLimits,
} from "../fuzz/campaign.js";
import { parseGuestinfo } from "./run-command.js";
import { usage } from "./errors.js";

/** Default `--timeout-ms`. */
export const DEFAULT_TIMEOUT_MS = 10_000;
/** Default `--max-rss`, MiB. */
export const DEFAULT_MAX_RSS_MB = 2048;
/** Default `--runs` when neither `--runs` nor `--time` is given. */
export const DEFAULT_RUNS = 1000;
/** Default `--findings`. */
export const DEFAULT_FINDINGS = "fuzz-findings";

/** Parsed options of `vmport fuzz`. */
export interface FuzzCliOptions {
  /** Stop after this many runs (default 1000 unless `time` is given). */
  runs?: number;
  /** Stop after this many seconds. */
  time?: number;
  /** Seed of the campaign (default: random, printed at the end). */
  seed?: number;
  /** Parallel runs (default: the number of CPUs). */
  jobs?: number;
  /** A run still going after this many ms is killed and is a hang finding. */
  timeoutMs?: number;
  /** A run whose peak RSS passes this many MiB is killed and is a finding. */
  maxRss?: number;
  /** Directory for finding files. */
  findings?: string;
  /** Corpus directory (read at start, written as runs reach something new). */
  corpus?: string;
  /** `KEY=VALUE` guestinfo settings, as `vmport run --guestinfo`. */
  guestinfo: string[];
  /** VM profile file (JSON). */
  profile?: string;
  /** TCLO commands queued at the start of every run (dangerous ones refused). */
  tclo: string[];
  /** A finding file to replay exactly. */
  replay?: string;
  /** A finding file to shrink. */
  minimize?: string;
}

function execPlan(argv: string[]): ExecPlan {
  const plan = resolveExec(argv, process.env["PATH"]);
  if ("message" in plan) usage(`fuzz: ${escapeText(plan.message)}`);
  return plan;
}

function readProfile(path: string | undefined): Record<string, unknown> {
  if (path === undefined) return {};
  const text = readHostFile(path, "--profile", HOST_FILE_LIMITS.profile).toString("utf8");
  let p: unknown;
  try {
    p = JSON.parse(text);
  } catch (e) {
    usage(`--profile ${path}: not JSON (${(e as Error).message})`);
  }
  if (typeof p !== "object" || p === null || Array.isArray(p)) usage(`--profile ${path}: expected a JSON object`);
  resolveProfile(p);
  return p as Record<string, unknown>;
}

/** Create `dir` if needed and check that files can be written in it; a usage error otherwise. */
function writableDir(dir: string, what: string): string {
  try {
    mkdirSync(dir, { recursive: true });
    accessSync(dir, FS.W_OK | FS.X_OK);
  } catch (e) {
    usage(`${what} ${escapeText(dir)}: ${(e as NodeJS.ErrnoException).code ?? (e as Error).message}`);
  }
  return dir;
}

function env(): string[] {
  return Object.entries(process.env).map(([k, v]) => `${k}=${v}`);
}

/** Run `vmport fuzz`; returns the exit status. */
export async function runFuzz(argv: string[], o: FuzzCliOptions): Promise<number> {
  if (argv.length === 0) usage("fuzz: missing PROGRAM (usage: vmport fuzz [options] -- PROGRAM [ARGS...])");
  if (process.platform !== "linux" || process.arch !== "x64")
    usage(`fuzz needs Linux on x86-64 (this is ${process.platform}/${process.arch})`);
  if (o.replay !== undefined && o.minimize !== undefined) usage("fuzz: --replay and --minimize exclude each other");
  const exec = execPlan(argv);
  const limitsOf = (timeoutMs: number, maxRssKb: number | null): RunLimits => ({
    timeoutMs: o.timeoutMs ?? timeoutMs,
    maxRssKb: o.maxRss !== undefined ? o.maxRss * 1024 : maxRssKb,
  });
  await prepareDurableWrites();
  if (o.replay !== undefined || o.minimize !== undefined) return replayOrMinimize(o, exec, limitsOf);
  return campaign(argv, o, exec, limitsOf(DEFAULT_TIMEOUT_MS, DEFAULT_MAX_RSS_MB * 1024));
}

/** `--replay FILE` or `--minimize FILE`: the program's status, or 0/1 for a minimization. */
async function replayOrMinimize(
  o: FuzzCliOptions,
  exec: ExecPlan,
  limitsOf: (timeoutMs: number, maxRssKb: number | null) => RunLimits,
): Promise<number> {
  const file = (o.replay ?? o.minimize)!;
  let f: ReturnType<typeof readFinding>;
  try {
    f = readFinding(file);
  } catch (e) {
    usage(`--${o.replay !== undefined ? "replay" : "minimize"} ${escapeText((e as Error).message)}`);
  }
  const check = new VirtualMachine({ profile: f.profile }); // a bad profile or guestinfo: one line, exit 2
  for (const [k, v] of f.guestinfo) check.messaging.guestinfo.set(k, v);
  const limits = limitsOf(f.timeoutMs, f.maxRssKb);
  if (o.replay !== undefined) {
    settleOwnStdio();
    const io = new RunStdio(false, stdioAtStart());
    try {
      const out = await replayFinding(f, exec, env(), io, limits);
      const what = out.verdict === null ? "no finding" : out.verdict.key;
      const same = out.verdict?.key === f.key ? "same as the finding" : `the finding was ${f.key}`;
      process.stderr.write(
        `vmport: replay: ${escapeText(what)} (${escapeText(same)}); ${out.run.record.mutated.length} mutated answers given, ${out.run.mismatches} not given\n`,
      );
      return out.run.result.exitStatus;
    } finally {
      io.close();
    }
  }
  const tty = process.stderr.isTTY === true;
  const res = await minimizeFinding(f, exec, env(), limits, (n) => {
    if (tty) process.stderr.write(`\rvmport: minimize: run ${n}`);
  });
  if (tty) process.stderr.write("\n");
  if (res === null) {
    process.stderr.write(`vmport: minimize: ${escapeText(f.key)} does not reproduce\n`);
    return 1;
  }
  const out = file.replace(/(\.min)?\.json$/, "") + ".min.json";
  writeDurableFile(out, JSON.stringify(res.finding, null, 2) + "\n");
  process.stderr.write(
    `vmport: minimize: ${escapeText(f.key)}: ${res.before.answers} → ${res.finding.answers.mutated.length} mutated answers, ${res.before.tclo} → ${res.finding.tclo.length} TCLO commands, ${res.runs} runs; written to ${escapeText(out)}\n`,
  );
  return 0;
}

/** A campaign: 0 without a finding, 1 with findings. */
async function campaign(argv: string[], o: FuzzCliOptions, exec: ExecPlan, limits: RunLimits): Promise<number> {
  const profile = readProfile(o.profile);
  const guestinfo = o.guestinfo.map(parseGuestinfo);
  const scratch = new VirtualMachine({ profile });
  for (const [k, v] of guestinfo) scratch.messaging.guestinfo.set(k, v);
  for (const t of o.tclo) {
    const why = tcloDanger(t);
    if (why !== null) usage(`--tclo "${escapeText(t)}": ${why}; vmport fuzz never sends it`);
  }
  const findingsDir = writableDir(o.findings ?? DEFAULT_FINDINGS, "--findings");
  const corpusDir = o.corpus !== undefined ? writableDir(o.corpus, "--corpus") : null;
  const seed = o.seed ?? (Math.random() * 0x1_0000_0000) >>> 0;
  const jobs = o.jobs ?? availableParallelism();
  const runs = o.runs ?? (o.time === undefined ? DEFAULT_RUNS : null);
  const tty = process.stderr.isTTY === true;
  let lastDraw = 0;
  const stop = new AbortController();
  const signals = ["SIGINT", "SIGTERM", "SIGHUP"] as const;
  const onSignal = (sig: NodeJS.Signals): void => {
    if (stop.signal.aborted) process.exit(128 + (sig === "SIGINT" ? 2 : sig === "SIGTERM" ? 15 : 1));
    stop.abort();
    process.stderr.write(`${tty ? "\r\x1b[K" : ""}vmport: fuzz: ${sig}: stopping after the runs under way\n`);
  };
  for (const s of signals) process.on(s, onSignal);
  const line = (s: CampaignStats) =>
    `${s.runs} runs, ${(s.runs / Math.max(s.elapsedMs / 1000, 1e-3)).toFixed(1)} runs/s, corpus ${s.corpus}, ${s.keys} keys, findings ${s.unique}`;
  let stats: CampaignStats;
  try {
    stats = await runCampaign({
      stop: stop.signal,
      argv,
      exec,
      env: env(),
      profile,
      guestinfo,
      tclo: o.tclo,
      seed,
      runs,
      timeSeconds: o.time ?? null,
      jobs,
      limits,
      findingsDir,
      corpusDir,
      onProgress: (s) => {
        const now = performance.now();
        if (!tty || now - lastDraw < 250) return;
        lastDraw = now;
        process.stderr.write(`\r\x1b[Kvmport: fuzz: ${line(s)}`);
      },
      onFinding: (f, path) => {
        const sig =
          f.what.crash !== null
            ? ` (${signalName(f.what.crash.signal) ?? f.what.crash.signal} at ${escapeText(f.what.crash.mapping)}+${f.what.crash.offset})`
            : "";
        process.stderr.write(
          `${tty ? "\r\x1b[K" : ""}vmport: fuzz: finding ${escapeText(f.key)}${sig} in run ${f.run}: ${escapeText(path)}\n`,
        );
      },
    });
  } finally {
    for (const s of signals) process.off(s, onSignal);
  }
  if (tty) process.stderr.write("\r\x1b[K");
  process.stderr.write(
    `vmport: fuzz: seed ${seed}, ${line(stats)} in ${(stats.elapsedMs / 1000).toFixed(1)} s; ${stats.findingRuns} finding runs; ${stats.ioGp} I/O #GP deaths (not findings)\n`,
  );
  for (const [k, n] of Object.entries(stats.findings)) process.stderr.write(`vmport: fuzz:   ${escapeText(k)} x${n}\n`);
  return stats.unique > 0 || stats.findingRuns > 0 ? 1 : 0;
}
