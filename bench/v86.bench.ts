/**
 * Backdoor calls per second seen by the same guest loop (GETVERSION at ring 0) in v86 with v86's built-in
 * VMware device and with vmport attached, same run (needs nasm, Debian's SeaBIOS and `npm run build`).
 * Boot time is removed by subtracting a run with few calls.
 */
import { spawnSync } from "node:child_process";
import { existsSync, mkdtempSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";
import type { TracerFigure } from "./tracer.bench.js";

const ROOT = join(import.meta.dirname, "..");
const CLI = join(ROOT, "dist/cli/main.js");

function build(loops: number, out: string): string {
  const r = spawnSync("nasm", ["-f", "bin", `-DLOOPS=${loops}`, "-o", out, join(ROOT, "src/v86/testdata/getversion-loop.asm")], {
    encoding: "utf8",
  });
  if (r.status !== 0) throw new Error(r.stderr);
  return out;
}

function ms(kernel: string, builtin: boolean): number {
  const t0 = process.hrtime.bigint();
  const r = spawnSync(process.execPath, [CLI, "v86", ...(builtin ? ["--builtin"] : []), "--multiboot", kernel], { encoding: "utf8" });
  if (r.status !== 1) throw new Error(`vmport v86 exited ${r.status}: ${r.stderr}`);
  return Number(process.hrtime.bigint() - t0) / 1e6;
}

/** Run the v86 benchmark; null when this machine cannot. */
export function benchV86(): TracerFigure[] | null {
  if (!existsSync(CLI) || !existsSync("/usr/share/seabios/bios.bin") || spawnSync("nasm", ["-v"]).error) return null;
  const dir = mkdtempSync(join(tmpdir(), "vmport-v86-bench-"));
  const N = 300_000;
  const n = 1_000;
  const big = build(N, join(dir, "big.bin"));
  const small = build(n, join(dir, "small.bin"));
  const med = (f: () => number) => [f(), f(), f()].sort((a, b) => a - b)[1]!;
  const rate = (builtin: boolean) => ((N - n) / (med(() => ms(big, builtin)) - med(() => ms(small, builtin)))) * 1000;
  const builtin = rate(true);
  const ours = rate(false);
  return [
    { name: "v86 built-in VMware device (baseline)", value: builtin, unit: "calls/s" },
    { name: "v86 with vmport attached", value: ours, unit: "calls/s", note: `ratio ${(ours / builtin).toFixed(2)} (aim ≥ 1.0)` },
  ];
}
