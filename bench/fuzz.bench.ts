/**
 * `vmport fuzz` benchmarks (Linux x86-64 with gcc; the CLI figures need `npm run build`): runs per second, for two
 * programs — the fuzz test guest's robust mode without its TCLO loop (`src/fuzz/testdata/fuzz-guest.c robust-rpc`:
 * two RPCs over LB and four GETMHZ) and, when installed, `vmware-rpctool "info-get guestinfo.x"` —
 * - (a) plain `vmport run` of it in a loop (one CLI process per run; the way a script would do it),
 * - (b) the fuzz worker giving honest answers (an empty answer record replayed: the campaign's thread and path,
 *   no mutation: what a run costs without Node's start-up),
 * - a fuzz campaign, `--jobs 1` and `--jobs 2` (seed 1; mutated answers change the work: a long reply takes ≈ 16 000
 *   LB steps, a failed step ends a run early).
 * Ratios: fuzz against (a) and (b), `--jobs 2` against `--jobs 1`. Run alone with `node --import tsx bench/fuzz.bench.ts`.
 */
import { spawnSync } from "node:child_process";
import { existsSync, mkdtempSync, rmSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";
import type { TracerFigure } from "./tracer.bench.js";
import { FuzzWorker, RunStdio, replayFinding, runCampaign, FINDING_FORMAT, type Finding } from "../src/fuzz/campaign.js";

const ROOT = join(import.meta.dirname, "..");
const CLI = join(ROOT, "dist/cli/main.js");
const GUESTINFO: [string, string][] = [
  ["fuzz.name", "alice"],
  ["fuzz.motd", "hello"],
];

/** Runs per second of `n` calls of `once`. */
async function rate(n: number, once: () => Promise<unknown> | unknown): Promise<number> {
  await once(); // warm-up
  const t0 = performance.now();
  for (let k = 0; k < n; k++) await once();
  return n / ((performance.now() - t0) / 1000);
}

/** A finding with no mutated answer: replaying it gives the program honest answers. */
function emptyFinding(argv: string[], guestinfo: [string, string][]): Finding {
  return {
    format: FINDING_FORMAT,
    key: "none",
    kind: "crash",
    program: argv[0]!,
    args: argv.slice(1),
    profile: {},
    guestinfo,
    tclo: [],
    seed: 0,
    run: 0,
    rate: 0,
    timeoutMs: 10_000,
    maxRssKb: null,
    answers: { points: 0, mutated: [] },
    what: { exitStatus: 0, signal: null, crash: null, sanitizer: null, peakRssKb: 0, stderrTail: "" },
  };
}

/** Runs per second of a fuzz campaign (seed 1) with `jobs` workers; a finding fails the benchmark. */
async function campaignRate(
  dir: string,
  env: string[],
  label: string,
  argv: string[],
  guestinfo: [string, string][],
  runs: number,
  jobs: number,
): Promise<number> {
  const exec = { path: argv[0]!, argv };
  const fdir = join(dir, `findings-${label.replace(/\W+/g, "-")}-${jobs}`);
  const s = await runCampaign({
    argv,
    exec,
    env,
    profile: {},
    guestinfo,
    tclo: [],
    seed: 1,
    runs,
    timeSeconds: null,
    jobs,
    limits: { timeoutMs: 10_000, maxRssKb: null },
    findingsDir: fdir,
    corpusDir: null,
  });
  if (s.findingRuns > 0) throw new Error(`${label} gave findings: ${JSON.stringify(s.findings)}`);
  return s.runs / (s.elapsedMs / 1000);
}

/** Measure one program: the CLI loop (a), the fuzz worker with honest answers (b), and campaigns with 1 and 2 jobs. */
async function measure(
  out: TracerFigure[],
  dir: string,
  env: string[],
  label: string,
  argv: string[],
  guestinfo: [string, string][],
  runs: number,
): Promise<void> {
  const exec = { path: argv[0]!, argv };
  let cli: number | null = null;
  if (existsSync(CLI)) {
    const gi = guestinfo.flatMap(([k, v]) => ["--guestinfo", `${k}=${v}`]);
    cli = await rate(30, () => spawnSync(process.execPath, [CLI, "run", ...gi, "--", ...argv], { stdio: "ignore" }));
    out.push({ name: `${label}: vmport run (CLI process per run), loop`, value: cli, unit: "runs/s", note: "(a)" });
  } else
    out.push({
      name: `${label}: vmport run (CLI process per run), loop`,
      value: 0,
      unit: "runs/s",
      note: "not measured: needs npm run build",
    });
  const w = await FuzzWorker.start();
  const io = new RunStdio(true);
  const empty = emptyFinding(argv, guestinfo);
  const honest = await rate(200, () => replayFinding(empty, exec, env, io, { timeoutMs: 10_000, maxRssKb: null }, w));
  await w.close();
  io.close();
  out.push({
    name: `${label}: fuzz worker, honest answers (empty record replayed)`,
    value: honest,
    unit: "runs/s",
    note: `(b); ${cli !== null ? `${(honest / cli).toFixed(1)}× (a)` : ""}`,
  });
  const campaign = (jobs: number): Promise<number> => campaignRate(dir, env, label, argv, guestinfo, runs, jobs);
  const j1 = await campaign(1);
  const j2 = await campaign(2);
  out.push({
    name: `${label}: vmport fuzz --jobs 1 (seed 1, ${runs} runs)`,
    value: j1,
    unit: "runs/s",
    note: `${cli !== null ? `${(j1 / cli).toFixed(1)}× (a), ` : ""}${(j1 / honest).toFixed(2)}× (b)`,
  });
  out.push({
    name: `${label}: vmport fuzz --jobs 2 (seed 1, ${runs} runs)`,
    value: j2,
    unit: "runs/s",
    note: `${(j2 / j1).toFixed(2)}× --jobs 1`,
  });
}

/** The figures, or null when gcc or ptrace is missing. */
export async function benchFuzz(): Promise<TracerFigure[] | null> {
  if (process.platform !== "linux" || process.arch !== "x64" || spawnSync("gcc", ["--version"]).error) return null;
  const dir = mkdtempSync(join(tmpdir(), "vmport-fuzz-bench-"));
  const prog = join(dir, "fuzz-guest");
  const b = spawnSync(
    "gcc",
    [
      "-O1",
      "-fno-stack-protector",
      "-U_FORTIFY_SOURCE",
      "-D_FORTIFY_SOURCE=0",
      "-Wno-format-security",
      "-o",
      prog,
      join(ROOT, "src/fuzz/testdata/fuzz-guest.c"),
    ],
    { encoding: "utf8" },
  );
  if (b.status !== 0) throw new Error(`gcc fuzz-guest.c: ${b.stderr}`);
  const env = Object.entries(process.env).map(([k, v]) => `${k}=${v}`);
  const out: TracerFigure[] = [];
  try {
    await measure(out, dir, env, "fuzz-guest robust-rpc", [prog, "robust-rpc"], GUESTINFO, 400);
    if (spawnSync("vmware-rpctool", ["--help"]).error === undefined)
      await measure(out, dir, env, "vmware-rpctool info-get", ["/usr/bin/vmware-rpctool", "info-get guestinfo.x"], [["x", "hello"]], 1000);
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
