/**
 * `vmport fuzz` benchmarks (Linux x86-64 with gcc; the CLI figure also needs `npm run build`): runs per second of
 * the fuzz test guest's robust mode without its TCLO loop (`src/fuzz/testdata/fuzz-guest.c robust-rpc`: two RPCs
 * and four GETMHZ, ≈ 40 backdoor calls) —
 * - plain `vmport run` of it in a loop (one CLI process per run; the way a script would do it),
 * - the same in one process (`runTraced` in a loop: a new tracer thread per run),
 * - the fuzz worker giving honest answers (an empty answer record replayed: the campaign's path, no mutation),
 * - a fuzz campaign, `--jobs 1` and `--jobs 2` (seed 1; mutated answers change the work: long replies take longer,
 *   failed steps end a run early).
 * Ratios: fuzz against each `vmport run` loop, `--jobs 2` against `--jobs 1`. Run alone with
 * `node --import tsx bench/fuzz.bench.ts`.
 */
import { spawnSync } from "node:child_process";
import { existsSync, mkdtempSync, rmSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";
import type { TracerFigure } from "./tracer.bench.js";
import { runTraced } from "../src/host/tracer/run.js";
import { FuzzWorker, RunStdio, replayFinding, runCampaign, FINDING_FORMAT, type Finding } from "../src/fuzz/campaign.js";

const ROOT = join(import.meta.dirname, "..");
const CLI = join(ROOT, "dist/cli/main.js");
const GUESTINFO: [string, string][] = [["fuzz.name", "alice"], ["fuzz.motd", "hello"]];

/** Runs per second of `n` calls of `once`. */
async function rate(n: number, once: () => Promise<unknown> | unknown): Promise<number> {
  await once(); // warm-up
  const t0 = performance.now();
  for (let k = 0; k < n; k++) await once();
  return n / ((performance.now() - t0) / 1000);
}

/** The figures, or null when gcc or ptrace is missing. */
export async function benchFuzz(): Promise<TracerFigure[] | null> {
  if (process.platform !== "linux" || process.arch !== "x64" || spawnSync("gcc", ["--version"]).error) return null;
  const dir = mkdtempSync(join(tmpdir(), "vmport-fuzz-bench-"));
  const prog = join(dir, "fuzz-guest");
  const b = spawnSync("gcc", ["-O1", "-fno-stack-protector", "-U_FORTIFY_SOURCE", "-D_FORTIFY_SOURCE=0", "-Wno-format-security", "-o", prog, join(ROOT, "src/fuzz/testdata/fuzz-guest.c")], { encoding: "utf8" });
  if (b.status !== 0) throw new Error(`gcc fuzz-guest.c: ${b.stderr}`);
  const argv = [prog, "robust-rpc"];
  const env = Object.entries(process.env).map(([k, v]) => `${k}=${v}`);
  const exec = { path: prog, argv };
  const out: TracerFigure[] = [];
  try {
    let cli: number | null = null;
    if (existsSync(CLI)) {
      const gi = GUESTINFO.flatMap(([k, v]) => ["--guestinfo", `${k}=${v}`]);
      cli = await rate(30, () => spawnSync(process.execPath, [CLI, "run", ...gi, "--", ...argv], { stdio: "ignore" }));
      out.push({ name: "vmport run (CLI process per run), loop", value: cli, unit: "runs/s", note: "baseline (a)" });
    } else out.push({ name: "vmport run (CLI process per run), loop", value: 0, unit: "runs/s", note: "not measured: needs npm run build" });

    const inProcess = await rate(60, () => runTraced({ argv, env, profile: {}, state: null, guestinfo: GUESTINFO, tclo: [], tracePath: null, pinCpu: null, seccomp: true }));
    out.push({ name: "runTraced in one process (new tracer thread per run), loop", value: inProcess, unit: "runs/s", note: "baseline (b)" });

    const w = await FuzzWorker.start();
    const io = new RunStdio(true);
    const empty: Finding = {
      format: FINDING_FORMAT, key: "none", kind: "crash", program: prog, args: ["robust-rpc"], profile: {}, guestinfo: GUESTINFO, tclo: [], seed: 0, run: 0, rate: 0,
      timeoutMs: 10_000, maxRssKb: null, answers: { points: 0, mutated: [] },
      what: { exitStatus: 0, signal: null, crash: null, sanitizer: null, peakRssKb: 0, stderrTail: "" },
    };
    const honest = await rate(200, () => replayFinding(empty, exec, env, io, { timeoutMs: 10_000, maxRssKb: null }, w));
    await w.close();
    io.close();
    out.push({ name: "fuzz worker, honest answers (empty record replayed)", value: honest, unit: "runs/s", note: `${(honest / inProcess).toFixed(2)}× (b)` });

    const campaign = async (jobs: number, runs: number): Promise<number> => {
      const fdir = join(dir, `findings-${jobs}`);
      const s = await runCampaign({ argv, exec, env, profile: {}, guestinfo: GUESTINFO, tclo: [], seed: 1, runs, timeSeconds: null, jobs, limits: { timeoutMs: 10_000, maxRssKb: null }, findingsDir: fdir, corpusDir: null });
      if (s.findingRuns > 0) throw new Error(`the robust guest gave findings: ${JSON.stringify(s.findings)}`);
      return s.runs / (s.elapsedMs / 1000);
    };
    const j1 = await campaign(1, 400);
    const j2 = await campaign(2, 400);
    out.push({ name: "vmport fuzz --jobs 1 (seed 1, 400 runs)", value: j1, unit: "runs/s", note: `${cli !== null ? `${(j1 / cli).toFixed(2)}× (a), ` : ""}${(j1 / inProcess).toFixed(2)}× (b)` });
    out.push({ name: "vmport fuzz --jobs 2 (seed 1, 400 runs)", value: j2, unit: "runs/s", note: `${(j2 / j1).toFixed(2)}× --jobs 1` });
    return out;
  } finally {
    rmSync(dir, { recursive: true, force: true });
  }
}

// Run alone: `node --import tsx bench/fuzz.bench.ts`.
if (/fuzz\.bench\.ts$/.test(process.argv[1] ?? "")) {
  const figures = await benchFuzz();
  if (figures === null) console.log("not measured: needs Linux x86-64 and gcc");
  else for (const f of figures) console.log(`| ${f.name} | ${f.value.toFixed(1)} ${f.unit} | ${f.note ?? ""} |`);
}
