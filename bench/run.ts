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

const markdown = process.argv.includes("--markdown");
const cpu = cpus()[0]?.model ?? "unknown CPU";
const engine = await benchEngine();
const base = engine[0]!.nsPerCall;
const rpci = await benchRpci();
const tracer = benchTracer();
const guestFigures = benchGuest();
const v86Figures = benchV86();
const kib = (b: number) => `${b / 1024} KiB`;

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
    console.log(`| ${r.op} | ${kib(r.bytes)} | ${r.transport} | ${r.roundTripsPerSec.toFixed(0)} | ${r.mbPerSec.toFixed(1)} | ${r.baselineMbPerSec.toFixed(0)} | ${(r.mbPerSec / r.baselineMbPerSec).toFixed(5)} |`);
  }
  console.log("\n### vmport run (ptrace)\n");
  if (tracer === null) console.log("Not measured: needs Linux x86-64, gcc and a build (`npm run build`).");
  else {
    console.log("| figure | value | note |");
    console.log("|---|---:|---|");
    for (const f of tracer) console.log(`| ${f.name} | ${f.value.toFixed(f.unit === "ms" ? 0 : 2)} ${f.unit} | ${f.note ?? ""} |`);
  }
  console.log("\n### Guest side (`vmport guest` / `vmport/guest`) under vmport run\n");
  if (guestFigures === null) console.log("Not measured: needs Linux x86-64, open-vm-tools and `npm run build`.");
  else {
    console.log("| figure | value | note |");
    console.log("|---|---:|---|");
    for (const f of guestFigures) console.log(`| ${f.name} | ${f.value.toFixed(1)} ${f.unit} | ${f.note ?? ""} |`);
  }
  console.log("\n### v86: the same guest loop with v86's device and with vmport\n");
  if (v86Figures === null) console.log("Not measured: needs nasm, seabios and `npm run build`.");
  else {
    console.log("| figure | value | note |");
    console.log("|---|---:|---|");
    for (const f of v86Figures) console.log(`| ${f.name} | ${f.value.toFixed(0)} ${f.unit} | ${f.note ?? ""} |`);
  }
} else {
  console.log(`backdoor GETVERSION, ns per call (median of samples; Node ${process.version}; ${cpu})`);
  for (const f of engine) console.log(`  ${f.name.padEnd(58)} ${f.nsPerCall.toFixed(1).padStart(8)} ns  ${(f.nsPerCall / base).toFixed(2).padStart(6)}× baseline`);
  console.log("\nRPCI round trips (open, send, receive, close), in process; baseline: Uint8Array.set of the same size");
  for (const r of rpci) {
    console.log(
      `  ${r.op.padEnd(9)} ${kib(r.bytes).padStart(7)} ${r.transport}  ${r.roundTripsPerSec.toFixed(0).padStart(8)} /s  ${r.mbPerSec.toFixed(1).padStart(8)} MB/s   baseline ${r.baselineMbPerSec.toFixed(0).padStart(6)} MB/s  ratio ${(r.mbPerSec / r.baselineMbPerSec).toFixed(5)}`,
    );
  }
}
if (!markdown) {
  console.log("\nvmport run (ptrace; per-trap figures exclude start-up)");
  if (tracer === null) console.log("  not measured: needs Linux x86-64, gcc and `npm run build`");
  else for (const f of tracer) console.log(`  ${f.name.padEnd(52)} ${f.value.toFixed(f.unit === "ms" ? 0 : 2).padStart(9)} ${f.unit}  ${f.note ?? ""}`);
}
if (!markdown) {
  console.log("\nguest side under vmport run (guestinfo.get)");
  if (guestFigures === null) console.log("  not measured: needs Linux x86-64, open-vm-tools and `npm run build`");
  else for (const f of guestFigures) console.log(`  ${f.name.padEnd(58)} ${f.value.toFixed(1).padStart(9)} ${f.unit}  ${f.note ?? ""}`);
}
if (!markdown) {
  console.log("\nv86 (GETVERSION loop at ring 0, boot time removed)");
  if (v86Figures === null) console.log("  not measured: needs nasm, seabios and `npm run build`");
  else for (const f of v86Figures) console.log(`  ${f.name.padEnd(58)} ${f.value.toFixed(0).padStart(9)} ${f.unit}  ${f.note ?? ""}`);
}
