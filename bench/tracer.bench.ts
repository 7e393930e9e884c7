/**
 * `vmport run` benchmarks (Linux x86-64 with gcc): everything side by side against a minimal C ptrace tracer
 * (`bench/c-tracer.c`) doing the same work, measured in the same run:
 * - µs per trapped GETVERSION: the C tracer pinned to CPU 0 (the baseline) and not pinned; `vmport run --pin 0`;
 *   `vmport run` with its default placement; with no placement (the kernel decides); the JavaScript step, pinned;
 * - a 4-thread guest's total throughput, default placement against `--pin`: threads that only trap, and threads
 *   that compute ≈ 1.2 ms between calls;
 * - HB `info-get` exchanges of 4 KiB and 64 KiB against the C tracer doing the same transfers (`-r`);
 * - start-up of `vmport run -- /bin/true` against `node -e 0`, cold (empty CPUID cache) and warm;
 * - peak RSS of vmport while a guest floods `--state`; 4000 executable mmaps against the same program run natively.
 * The machine may be shared: every comparison is interleaved (one run of each configuration per round), and each
 * figure is the median over rounds; a ratio is the median of the per-round ratios. Per-trap figures subtract a run
 * with few traps, so process start-up is not counted.
 */
import { spawnSync } from "node:child_process";
import { mkdtempSync, writeFileSync, existsSync } from "node:fs";
import { loadavg, tmpdir } from "node:os";
import { join } from "node:path";

const ROOT = join(import.meta.dirname, "..");
const CLI = join(ROOT, "dist/cli/main.js");

/** One tracer figure. */
export interface TracerFigure {
  name: string;
  value: number;
  unit: string;
  note?: string;
}

function build(src: string, out: string, flags: string[] = []): string {
  const r = spawnSync("gcc", ["-O2", "-pthread", ...flags, "-o", out, src], { encoding: "utf8" });
  if (r.status !== 0) throw new Error(`gcc ${src}: ${r.stderr}`);
  return out;
}

/** A command; `N` in its arguments is replaced by the count being timed. */
interface Cmd {
  argv: string[];
  env?: NodeJS.ProcessEnv;
}

function timeRun(c: Cmd, n: number): number {
  const args = c.argv.map((a) => (a === "N" ? String(n) : a));
  const t0 = process.hrtime.bigint();
  const r = spawnSync(args[0]!, args.slice(1), {
    stdio: ["ignore", "ignore", "pipe"],
    env: { ...process.env, ...c.env },
    encoding: "utf8",
  });
  const ms = Number(process.hrtime.bigint() - t0) / 1e6;
  if (r.status !== 0) throw new Error(`${args.join(" ")} exited ${r.status}: ${r.stderr}`);
  return ms;
}

function median(v: number[]): number {
  const s = [...v].sort((a, b) => a - b);
  return s[Math.floor(s.length / 2)]!;
}

/**
 * Interleaved measurement: in each of `rounds` rounds every command runs once with `big` and once with `small`;
 * the per-round value is (t(big) − t(small)) / (big − small) in µs (or t(big) in ms when `small` is null).
 * @returns per-command list of per-round values
 */
function interleave(rounds: number, cmds: Record<string, Cmd>, big: number, small: number | null): Record<string, number[]> {
  const out: Record<string, number[]> = Object.fromEntries(Object.keys(cmds).map((k) => [k, []]));
  for (let r = 0; r < rounds; r++) {
    for (const [k, c] of Object.entries(cmds)) {
      const b = timeRun(c, big);
      out[k]!.push(small === null ? b : ((b - timeRun(c, small)) / (big - small)) * 1000);
    }
  }
  return out;
}

/** Median of the per-round ratios a[i] / b[i]. */
function ratio(a: number[], b: number[]): number {
  return median(a.map((x, i) => x / b[i]!));
}

/** " (rounds LO–HI)": the spread of the per-round ratios a[i] / b[i] (inverted for throughput when `inverse`). */
function spread(a: number[], b: number[], inverse = false): string {
  const r = a.map((x, i) => (inverse ? b[i]! / x : x / b[i]!));
  return ` (rounds ${Math.min(...r).toFixed(2)}–${Math.max(...r).toFixed(2)})`;
}

const ROUNDS = Number(process.env["VMPORT_BENCH_ROUNDS"] ?? 7);

/** What every section of the tracer benchmarks runs with. */
interface TracerBench {
  /** The probe program (`src/host/tracer/testdata/probe.c`), built. */
  probe: string;
  /** The C ptrace tracer (`bench/c-tracer.c`), built: the baseline. */
  ctracer: string;
  /** Scratch directory. */
  dir: string;
  /** `vmport run OPTS -- PROG` as a command, with an optional environment. */
  vm: (opts: string[], prog: string[], env?: NodeJS.ProcessEnv) => Cmd;
}

/** 1. Per trap, one thread: vmport against the C tracer, pinned and not, with each placement and step. */
function benchPerTrap(b: TracerBench): TracerFigure[] {
  const { probe, ctracer, vm } = b;
  const loop = [probe, "loop", "N"];
  const t = interleave(
    ROUNDS,
    {
      cPinned: { argv: [ctracer, "0", ...loop] },
      cUnpinned: { argv: [ctracer, "-1", ...loop] },
      pin: vm(["--pin", "0"], loop),
      dflt: vm([], loop),
      none: vm([], loop, { VMPORT_PLACEMENT: "none" }),
      jsPin: vm(["--pin", "0"], loop, { VMPORT_NATIVE_STEP: "0" }),
    },
    100_000,
    1_000,
  );
  const base = t["cPinned"]!;
  const vs = (k: string, aim?: string) =>
    `ratio ${ratio(t[k]!, base).toFixed(2)}${spread(t[k]!, base)} to the pinned C tracer${aim ? `; aim ${aim}` : ""}`;
  return [
    { name: "C ptrace tracer, pinned to CPU 0 (baseline)", value: median(base), unit: "µs/trap" },
    { name: "C ptrace tracer, not pinned", value: median(t["cUnpinned"]!), unit: "µs/trap", note: vs("cUnpinned") },
    { name: "vmport run --pin 0", value: median(t["pin"]!), unit: "µs/trap", note: vs("pin", "≤ 1.05") },
    { name: "vmport run (default placement, not pinned)", value: median(t["dflt"]!), unit: "µs/trap", note: vs("dflt", "≤ 1.25") },
    { name: "vmport run, VMPORT_PLACEMENT=none (the kernel decides)", value: median(t["none"]!), unit: "µs/trap", note: vs("none") },
    { name: "vmport run --pin 0, JavaScript step (VMPORT_NATIVE_STEP=0)", value: median(t["jsPin"]!), unit: "µs/trap", note: vs("jsPin") },
  ];
}

/** 2. Four threads: total traps per second, default placement against --pin. */
function benchThreads(b: TracerBench): TracerFigure[] {
  const { probe, vm } = b;
  const out: TracerFigure[] = [];
  for (const [label, work, n, small] of [
    ["4 threads that only trap", "0", 25_000, 250],
    ["4 threads computing ≈ 1.2 ms between calls", "1000000", 100, 5],
  ] as const) {
    const prog = [probe, "threads", "4", "N", work];
    const r = interleave(
      Math.max(3, Math.ceil(ROUNDS / 2)),
      { pin: vm(["--pin", "0"], prog), dflt: vm([], prog), none: vm([], prog, { VMPORT_PLACEMENT: "none" }) },
      n,
      small,
    );
    // Per-round µs per thread-iteration → total calls per second over the 4 threads.
    const perSec = (v: number[]) => median(v.map((us) => 4e6 / us));
    out.push(
      { name: `${label}, --pin 0 (baseline)`, value: perSec(r["pin"]!), unit: "calls/s" },
      {
        name: `${label}, default placement`,
        value: perSec(r["dflt"]!),
        unit: "calls/s",
        note: `ratio ${(1 / ratio(r["dflt"]!, r["pin"]!)).toFixed(2)}${spread(r["dflt"]!, r["pin"]!, true)} to --pin; aim: higher`,
      },
      {
        name: `${label}, VMPORT_PLACEMENT=none`,
        value: perSec(r["none"]!),
        unit: "calls/s",
        note: `ratio ${(1 / ratio(r["none"]!, r["pin"]!)).toFixed(2)}${spread(r["none"]!, r["pin"]!, true)} to --pin`,
      },
    );
  }
  return out;
}

/** 3. HB: 4 KiB, and the largest reply a message carries ("1 " + 65 534 bytes = 64 KiB). */
function benchHb(b: TracerBench): TracerFigure[] {
  const { probe, ctracer, vm, dir } = b;
  const out: TracerFigure[] = [];
  for (const size of [4096, 65534]) {
    const f = join(dir, `v${size}`);
    writeFileSync(f, "v".repeat(size));
    const prog = [probe, "hbloop", "info-get guestinfo.k", "N"];
    const r = interleave(
      Math.max(3, Math.ceil(ROUNDS / 2)),
      {
        c: { argv: [ctracer, "0", "-r", String(size + 2), ...prog] },
        pin: vm(["--pin", "0", "--guestinfo", `k=@${f}`], prog),
        dflt: vm(["--guestinfo", `k=@${f}`], prog),
      },
      size > 8192 ? 2000 : 4000,
      10,
    );
    const label = size === 65534 ? "64 KiB reply" : "4 KiB";
    const mbs = (v: number[]) => size / median(v);
    out.push(
      {
        name: `HB info-get ${label}, C tracer, pinned (baseline)`,
        value: mbs(r["c"]!),
        unit: "MB/s",
        note: `${median(r["c"]!).toFixed(1)} µs per exchange (7 traps)`,
      },
      {
        name: `HB info-get ${label}, vmport run --pin 0`,
        value: mbs(r["pin"]!),
        unit: "MB/s",
        note: `${median(r["pin"]!).toFixed(1)} µs per exchange; ${(1 / ratio(r["pin"]!, r["c"]!)).toFixed(2)}×${spread(r["pin"]!, r["c"]!, true)} the C tracer; aim ≥ 0.9`,
      },
      {
        name: `HB info-get ${label}, vmport run (default)`,
        value: mbs(r["dflt"]!),
        unit: "MB/s",
        note: `${median(r["dflt"]!).toFixed(1)} µs per exchange; ${(1 / ratio(r["dflt"]!, r["c"]!)).toFixed(2)}× the C tracer`,
      },
    );
  }
  return out;
}

/** 4. Start-up, warm and with a cold CPUID cache, against `node -e 0`. */
function benchStartup(loadBefore: string, load: () => string): TracerFigure[] {
  const node = process.execPath;
  const cache = mkdtempSync(join(tmpdir(), "vmport-cache-"));
  const env = { XDG_CACHE_HOME: cache };
  const cold = timeRun({ argv: [node, CLI, "run", "--", "/bin/true"], env }, 0);
  const s = interleave(ROUNDS, { node: { argv: [node, "-e", "0"] }, vm: { argv: [node, CLI, "run", "--", "/bin/true"], env } }, 0, null);
  return [
    { name: "start-up: node -e 0 (baseline)", value: median(s["node"]!), unit: "ms" },
    {
      name: "start-up: vmport run -- /bin/true, warm",
      value: median(s["vm"]!),
      unit: "ms",
      note: `ratio ${ratio(s["vm"]!, s["node"]!).toFixed(2)}${spread(s["vm"]!, s["node"]!)}; aim ≤ 1.8`,
    },
    { name: "start-up: vmport run -- /bin/true, cold CPUID cache", value: cold, unit: "ms" },
    {
      name: "rounds per comparison (load average before; after)",
      value: ROUNDS,
      unit: "",
      note: `${loadBefore}; ${load()} (2 vCPUs; other work on the machine shows as spread between rounds)`,
    },
  ];
}

/** Run the tracer benchmarks; null when this machine cannot (not Linux x86-64, no gcc, no build). */
export function benchTracer(): TracerFigure[] | null {
  if (process.platform !== "linux" || process.arch !== "x64" || !existsSync(CLI)) return null;
  if (spawnSync("gcc", ["--version"]).error) return null;
  const dir = mkdtempSync(join(tmpdir(), "vmport-bench-"));
  const probe = build(join(ROOT, "src/host/tracer/testdata/probe.c"), join(dir, "probe"));
  const ctracer = build(join(ROOT, "bench/c-tracer.c"), join(dir, "c-tracer"));
  const node = process.execPath;
  const vm = (opts: string[], prog: string[], env?: NodeJS.ProcessEnv): Cmd => ({
    argv: [node, CLI, "run", ...opts, "--", ...prog],
    ...(env ? { env } : {}),
  });
  const load = () =>
    loadavg()
      .map((x) => x.toFixed(2))
      .join(", ");
  const loadBefore = load();
  const b: TracerBench = { probe, ctracer, dir, vm };
  return [...benchPerTrap(b), ...benchThreads(b), ...benchHb(b), ...benchHardening(dir, probe), ...benchStartup(loadBefore, load)];
}

/** Peak RSS (KiB, from GNU time's %M: the process's maxrss, VmHWM) and wall time (ms) of one command. */
function peak(cmd: string, args: string[]): { kb: number; ms: number } {
  const t0 = process.hrtime.bigint();
  const r = spawnSync("/usr/bin/time", ["-f", "%M", cmd, ...args], { stdio: ["ignore", "ignore", "pipe"], encoding: "utf8" });
  const ms = Number(process.hrtime.bigint() - t0) / 1e6;
  if (r.status !== 0) throw new Error(`${cmd} ${args.join(" ")} exited ${r.status}: ${r.stderr}`);
  return { kb: Number(r.stderr.trim().split("\n").at(-1)), ms };
}

/** The hardening figures: memory under a state flood, cost of executable mmaps. */
function benchHardening(dir: string, probe: string): TracerFigure[] {
  if (!existsSync("/usr/bin/time"))
    return [{ name: "state flood / exec mmaps", value: 0, unit: "", note: "not measured: needs /usr/bin/time (apt-get install -y time)" }];
  const hostile = build(join(ROOT, "src/host/tracer/testdata/hostile.c"), join(dir, "hostile"));
  const lib = join(dir, "libcpuid.so");
  const r = spawnSync("gcc", ["-shared", "-fPIC", "-O1", "-o", lib, join(ROOT, "src/host/tracer/testdata/libcpuid.c")]);
  if (r.status !== 0) throw new Error("gcc libcpuid.so failed");
  const state = (n: string) => join(dir, `${n}.json`);
  const value = "v".repeat(60_000);
  const flood = median(
    [0, 1, 2].map(
      () =>
        peak(process.execPath, [CLI, "run", "--state", state("flood"), "--", probe, "hbloop", `info-set guestinfo.big ${value}`, "1000"])
          .kb,
    ),
  );
  const idle = median([0, 1, 2].map(() => peak(process.execPath, [CLI, "run", "--state", state("idle"), "--", "true"]).kb));
  const out: TracerFigure[] = [
    { name: "peak RSS: vmport run --state -- true (baseline)", value: idle / 1024, unit: "MiB" },
    {
      name: "peak RSS: 1000 × 60 KB info-set under --state",
      value: flood / 1024,
      unit: "MiB",
      note: `ratio ${(flood / idle).toFixed(2)} (aim ≤ 1.5)`,
    },
  ];
  const N = 4000;
  for (const pin of [true, false]) {
    const cmd = (native: boolean): Cmd => {
      const prog = [hostile, "mmaps", "N", lib, ...(native ? ["native"] : [])];
      const full = native ? prog : [process.execPath, CLI, "run", "--", ...prog];
      return { argv: pin ? ["taskset", "-c", "0", ...full] : full }; // pinned: the whole tree on CPU 0
    };
    const m = interleave(3, { nat: cmd(true), traced: cmd(false) }, N, 0);
    const nat = (median(m["nat"]!) * N) / 1000;
    const traced = (median(m["traced"]!) * N) / 1000;
    out.push({
      name: `${N} executable mmaps (each patched), ${pin ? "pinned" : "not pinned"}`,
      value: traced,
      unit: "ms",
      note: `native ${nat.toFixed(1)} ms: ratio ${(traced / Math.max(nat, 0.001)).toFixed(1)} (aim ≤ 20); ${((traced / N) * 1000).toFixed(0)} µs per mmap`,
    });
  }
  return out;
}
