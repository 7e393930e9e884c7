/**
 * Guest side under `vmport run` (Linux x86-64, open-vm-tools installed, `npm run build` done): `guestinfo.get`
 * round trips per second through `vmport guest info-get` (one Node process per call, as a script would use it)
 * against `vmware-rpctool "info-get …"` doing the same, both in a shell loop under one `vmport run`, same run;
 * plus the library called in one process (no process start per call).
 */
import { spawnSync } from "node:child_process";
import { existsSync, mkdtempSync, writeFileSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";
import type { TracerFigure } from "./tracer.bench.js";

const ROOT = join(import.meta.dirname, "..");
const CLI = join(ROOT, "dist/cli/main.js");

function timed(args: string[]): number {
  const t0 = process.hrtime.bigint();
  const r = spawnSync(process.execPath, [CLI, "run", "--guestinfo", "k=v", ...args], {
    stdio: ["ignore", "ignore", "pipe"],
    encoding: "utf8",
  });
  if (r.status !== 0) throw new Error(`vmport run ${args.join(" ")}: ${r.stderr}`);
  return Number(process.hrtime.bigint() - t0) / 1e6;
}

/** Run the guest benchmark; null when this machine cannot. */
export function benchGuest(): TracerFigure[] | null {
  if (process.platform !== "linux" || process.arch !== "x64" || !existsSync(CLI) || !existsSync("/usr/bin/vmware-rpctool")) return null;
  const n = 20;
  const loop = (cmd: string) => ["--", "/bin/sh", "-c", `i=0; while [ $i -lt ${n} ]; do ${cmd} >/dev/null || exit 1; i=$((i+1)); done`];
  const empty = timed(loop("true"));
  const rpctool = timed(loop(`vmware-rpctool "info-get guestinfo.k"`)) - empty;
  const viaCli = timed(loop(`${process.execPath} ${CLI} guest info-get k`)) - empty;
  const dir = mkdtempSync(join(tmpdir(), "vmport-guest-bench-"));
  const script = join(dir, "loop.mjs");
  const calls = 2000;
  writeFileSync(
    script,
    `import * as g from ${JSON.stringify(join(ROOT, "dist/guest/index.js"))};\nfor (let i = 0; i < ${calls}; i++) g.guestinfo.get("k");\n`,
  );
  const one = timed(["--", process.execPath, script]);
  const base = timed(["--", process.execPath, "-e", "0"]);
  const rps = (ms: number, count: number) => (count / ms) * 1000;
  return [
    { name: "vmware-rpctool info-get, one process per call (baseline)", value: rps(rpctool, n), unit: "round trips/s" },
    {
      name: "vmport guest info-get, one process per call",
      value: rps(viaCli, n),
      unit: "round trips/s",
      note: `ratio ${(rpctool / viaCli).toFixed(2)}`,
    },
    { name: "vmport/guest library, in one process", value: rps(one - base, calls), unit: "round trips/s" },
  ];
}
