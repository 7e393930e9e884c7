/**
 * `npm run bench`: runs the benchmarks and prints each figure with its ratio to a baseline measured in the same
 * run. `--markdown` prints the tables for docs/performance.md.
 */
import { cpus } from "node:os";
import { benchEngine } from "./engine.bench.js";
import { benchRpci } from "./rpci.bench.js";
import { benchTracer } from "./tracer.bench.js";
import { benchGuest } from "./guest.bench.js";
import { benchV86 } from "./v86.bench.js";
import { benchControl } from "./control.bench.js";
import { benchConsole } from "./console.bench.js";
import { benchFuzz } from "./fuzz.bench.js";
import type { TracerFigure } from "./tracer.bench.js";

const markdown = process.argv.includes("--markdown");
const cpu = cpus()[0]?.model ?? "unknown CPU";
const engine = await benchEngine();
const base = engine[0]!.nsPerCall;
const rpci = await benchRpci();
const tracer = benchTracer();
const guestFigures = benchGuest();
const v86Figures = benchV86();
const controlFigures = await benchControl();
const consoleFigures = await benchConsole();
const fuzzFigures = await benchFuzz();
const kib = (b: number) => `${b / 1024} KiB`;

/** A table of system figures, printed the same way in both formats. */
interface Section {
  title: string;
  figures: TracerFigure[] | null;
  needs: string;
  digits: (f: TracerFigure) => number;
}

const SECTIONS: Section[] = [
  {
    title: "vmport run (ptrace; per-trap figures exclude start-up)",
    figures: tracer,
    needs: "Linux x86-64, gcc and `npm run build`",
    digits: (f) => (f.unit === "ms" ? 0 : 2),
  },
  {
    title: "Guest side (`vmport guest` / `vmport/guest`) under vmport run",
    figures: guestFigures,
    needs: "Linux x86-64, open-vm-tools and `npm run build`",
    digits: () => 1,
  },
  {
    title: "v86: the same guest loop (GETVERSION at ring 0) with v86's device and with vmport",
    figures: v86Figures,
    needs: "nasm, seabios and `npm run build`",
    digits: () => 0,
  },
  {
    title: "Control socket: trap cost with clients connected and subscribed (vmport run --control)",
    figures: controlFigures,
    needs: "Linux x86-64, gcc and `npm run build`",
    digits: () => 2,
  },
  {
    title: "Web console: trap cost with one page open (vmport run --console)",
    figures: consoleFigures,
    needs: "Linux x86-64, gcc, Debian's chromium and `npm run build`",
    digits: () => 2,
  },
  {
    title: "vmport fuzz: runs per second against vmport run of the same program",
    figures: fuzzFigures,
    needs: "Linux x86-64, gcc (and `npm run build` for the CLI loop)",
    digits: () => 1,
  },
];

function printSection(sec: Section): void {
  if (markdown) {
    console.log(`\n### ${sec.title}\n`);
    if (sec.figures === null) {
      console.log(`Not measured: needs ${sec.needs}.`);
      return;
    }
    console.log("| figure | value | note |");
    console.log("|---|---:|---|");
    for (const f of sec.figures) console.log(`| ${f.name} | ${f.value.toFixed(sec.digits(f))} ${f.unit} | ${f.note ?? ""} |`);
  } else {
    console.log(`\n${sec.title}`);
    if (sec.figures === null) {
      console.log(`  not measured: needs ${sec.needs}`);
      return;
    }
    for (const f of sec.figures)
      console.log(`  ${f.name.padEnd(58)} ${f.value.toFixed(sec.digits(f)).padStart(9)} ${f.unit}  ${f.note ?? ""}`);
  }
}

if (markdown) {
  console.log(`Node ${process.version}, ${cpu}, ${new Date().toISOString().slice(0, 10)}\n`);
  console.log("### Engine: one GETVERSION call\n");
  console.log("| path | ns per call | ratio to (a) |");
  console.log("|---|---:|---:|");
  for (const f of engine) console.log(`| ${f.name} | ${f.nsPerCall.toFixed(1)} | ${(f.nsPerCall / base).toFixed(2)}× |`);
  console.log("\n### RPCI round trips (vmware-rpctool style, in process)\n");
  console.log("| command | value | transport | round trips/s | MB/s | `Uint8Array.set` MB/s | ratio |");
  console.log("|---|---:|---|---:|---:|---:|---:|");
  for (const r of rpci) {
    console.log(
      `| ${r.op} | ${kib(r.bytes)} | ${r.transport} | ${r.roundTripsPerSec.toFixed(0)} | ${r.mbPerSec.toFixed(1)} | ${r.baselineMbPerSec.toFixed(0)} | ${(r.mbPerSec / r.baselineMbPerSec).toFixed(5)} |`,
    );
  }
  for (const sec of SECTIONS) printSection(sec);
} else {
  console.log(`backdoor GETVERSION, ns per call (median of samples; Node ${process.version}; ${cpu})`);
  for (const f of engine)
    console.log(
      `  ${f.name.padEnd(58)} ${f.nsPerCall.toFixed(1).padStart(8)} ns  ${(f.nsPerCall / base).toFixed(2).padStart(6)}× baseline`,
    );
  console.log("\nRPCI round trips (open, send, receive, close), in process; baseline: Uint8Array.set of the same size");
  for (const r of rpci) {
    console.log(
      `  ${r.op.padEnd(9)} ${kib(r.bytes).padStart(7)} ${r.transport}  ${r.roundTripsPerSec.toFixed(0).padStart(8)} /s  ${r.mbPerSec.toFixed(1).padStart(8)} MB/s   baseline ${r.baselineMbPerSec.toFixed(0).padStart(6)} MB/s  ratio ${(r.mbPerSec / r.baselineMbPerSec).toFixed(5)}`,
    );
  }
}
if (!markdown) for (const sec of SECTIONS) printSection(sec);
