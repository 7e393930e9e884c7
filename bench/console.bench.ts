/**
 * Web-console benchmark (Linux x86-64 with gcc, Debian's `chromium` and `npm run build`): µs per trapped
 * GETVERSION under `vmport run --console` with no page open (the baseline) and with one console page open in
 * headless Chromium (the page subscribes to the call feed, so every trap is recorded in the trace ring and shown),
 * in one run, pinned (`--pin 0`) and not. Plain `vmport run` (no console) is measured as a reference. The ratio is
 * the trap rate with a page open against the baseline of the same kind (aim: at least 90 %).
 * Method: as `control.bench.ts`, interleaved: each round runs every configuration once; figures are medians over
 * rounds, ratios the median of the per-round ratios, with their spread. In each run the program waits for a line on
 * stdin (`sh -c 'read x; exec probe loop N'`); the console URL is read from vmport's stderr, the page is opened and
 * waited for until it shows the guest running; then the line is written and the time to vmport's exit taken. The
 * per-trap figure subtracts a run with few traps, so start-up, the page load and shutdown are not counted.
 * Chromium runs on the same two CPUs, as it would for a user watching the console on this machine.
 */
import { spawn, spawnSync } from "node:child_process";
import { existsSync, mkdtempSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";
import type { Browser } from "playwright-core";
import type { TracerFigure } from "./tracer.bench.js";

const ROOT = join(import.meta.dirname, "..");
const CLI = join(ROOT, "dist/cli/main.js");

/** One configuration: no console at all, a console nobody watches, or one page open. */
type Config = "none" | "console" | "page";

const NAMES: Record<Config, string> = {
  none: "no --console (reference)",
  console: "--console, no page open (baseline)",
  page: "--console, one page open (call feed live)",
};

/** One timed run: ms from the go line to vmport's exit; for page runs, the calls the page counted and dropped. */
async function timed(
  browser: Browser,
  probe: string,
  n: number,
  pin: boolean,
  c: Config,
): Promise<{ ms: number; shown: number; dropped: number }> {
  const args = [
    CLI,
    "run",
    ...(pin ? ["--pin", "0"] : []),
    ...(c === "none" ? [] : ["--console"]),
    "--",
    "sh",
    "-c",
    `read x; exec ${probe} loop ${n}`,
  ];
  const child = spawn(process.execPath, args, { stdio: ["pipe", "ignore", "pipe"] });
  const exited = new Promise<number | null>((r) => child.on("exit", (code) => r(code)));
  let err = "";
  child.stderr.setEncoding("utf8");
  child.stderr.on("data", (d: string) => (err += d));
  let page: Awaited<ReturnType<Browser["newPage"]>> | null = null;
  if (c !== "none") {
    for (let i = 0; i < 2000 && !/console at http\S+\n/.test(err); i++) await new Promise((r) => setTimeout(r, 5));
    const url = /console at (http\S+)\n/.exec(err)?.[1];
    if (url === undefined) throw new Error(`no console URL from vmport: ${err}`);
    if (c === "page") {
      page = await browser.newPage();
      await page.goto(url);
      await page.waitForSelector("#status.running", { timeout: 60_000 });
    }
  } else await new Promise((r) => setTimeout(r, 300)); // let it start; the go line waits in the pipe anyway
  const t0 = process.hrtime.bigint();
  child.stdin.end("go\n");
  const status = await exited;
  const ms = Number(process.hrtime.bigint() - t0) / 1e6;
  if (status !== 0) throw new Error(`vmport run exited ${status}: ${err}`);
  let shown = 0;
  let dropped = 0;
  if (page !== null) {
    shown = Number(/^(\d+) calls/.exec((await page.locator("#calls-count").textContent()) ?? "")?.[1] ?? 0);
    dropped = Number(/(\d+) calls dropped/.exec((await page.locator("#dropped").textContent()) ?? "")?.[1] ?? 0);
    await page.close();
  }
  return { ms, shown, dropped };
}

const median = (v: number[]): number => [...v].sort((a, b) => a - b)[v.length >> 1]!;

/** Rounds per comparison: one run of each configuration per round, so load changes hit all of them alike. */
const ROUNDS = 7;

/** Run the console benchmark; null when this machine cannot. */
export async function benchConsole(): Promise<TracerFigure[] | null> {
  if (process.platform !== "linux" || process.arch !== "x64" || !existsSync(CLI) || !existsSync("/usr/bin/chromium")) return null;
  if (spawnSync("gcc", ["--version"]).error) return null;
  const dir = mkdtempSync(join(tmpdir(), "vmport-bench-console-"));
  const probe = join(dir, "probe");
  const b = spawnSync("gcc", ["-O2", "-pthread", "-o", probe, join(ROOT, "src/host/tracer/testdata/probe.c")], { encoding: "utf8" });
  if (b.status !== 0) throw new Error(`gcc probe.c: ${b.stderr}`);
  const { launchChromium } = await import("../src/test-support/browser.js");
  const browser = await launchChromium();
  const out: TracerFigure[] = [];
  const configs = ["none", "console", "page"] as const;
  try {
    for (const pin of [true, false]) {
      const N = pin ? 100_000 : 20_000;
      const few = 1_000;
      const us = new Map<Config, number[]>(configs.map((c) => [c, []]));
      const ratios = new Map<Config, number[]>(configs.map((c) => [c, []]));
      let shown = 0;
      let dropped = 0;
      for (let round = 0; round < ROUNDS; round++) {
        const per = new Map<Config, number>();
        for (const c of configs) {
          const big = await timed(browser, probe, N, pin, c);
          const small = await timed(browser, probe, few, pin, c);
          if (c === "page") ({ shown, dropped } = big);
          per.set(c, ((big.ms - small.ms) / (N - few)) * 1000);
          us.get(c)!.push(per.get(c)!);
        }
        for (const c of configs) ratios.get(c)!.push(per.get("console")! / per.get(c)!);
      }
      for (const c of configs) {
        const r = ratios.get(c)!;
        const spread = `rounds ${(Math.min(...r) * 100).toFixed(0)}–${(Math.max(...r) * 100).toFixed(0)} %`;
        const seen = c === "page" ? `; the page counted ${shown} calls of ${N} (last round), ${dropped} events dropped and counted` : "";
        const note =
          c === "console"
            ? `${ROUNDS} rounds`
            : `trap rate ${(median(r) * 100).toFixed(0)} % of the baseline's (${spread})${seen}${c === "page" ? "; aim ≥ 90 %" : ""}`;
        out.push({ name: `${NAMES[c]}, ${pin ? "pinned" : "not pinned"}`, value: median(us.get(c)!), unit: "µs/trap", note });
      }
    }
  } finally {
    await browser.close();
  }
  return out;
}
