/**
 * `vmport fuzz`, the main-thread half: plans each run from `--seed` and the run number, hands runs to fuzz worker
 * threads (`worker.ts`, one per `--jobs`), enforces `--timeout-ms` and `--max-rss` on the running program, decides
 * what is a finding, keeps the corpus of runs that reached something new, writes finding files; replays a finding
 * exactly and minimizes it.
 *
 * Emulates: nothing; the campaign driver. Source of truth: `docs/fuzzing.md` (finding format, what is a finding,
 * the corpus, safety rules).
 * What is a finding: death by SIGSEGV (unless it is the #GP of an I/O instruction — what hardware does, see
 * `crash-probe.ts`), SIGBUS, SIGABRT, SIGFPE or SIGILL; no exit within `--timeout-ms` (a hang); a peak RSS past
 * `--max-rss`; a sanitizer report on stderr. Its key is the signal, the mapping and the faulting instruction's
 * offset inside it (`SIGSEGV@prog+0x11a9`), `hang`, `rss`, or the sanitizer's summary line.
 * Bounds: {@link MAX_CORPUS} entries kept, {@link STDERR_LIMIT} bytes of stderr per run (past it the run is killed
 * and counted, not a finding), {@link STDERR_KEPT} bytes of it in a finding, {@link FINDING_FILE_LIMIT} for a
 * finding file read back.
 * Repeatability: with `--jobs 1` a campaign is the same from the same seed (the corpus grows in run order); with
 * more jobs runs finish out of order, so corpus picks can differ — every finding still replays exactly from its file.
 * Does not: print (the CLI does), or send any TCLO command the safe grammar does not make (`mutations.ts`), except
 * the user's own `--tclo`, which the CLI checks.
 */
import { Worker } from "node:worker_threads";
import {
  closeSync,
  existsSync,
  fstatSync,
  ftruncateSync,
  mkdirSync,
  mkdtempSync,
  openSync,
  readdirSync,
  readSync,
  rmSync,
  readFileSync,
} from "node:fs";
import { tmpdir } from "node:os";
import { basename, join } from "node:path";
import { createHash } from "node:crypto";
import { signalName } from "../vm/report.js";
import { writeDurableFile } from "../host/state-file.js";
import type { ExecPlan } from "../host/tracer/program.js";
import type { StdioPlan } from "../host/stdio.js";
import type { VmProfileInput } from "../devices/profile.js";
import type { AnswerRecord, MutatedAnswer } from "./answers.js";
import { validateRecord } from "./answers.js";
import { safeTcloCommand } from "./mutations.js";
import { Prng } from "./prng.js";
import type { CrashInfo } from "./crash-probe.js";
import type { FuzzRunJob, FuzzRunResult, FuzzWorkerMessage } from "./worker-protocol.js";

/** Corpus entries kept in memory (and written); past it new keys are still counted but no entry is added. */
export const MAX_CORPUS = 1000;
/** Bytes of stderr one run may write; past it the program is killed and the run counted as `stderrLimit`. */
export const STDERR_LIMIT = 16 * 1024 * 1024;
/** Bytes of a run's stderr searched for sanitizer reports and kept (the last ones) in a finding. */
export const STDERR_KEPT = 64 * 1024;
/** Largest finding or corpus file read back. */
export const FINDING_FILE_LIMIT = 64 * 1024 * 1024;
/** How often the main thread samples a running program's peak RSS and stderr size, in ms. */
export const SAMPLE_MS = 20;
/** Format tag of a finding file. */
export const FINDING_FORMAT = "vmport-fuzz-finding/1";

/** Signals whose death is a finding (SIGILL, SIGABRT, SIGBUS, SIGFPE, SIGSEGV). */
const FATAL = new Set([4, 6, 7, 8, 11]);

/** What a run shows, as the campaign judges it. */
export interface Verdict {
  /** What kind of finding: a fatal signal, a hang, memory past the bound, a sanitizer report. */
  kind: "crash" | "hang" | "rss" | "sanitizer";
  /** Unique key of the finding (`SIGSEGV@prog+0x11a9`, `hang`, `rss`, `sanitizer:…`). */
  key: string;
  /** The crash as read at its signal stop (crash findings). */
  crash: CrashInfo | null;
  /** The sanitizer line (sanitizer findings). */
  sanitizer: string | null;
}

/** One run as the main thread sees it. */
export interface RunOutcome {
  /** What the worker reported for the run. */
  run: FuzzRunResult;
  /** Killed after `--timeout-ms`. */
  hang: boolean;
  /** Peak RSS sampled, KiB (0 if never sampled). */
  peakRssKb: number;
  /** Killed because its peak RSS passed `--max-rss`. */
  rssExceeded: boolean;
  /** Killed because its stderr passed {@link STDERR_LIMIT}. */
  stderrExceeded: boolean;
  /** The end of its stderr (at most {@link STDERR_KEPT} bytes), when captured. */
  stderr: string;
  /** The finding the run shows, or null. */
  verdict: Verdict | null;
  /** Died of the #GP of an I/O instruction (not a finding). */
  ioGp: boolean;
}

/** Limits enforced on each run. */
export interface RunLimits {
  /** A run still going after this many ms is killed (a hang). */
  timeoutMs: number;
  /** KiB, or null. */
  maxRssKb: number | null;
}

/** The sanitizer line of `stderr`, or null: AddressSanitizer/UBSan/Leak/Memory/Thread summaries, UBSan's `runtime error:`. */
export function sanitizerLine(stderr: string): string | null {
  const m =
    /^SUMMARY: (?:Address|Undefined|Leak|Memory|Thread)Sanitizer:.*$/m.exec(stderr) ??
    /^.*runtime error: .*$/m.exec(stderr) ??
    /^==\d+==ERROR: (?:Address|Leak|Memory|Thread)Sanitizer:.*$/m.exec(stderr);
  return m === null ? null : m[0].slice(0, 500);
}

/** The key part of a sanitizer line: pids, addresses and thread numbers removed. */
function sanitizerKey(line: string): string {
  return line
    .replace(/==\d+==/g, "")
    .replace(/0x[0-9a-f]+/gi, "ADDR")
    .replace(/\bT\d+\b/g, "T");
}

/** Judge one run. */
export function judge(
  run: FuzzRunResult,
  o: { hang: boolean; rssExceeded: boolean; stderr: string },
): { verdict: Verdict | null; ioGp: boolean } {
  if (o.hang) return { verdict: { kind: "hang", key: "hang", crash: null, sanitizer: null }, ioGp: false };
  if (o.rssExceeded) return { verdict: { kind: "rss", key: "rss", crash: null, sanitizer: null }, ioGp: false };
  const san = sanitizerLine(o.stderr);
  if (san !== null)
    return { verdict: { kind: "sanitizer", key: `sanitizer:${sanitizerKey(san)}`, crash: null, sanitizer: san }, ioGp: false };
  const sig = run.result.signal;
  if (sig === null || !FATAL.has(sig)) return { verdict: null, ioGp: false };
  // The newest stop of that signal the kernel raised (si_code > 0), else the newest: a parent that re-raises its
  // child's signal (`timeout`, some shells) dies of a SIGSEGV it sent itself, which says nothing about the fault.
  const same = [...run.crashes].reverse().filter((c) => c.signal === sig);
  const crash = same.find((c) => c.code > 0) ?? same[0] ?? null;
  if (crash?.ioGp === true) return { verdict: null, ioGp: true };
  const name = signalName(sig) ?? `signal ${sig}`;
  const key = crash === null ? `${name}@unknown` : `${name}@${basename(crash.mapping)}+${crash.offset}`;
  return { verdict: { kind: "crash", key, crash, sanitizer: null }, ioGp: false };
}

/** The file name of a finding with `key`. */
export function findingName(key: string): string {
  return `finding-${createHash("sha256").update(key).digest("hex").slice(0, 16)}.json`;
}

/** A finding file. */
export interface Finding {
  /** Format tag of finding files. */
  format: typeof FINDING_FORMAT;
  /** Unique key (see {@link Verdict.key}). */
  key: string;
  /** What kind of finding. */
  kind: Verdict["kind"];
  /** The program as given on the command line. */
  program: string;
  /** Its arguments. */
  args: string[];
  /** The VM profile of the run. */
  profile: VmProfileInput;
  /** Guestinfo variables set at start, as key/value pairs. */
  guestinfo: [string, string][];
  /** TCLO commands queued at start, in order. */
  tclo: string[];
  /** Seed of the campaign. */
  seed: number;
  /** Run number within the campaign (with the seed, it fixes the run's mutations). */
  run: number;
  /** Mutation rate of the run. */
  rate: number;
  /** The campaign's `--timeout-ms`. */
  timeoutMs: number;
  /** The campaign's `--max-rss`, in KiB, or null. */
  maxRssKb: number | null;
  /** Every answer the host gave, in order: what `--replay` gives again. */
  answers: AnswerRecord;
  /** What happened: exit status or signal, the crash, the sanitizer line, peak memory. */
  what: {
    exitStatus: number;
    signal: string | null;
    crash: CrashInfo | null;
    sanitizer: string | null;
    peakRssKb: number;
    /** The end of the program's stderr. */
    stderrTail: string;
  };
}

/** The text of a regular file of at most {@link FINDING_FILE_LIMIT} bytes; throws an Error naming the problem. */
function readBounded(path: string): string {
  try {
    const fd = openSync(path, "r");
    try {
      const st = fstatSync(fd);
      if (!st.isFile()) throw new Error("not a regular file");
      if (st.size > FINDING_FILE_LIMIT) throw new Error(`larger than ${FINDING_FILE_LIMIT} bytes`);
      const b = Buffer.alloc(st.size);
      readSync(fd, b, 0, st.size, 0);
      return b.toString("utf8");
    } finally {
      closeSync(fd);
    }
  } catch (e) {
    throw new Error(`${path}: ${(e as Error).message}`);
  }
}

/** Read and check a finding file; throws an Error naming the problem. */
export function readFinding(path: string): Finding {
  const text = readBounded(path);
  let f: Finding;
  try {
    f = JSON.parse(text) as Finding;
  } catch (e) {
    throw new Error(`${path}: not JSON (${(e as Error).message})`);
  }
  if (typeof f !== "object" || f === null || f.format !== FINDING_FORMAT)
    throw new Error(`${path}: not a vmport fuzz finding (format "${FINDING_FORMAT}")`);
  const bad = validateRecord(f.answers);
  if (bad !== null) throw new Error(`${path}: ${bad}`);
  if (!Array.isArray(f.tclo) || !f.tclo.every((t) => typeof t === "string")) throw new Error(`${path}: tclo: expected strings`);
  if (
    !Array.isArray(f.guestinfo) ||
    !f.guestinfo.every((g) => Array.isArray(g) && g.length === 2 && typeof g[0] === "string" && typeof g[1] === "string")
  )
    throw new Error(`${path}: guestinfo: expected [key, value] pairs`);
  if (typeof f.profile !== "object" || f.profile === null) throw new Error(`${path}: profile: expected an object`);
  if (typeof f.key !== "string") throw new Error(`${path}: key: expected a string`);
  return f;
}

/** One fuzz worker thread, running one program at a time. */
export class FuzzWorker {
  private busy: ((m: FuzzWorkerMessage) => void) | null = null;
  private failure: Error | null = null;

  private constructor(private readonly w: Worker) {
    w.on("message", (m: FuzzWorkerMessage) => this.busy?.(m));
    w.on("error", (e) => {
      this.failure = e;
      this.busy?.({ type: "error", message: e.message });
    });
    w.on("exit", () => {
      this.failure ??= new Error("the fuzz worker exited");
      this.busy?.({ type: "error", message: this.failure.message });
    });
  }

  /** Start a worker and wait until it is loaded. */
  static async start(): Promise<FuzzWorker> {
    const here = new URL(import.meta.url);
    const ext = here.pathname.endsWith(".ts") ? ".ts" : ".js";
    const url = new URL(`./worker${ext}`, here);
    // Under tsx (tests, benchmarks) the worker registers the TypeScript loader itself (as `worker-start.ts` does).
    const w =
      ext === ".ts"
        ? new Worker(`import("tsx/esm/api").then((m) => { m.register(); return import(${JSON.stringify(url.href)}); });`, { eval: true })
        : new Worker(url);
    const fw = new FuzzWorker(w);
    await new Promise<void>((resolve, reject) => {
      fw.busy = (m) => {
        fw.busy = null;
        if (m.type === "ready") resolve();
        else reject(new Error(m.type === "error" ? m.message : "unexpected message"));
      };
    });
    return fw;
  }

  /**
   * Run `job`; `onStarted` gets the pid. Resolves with the run; rejects when the worker fails (spawn refused, …).
   */
  run(job: FuzzRunJob, onStarted: (pid: number) => void): Promise<FuzzRunResult> {
    if (this.failure !== null) return Promise.reject(this.failure);
    return new Promise((resolve, reject) => {
      this.busy = (m) => {
        if (m.type === "started") return onStarted(m.pid);
        this.busy = null;
        if (m.type === "done") resolve(m.run);
        else reject(new Error(m.type === "error" ? m.message : "unexpected message"));
      };
      this.w.postMessage({ type: "run", job });
    });
  }

  /** End the thread. */
  async close(): Promise<void> {
    await this.w.terminate();
  }
}

/** Peak RSS of `pid` in KiB (VmHWM), or 0 when it cannot be read. */
function peakRss(pid: number): number {
  try {
    const m = /^VmHWM:\s+(\d+) kB/m.exec(readFileSync(`/proc/${pid}/status`, "latin1"));
    return m === null ? 0 : Number(m[1]);
  } catch {
    return 0;
  }
}

/** Where a runner's program output goes: captured stderr in a private temporary file, or inherited. */
export class RunStdio {
  /** The descriptors the program gets. */
  readonly plan: StdioPlan;
  private readonly dir: string | null;
  private readonly errFd: number;
  private readonly nullFd: number;

  /** `capture`: stdin/stdout /dev/null, stderr captured; else the plan given (the program's stdio is vmport's). */
  constructor(capture: boolean, inherit?: StdioPlan) {
    if (!capture) {
      this.plan = inherit!;
      this.dir = null;
      this.errFd = -1;
      this.nullFd = -1;
      return;
    }
    this.dir = mkdtempSync(join(tmpdir(), "vmport-fuzz-"));
    this.errFd = openSync(join(this.dir, "stderr"), "a+", 0o600);
    this.nullFd = openSync("/dev/null", "r+");
    this.plan = { closed: [false, false, false], fds: [this.nullFd, this.nullFd, this.errFd] };
  }

  /** Empty the capture before a run. */
  reset(): void {
    if (this.errFd >= 0) ftruncateSync(this.errFd, 0);
  }

  /** Bytes captured so far. */
  size(): number {
    return this.errFd >= 0 ? fstatSync(this.errFd).size : 0;
  }

  /** The last {@link STDERR_KEPT} bytes captured. */
  tail(): string {
    if (this.errFd < 0) return "";
    const size = this.size();
    const n = Math.min(size, STDERR_KEPT);
    const b = Buffer.alloc(n);
    readSync(this.errFd, b, 0, n, size - n);
    return b.toString("utf8");
  }

  /** Close the descriptors and remove the temporary directory. */
  close(): void {
    if (this.errFd >= 0) closeSync(this.errFd);
    if (this.nullFd >= 0) closeSync(this.nullFd);
    if (this.dir !== null) rmSync(this.dir, { recursive: true, force: true });
  }
}

/** Run `job` on `worker` under `limits`, and judge it. */
export async function runJudged(worker: FuzzWorker, job: FuzzRunJob, limits: RunLimits, io: RunStdio): Promise<RunOutcome> {
  io.reset();
  let pid = 0;
  let hang = false;
  let rssExceeded = false;
  let stderrExceeded = false;
  let peak = 0;
  let timer: NodeJS.Timeout | null = null;
  let sampler: NodeJS.Timeout | null = null;
  const kill = () => {
    try {
      if (pid > 0) process.kill(pid, "SIGKILL");
    } catch {
      // already gone
    }
  };
  const sample = () => {
    if (pid <= 0) return;
    peak = Math.max(peak, peakRss(pid));
    if (limits.maxRssKb !== null && peak > limits.maxRssKb && !rssExceeded) {
      rssExceeded = true;
      kill();
    }
    if (io.size() > STDERR_LIMIT && !stderrExceeded) {
      stderrExceeded = true;
      kill();
    }
  };
  let run: FuzzRunResult;
  try {
    run = await worker.run(job, (p) => {
      pid = p;
      timer = setTimeout(() => {
        hang = true;
        kill();
      }, limits.timeoutMs);
      sampler = setInterval(sample, SAMPLE_MS);
    });
  } finally {
    if (timer !== null) clearTimeout(timer);
    if (sampler !== null) clearInterval(sampler);
  }
  // A program that ended on its own just as the timer fired is not a hang.
  if (hang && run.result.signal !== 9) hang = false;
  const stderr = io.tail();
  const { verdict, ioGp } = stderrExceeded ? { verdict: null, ioGp: false } : judge(run, { hang, rssExceeded, stderr });
  return { run, hang, peakRssKb: peak, rssExceeded, stderrExceeded, stderr, verdict, ioGp };
}

/** Options of a campaign. */
export interface CampaignOptions {
  /** Program and arguments, as given. */
  argv: string[];
  /** How the program is started (path, argv, shell fallback). */
  exec: ExecPlan;
  /** The program's environment, `NAME=VALUE` strings. */
  env: string[];
  /** The VM profile (as given; validated in the worker). */
  profile: Record<string, unknown>;
  /** Guestinfo variables set at start of every run. */
  guestinfo: [string, string][];
  /** The user's `--tclo` commands (queued at start of every run, before the generated ones). */
  tclo: string[];
  /** Seed of the campaign. */
  seed: number;
  /** Stop after this many runs (null: only `timeSeconds`). */
  runs: number | null;
  /** Stop after this many seconds (null: only `runs`). */
  timeSeconds: number | null;
  /** Runs made in parallel (one worker thread each). */
  jobs: number;
  /** Limits on each run. */
  limits: RunLimits;
  /** Where finding files are written. */
  findingsDir: string;
  /** Corpus directory, or null for none. */
  corpusDir: string | null;
  /** Called after every run with the totals so far. */
  onProgress?: (s: CampaignStats) => void;
  /** Called with each new unique finding and the path written. */
  onFinding?: (f: Finding, path: string) => void;
  /** When aborted, no new run starts; the runs under way finish (each within `--timeout-ms`). */
  stop?: AbortSignal;
}

/** Totals of a campaign. */
export interface CampaignStats {
  /** Runs finished. */
  runs: number;
  /** Time since the workers were loaded, ms. */
  elapsedMs: number;
  /** Corpus entries (runs kept for reaching something new). */
  corpus: number;
  /** Coverage keys seen. */
  keys: number;
  /** Runs that were findings (duplicates included). */
  findingRuns: number;
  /** Unique findings (files written). */
  unique: number;
  /** Runs that died of the #GP of an I/O instruction (not findings). */
  ioGp: number;
  /** Runs killed because their stderr passed {@link STDERR_LIMIT} (not findings). */
  stderrLimit: number;
  /** Unique finding keys, with how many runs hit each. */
  findings: Record<string, number>;
}

interface CorpusEntry {
  mutated: MutatedAnswer[];
  tclo: string[];
  highBandwidth: boolean;
}

/** Rates a fresh run mutates at, one picked per run. */
const RATES = [0.1, 0.3, 0.6] as const;

/** The plan of run `run` (pure: the same seed, run and corpus give the same plan). */
export function planRun(
  o: Pick<CampaignOptions, "seed" | "tclo" | "profile">,
  run: number,
  corpus: readonly CorpusEntry[],
): { base: MutatedAnswer[]; tclo: string[]; profile: Record<string, unknown>; rate: number; fresh: boolean } {
  if (run === 0) return { base: [], tclo: [...o.tclo], profile: o.profile, rate: 0, fresh: false }; // the honest baseline
  const rng = new Prng(o.seed, run);
  const rate = rng.pick(RATES);
  if (corpus.length > 0 && rng.chance(0.5)) {
    const e = rng.pick(corpus);
    return { base: e.mutated, tclo: e.tclo, profile: { ...o.profile, highBandwidth: e.highBandwidth }, rate, fresh: true };
  }
  const tclo = [...o.tclo];
  for (let k = rng.below(4); k > 0; k--) tclo.push(safeTcloCommand(rng, 4096));
  const hb = rng.chance(0.5)
    ? !((o.profile["highBandwidth"] as boolean | undefined) ?? true)
    : ((o.profile["highBandwidth"] as boolean | undefined) ?? true);
  const profile: Record<string, unknown> = { ...o.profile, highBandwidth: hb };
  // An older host in a quarter of the runs (guestInfo's NIC report falls back to v2, v1), unless the profile says.
  const nic = rng.chance(0.25) ? rng.pick([1, 2, 3]) : null;
  if (nic !== null && o.profile["nicInfoVersion"] === undefined) profile["nicInfoVersion"] = nic;
  return { base: [], tclo, profile, rate, fresh: true };
}

function loadCorpus(dir: string, seen: Set<string>): CorpusEntry[] {
  const out: CorpusEntry[] = [];
  if (!existsSync(dir)) {
    mkdirSync(dir, { recursive: true });
    return out;
  }
  for (const name of readdirSync(dir)
    .filter((n) => n.endsWith(".json"))
    .sort()) {
    if (out.length >= MAX_CORPUS) break;
    try {
      const e = JSON.parse(readBounded(join(dir, name))) as {
        keys: string[];
        mutated: MutatedAnswer[];
        tclo: string[];
        highBandwidth: boolean;
      };
      if (validateRecord({ points: 0, mutated: e.mutated }) !== null || !Array.isArray(e.tclo) || !Array.isArray(e.keys)) continue;
      for (const k of e.keys) if (typeof k === "string") seen.add(k);
      out.push({ mutated: e.mutated, tclo: e.tclo.filter((t) => typeof t === "string"), highBandwidth: e.highBandwidth === true });
    } catch {
      // an unreadable entry is skipped
    }
  }
  return out;
}

/** Run a campaign; resolves with the totals. */
export async function runCampaign(o: CampaignOptions): Promise<CampaignStats> {
  mkdirSync(o.findingsDir, { recursive: true });
  const seen = new Set<string>();
  const corpus = o.corpusDir !== null ? loadCorpus(o.corpusDir, seen) : [];
  const stats: CampaignStats = {
    runs: 0,
    elapsedMs: 0,
    corpus: corpus.length,
    keys: seen.size,
    findingRuns: 0,
    unique: 0,
    ioGp: 0,
    stderrLimit: 0,
    findings: {},
  };
  // Time counts from when the workers are loaded: runs/s and --time measure runs, not thread start-up.
  const workers = await Promise.all(Array.from({ length: o.jobs }, () => FuzzWorker.start()));
  const t0 = performance.now();
  const deadline = o.timeSeconds !== null ? t0 + o.timeSeconds * 1000 : Infinity;
  let next = 0;
  const more = () => (o.runs === null || next < o.runs) && performance.now() < deadline && o.stop?.aborted !== true;
  const ios = workers.map(() => new RunStdio(true));
  const loop = async (w: FuzzWorker, io: RunStdio): Promise<void> => {
    while (more()) {
      const run = next++;
      const plan = planRun(o, run, corpus);
      const job: FuzzRunJob = {
        exec: o.exec,
        env: o.env,
        profile: plan.profile,
        guestinfo: o.guestinfo,
        tclo: plan.tclo,
        stdio: io.plan,
        base: plan.base,
        random: plan.fresh ? { seed: o.seed, run } : null,
        rate: plan.rate,
      };
      const out = await runJudged(w, job, o.limits, io);
      stats.runs++;
      if (out.ioGp) stats.ioGp++;
      if (out.stderrExceeded) stats.stderrLimit++;
      const fresh = out.run.keys.filter((k) => !seen.has(k));
      for (const k of fresh) seen.add(k);
      if (fresh.length > 0 && out.verdict === null && corpus.length < MAX_CORPUS) {
        const entry: CorpusEntry = {
          mutated: out.run.record.mutated,
          tclo: plan.tclo,
          highBandwidth: plan.profile["highBandwidth"] !== false,
        };
        corpus.push(entry);
        if (o.corpusDir !== null) {
          const text = JSON.stringify({ keys: out.run.keys, ...entry }) + "\n";
          writeDurableFile(join(o.corpusDir, `entry-${createHash("sha256").update(text).digest("hex").slice(0, 16)}.json`), text);
        }
      }
      if (out.verdict !== null) {
        stats.findingRuns++;
        const key = out.verdict.key;
        const first = stats.findings[key] === undefined;
        stats.findings[key] = (stats.findings[key] ?? 0) + 1;
        const path = join(o.findingsDir, findingName(key));
        if (first && !existsSync(path)) {
          const f = makeFinding(o, run, plan, out);
          writeDurableFile(path, JSON.stringify(f, null, 2) + "\n");
          stats.unique++;
          o.onFinding?.(f, path);
        }
      }
      stats.corpus = corpus.length;
      stats.keys = seen.size;
      stats.elapsedMs = performance.now() - t0;
      o.onProgress?.(stats);
    }
  };
  try {
    await Promise.all(workers.map((w, k) => loop(w, ios[k]!)));
  } finally {
    await Promise.all(workers.map((w) => w.close()));
    for (const io of ios) io.close();
  }
  stats.elapsedMs = performance.now() - t0;
  return stats;
}

function makeFinding(o: CampaignOptions, run: number, plan: ReturnType<typeof planRun>, out: RunOutcome): Finding {
  const v = out.verdict!;
  return {
    format: FINDING_FORMAT,
    key: v.key,
    kind: v.kind,
    program: o.argv[0]!,
    args: o.argv.slice(1),
    profile: plan.profile,
    guestinfo: o.guestinfo,
    tclo: plan.tclo,
    seed: o.seed,
    run,
    rate: plan.rate,
    timeoutMs: o.limits.timeoutMs,
    maxRssKb: o.limits.maxRssKb,
    answers: out.run.record,
    what: {
      exitStatus: out.run.result.exitStatus,
      signal: out.run.result.signal === null ? null : signalName(out.run.result.signal),
      crash: v.crash,
      sanitizer: v.sanitizer,
      peakRssKb: out.peakRssKb,
      stderrTail: out.stderr.slice(-4096),
    },
  };
}

/** Give the answers of `f` again to `exec` (no randomness). */
export async function replayFinding(
  f: Finding,
  exec: ExecPlan,
  env: string[],
  io: RunStdio,
  limits: RunLimits,
  worker?: FuzzWorker,
): Promise<RunOutcome> {
  const w = worker ?? (await FuzzWorker.start());
  try {
    return await runJudged(
      w,
      {
        exec,
        env,
        profile: f.profile,
        guestinfo: f.guestinfo,
        tclo: f.tclo,
        stdio: io.plan,
        base: f.answers.mutated,
        random: null,
        rate: 0,
      },
      limits,
      io,
    );
  } finally {
    if (worker === undefined) await w.close();
  }
}

/** What {@link minimizeFinding} did. */
export interface MinimizeResult {
  /** The smallest finding that still reproduces the same key. */
  finding: Finding;
  /** Runs made. */
  runs: number;
  /** Mutated answers and TCLO commands before. */
  before: { answers: number; tclo: number };
}

/**
 * Shrink `f`: drop one mutated answer (or one queued TCLO command) at a time and keep it dropped when the finding
 * (the same key) still reproduces; repeat until no single drop reproduces. Null when `f` does not reproduce at all.
 */
export async function minimizeFinding(
  f: Finding,
  exec: ExecPlan,
  env: string[],
  limits: RunLimits,
  onRun?: (n: number) => void,
): Promise<MinimizeResult | null> {
  const w = await FuzzWorker.start();
  const io = new RunStdio(true);
  let runs = 0;
  const attempt = async (mutated: MutatedAnswer[], tclo: string[]): Promise<RunOutcome | null> => {
    runs++;
    onRun?.(runs);
    const out = await replayFinding({ ...f, answers: { points: f.answers.points, mutated }, tclo }, exec, env, io, limits, w);
    return out.verdict?.key === f.key ? out : null;
  };
  try {
    const first = await attempt(f.answers.mutated, f.tclo);
    if (first === null) return null;
    let best = { mutated: first.run.record.mutated, tclo: f.tclo, out: first };
    for (let changed = true; changed; ) {
      changed = false;
      for (let k = 0; k < best.mutated.length + best.tclo.length; k++) {
        const mutated = k < best.mutated.length ? best.mutated.filter((_, j) => j !== k) : best.mutated;
        const tclo = k >= best.mutated.length ? best.tclo.filter((_, j) => j !== k - best.mutated.length) : best.tclo;
        const out = await attempt(mutated, tclo);
        if (out !== null) {
          best = { mutated: out.run.record.mutated, tclo, out };
          changed = true;
          k--;
        }
      }
    }
    const v = best.out.verdict!;
    const finding: Finding = {
      ...f,
      tclo: best.tclo,
      answers: best.out.run.record,
      what: {
        ...f.what,
        exitStatus: best.out.run.result.exitStatus,
        crash: v.crash,
        sanitizer: v.sanitizer,
        stderrTail: best.out.stderr.slice(-4096),
      },
    };
    return { finding, runs, before: { answers: f.answers.mutated.length, tclo: f.tclo.length } };
  } finally {
    await w.close();
    io.close();
  }
}
