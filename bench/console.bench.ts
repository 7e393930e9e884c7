/**
 * Web-console benchmark (Linux x86-64 with gcc, Debian's `chromium` and `npm run build`): µs per trapped
 * GETVERSION under `vmport run --console` with no page open (the baseline) and with one console page open in
 * headless Chromium (the page subscribes to the call feed, so every trap is recorded in the trace ring and shown),
 * in one run, pinned (`--pin 0`) and not. Plain `vmport run` (no console) is measured as a reference. The ratio is
 * the trap rate with a page open against the baseline of the same kind (aim: at least 90 %).
 * Method: as `control.bench.ts`: the program waits for a line on stdin (`sh -c 'read x; exec probe loop N'`); the
 * console URL is read from vmport's stderr, the page is opened and waited for until it shows the guest running;
 * then the line is written and the time to vmport's exit taken. Per-trap figures subtract a run with few traps
 * (median of each), so start-up, the page load and shutdown are not counted. Chromium runs on the same two CPUs,
 * as it would for a user watching the console on this machine.
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

/** One timed run: ms from the go line to vmport's exit, and the calls the page counted (page runs only). */
async function timed(browser: Browser | null, probe: string, n: number, pin: boolean, c: Config): Promise<{ ms: number; shown: number }> {
  const args = [CLI, "run", ...(pin ? ["--pin", "0"] : []), ...(c === "none" ? [] : ["--console"]), "--", "sh", "-c", `read x; exec ${probe} loop ${n}`];
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
      page = await browser!.newPage();
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
  if (page !== null) {
    shown = Number(/^(\d+) calls/.exec((await page.locator("#calls-count").textContent()) ?? "")?.[1] ?? 0);
    await page.close();
  }
  return { ms, shown };
}

async function median(k: number, f: () => Promise<number>): Promise<number> {
  const v: number[] = [];
  for (let i = 0; i < k; i++) v.push(await f());
  v.sort((a, b) => a - b);
  return v[Math.floor(k / 2)]!;
}

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
  try {
    for (const pin of [true, false]) {
      const N = pin ? 100_000 : 20_000;
      const few = 1_000;
      const per = new Map<Config, { us: number; shown: number }>();
      for (const c of ["none", "console", "page"] as const) {
        let shown = 0;
        const big = await median(5, async () => {
          const r = await timed(browser, probe, N, pin, c);
          shown = r.shown;
          return r.ms;
        });
        const small = await median(5, async () => (await timed(browser, probe, few, pin, c)).ms);
        per.set(c, { us: ((big - small) / (N - few)) * 1000, shown });
      }
      const base = per.get("console")!.us;
      for (const c of ["none", "console", "page"] as const) {
        const { us, shown } = per.get(c)!;
        const note = c === "console" ? "" : `trap rate ${((base / us) * 100).toFixed(0)} % of the baseline's${c === "page" ? `; the page counted ${shown} calls of ${N} accesses` : ""}`;
        out.push({ name: `${NAMES[c]}, ${pin ? "pinned" : "not pinned"}`, value: us, unit: "µs/trap", note });
      }
    }
  } finally {
    await browser.close();
  }
  return out;
}
