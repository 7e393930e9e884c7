/**
 * `vmport run` benchmarks (Linux x86-64 with gcc): µs per trapped GETVERSION against a minimal C ptrace tracer
 * doing the same work (both pinned to CPU 0, same run); HB throughput of RPCI exchanges at 4 KiB and 60 KiB;
 * start-up of `vmport run -- true`, cold (empty CPUID cache) and warm; peak RSS of vmport while a guest floods
 * `--state` (1000 × 60 KB `info-set`) against `vmport run -- true`; 4000 executable mmaps against the same program
 * run natively, pinned and not.
 * Per-trap figures subtract a run with few traps, so process start-up is not counted.
 */
import { spawnSync } from "node:child_process";
import { mkdtempSync, writeFileSync, existsSync } from "node:fs";
import { tmpdir } from "node:os";
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

function build(src: string, out: string): string {
  const r = spawnSync("gcc", ["-O2", "-pthread", "-o", out, src], { encoding: "utf8" });
  if (r.status !== 0) throw new Error(`gcc ${src}: ${r.stderr}`);
  return out;
}

function timeRun(cmd: string, args: string[], env: NodeJS.ProcessEnv = process.env): number {
  const t0 = process.hrtime.bigint();
  const r = spawnSync(cmd, args, { stdio: ["ignore", "ignore", "pipe"], env, encoding: "utf8" });
  const ms = Number(process.hrtime.bigint() - t0) / 1e6;
  if (r.status !== 0) throw new Error(`${cmd} ${args.join(" ")} exited ${r.status}: ${r.stderr}`);
  return ms;
}

/** Median of `k` runs. */
function median(k: number, f: () => number): number {
  const v = Array.from({ length: k }, f).sort((a, b) => a - b);
  return v[Math.floor(k / 2)]!;
}

/** Run the tracer benchmarks; null when this machine cannot (not Linux x86-64, no gcc, no build). */
export function benchTracer(): TracerFigure[] | null {
  if (process.platform !== "linux" || process.arch !== "x64" || !existsSync(CLI)) return null;
  if (spawnSync("gcc", ["--version"]).error) return null;
  const dir = mkdtempSync(join(tmpdir(), "vmport-bench-"));
  const probe = build(join(ROOT, "src/host/tracer/testdata/probe.c"), join(dir, "probe"));
  const ctracer = build(join(ROOT, "bench/c-tracer.c"), join(dir, "c-tracer"));
  const N = 100_000;
  const few = 1_000;
  const perTrap = (run: (n: number) => number) => (median(5, () => run(N)) - median(5, () => run(few))) / (N - few) * 1000;
  const c = perTrap((n) => timeRun(ctracer, ["0", probe, "loop", String(n)]));
  const v = perTrap((n) => timeRun(process.execPath, [CLI, "run", "--pin", "0", "--", probe, "loop", String(n)]));
  const out: TracerFigure[] = [
    { name: "C ptrace tracer, pinned (baseline)", value: c, unit: "µs/trap" },
    { name: "vmport run --pin 0", value: v, unit: "µs/trap", note: `ratio ${(v / c).toFixed(2)} (aim ≤ 1.10)` },
  ];
  // 4 KiB, and the largest reply a message carries: "1 " + 65 534 bytes = 64 KiB.
  for (const size of [4096, 65534]) {
    const f = join(dir, `v${size}`);
    writeFileSync(f, "v".repeat(size));
    const n = size > 8192 ? 2000 : 5000;
    const ms = median(3, () => timeRun(process.execPath, [CLI, "run", "--pin", "0", "--guestinfo", `k=@${f}`, "--", probe, "hbloop", "info-get guestinfo.k", String(n)]));
    const base = median(3, () => timeRun(process.execPath, [CLI, "run", "--pin", "0", "--guestinfo", `k=@${f}`, "--", probe, "hbloop", "info-get guestinfo.k", "10"]));
    const usPer = ((ms - base) / (n - 10)) * 1000;
    const label = size === 65534 ? "64 KiB reply" : `${size / 1024} KiB`;
    out.push({ name: `HB info-get, ${label} (7 traps per exchange)`, value: size / usPer, unit: "MB/s", note: `${usPer.toFixed(1)} µs per exchange` });
  }
  out.push(...benchHardening(dir));
  const cache = mkdtempSync(join(tmpdir(), "vmport-cache-"));
  const env = { ...process.env, XDG_CACHE_HOME: cache };
  const cold = timeRun(process.execPath, [CLI, "run", "--", "true"], env);
  const warm = median(5, () => timeRun(process.execPath, [CLI, "run", "--", "true"], env));
  const nodeAlone = median(5, () => timeRun(process.execPath, ["-e", "0"]));
  out.push(
    { name: "start-up: vmport run -- true, cold CPUID cache", value: cold, unit: "ms" },
    { name: "start-up: vmport run -- true, warm", value: warm, unit: "ms" },
    { name: "start-up: node -e 0 (baseline)", value: nodeAlone, unit: "ms" },
  );
  return out;
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
function benchHardening(dir: string): TracerFigure[] {
  if (!existsSync("/usr/bin/time")) return [{ name: "state flood / exec mmaps", value: 0, unit: "", note: "not measured: needs /usr/bin/time (apt-get install -y time)" }];
  const hostile = build(join(ROOT, "src/host/tracer/testdata/hostile.c"), join(dir, "hostile"));
  const probe = join(dir, "probe");
  const lib = join(dir, "libcpuid.so");
  const r = spawnSync("gcc", ["-shared", "-fPIC", "-O1", "-o", lib, join(ROOT, "src/host/tracer/testdata/libcpuid.c")]);
  if (r.status !== 0) throw new Error("gcc libcpuid.so failed");
  const state = (n: string) => join(dir, `${n}.json`);
  const value = "v".repeat(60_000);
  const flood = median(3, () => peak(process.execPath, [CLI, "run", "--state", state("flood"), "--", probe, "hbloop", `info-set guestinfo.big ${value}`, "1000"]).kb);
  const idle = median(3, () => peak(process.execPath, [CLI, "run", "--state", state("idle"), "--", "true"]).kb);
  const out: TracerFigure[] = [
    { name: "peak RSS: vmport run --state -- true (baseline)", value: idle / 1024, unit: "MiB" },
    { name: "peak RSS: 1000 × 60 KB info-set under --state", value: flood / 1024, unit: "MiB", note: `ratio ${(flood / idle).toFixed(2)} (aim ≤ 1.5)` },
  ];
  const N = 4000;
  for (const pin of [true, false]) {
    const cmd = (n: number, native: boolean): string[] => {
      const prog = [hostile, "mmaps", String(n), lib, ...(native ? ["native"] : [])];
      const full = native ? prog : [process.execPath, CLI, "run", "--", ...prog];
      return pin ? ["taskset", "-c", "0", ...full] : full; // pinned: the whole tree on CPU 0
    };
    const run = (n: number, native: boolean) => {
      const c = cmd(n, native);
      return timeRun(c[0]!, c.slice(1));
    };
    const nat = median(5, () => run(N, true)) - median(5, () => run(0, true));
    const traced = median(3, () => run(N, false)) - median(3, () => run(0, false));
    out.push({
      name: `${N} executable mmaps (each patched), ${pin ? "pinned" : "not pinned"}`,
      value: traced,
      unit: "ms",
      note: `native ${nat.toFixed(1)} ms: ratio ${(traced / Math.max(nat, 0.001)).toFixed(1)} (aim ≤ 20); ${((traced / N) * 1000).toFixed(0)} µs per mmap`,
    });
  }
  return out;
}
