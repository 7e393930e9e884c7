/**
 * `npm run bench`: runs the benchmarks and prints each figure with its ratio to the baseline measured in the
 * same run. `--markdown` prints the table for docs/performance.md.
 */
import { cpus } from "node:os";
import { benchEngine } from "./engine.bench.js";

const markdown = process.argv.includes("--markdown");
const figures = await benchEngine();
const base = figures[0]!.nsPerCall;
const cpu = cpus()[0]?.model ?? "unknown CPU";
if (markdown) {
  console.log(`Node ${process.version}, ${cpu}, ${new Date().toISOString().slice(0, 10)}\n`);
  console.log("| path | ns per call | ratio to (a) |");
  console.log("|---|---:|---:|");
  for (const f of figures) console.log(`| ${f.name} | ${f.nsPerCall.toFixed(1)} | ${(f.nsPerCall / base).toFixed(2)}× |`);
} else {
  console.log(`backdoor GETVERSION, ns per call (median of samples; Node ${process.version}; ${cpu})`);
  for (const f of figures) console.log(`  ${f.name.padEnd(58)} ${f.nsPerCall.toFixed(1).padStart(8)} ns  ${(f.nsPerCall / base).toFixed(2).padStart(6)}× baseline`);
}
