/**
 * Control-socket benchmarks (Linux x86-64 with gcc and `npm run build`): µs per trapped GETVERSION under
 * `vmport run --control` with no client (the baseline), with 5 clients connected but not subscribed, and with 5
 * clients subscribed to BACKDOOR_CALL (each reading every event it gets), all in one run, pinned (`--pin 0`) and
 * not; ratios are trap rates against the baseline of the same kind. Plain `vmport run` (no socket) is measured too.
 * Pinned runs are measured twice: as they come, and "placed" — vmport and the clients started under
 * `taskset -c 1`, so that only the tracer thread and the program (pinned to CPU 0 by `--pin 0`) run on CPU 0.
 * In process, the part of a trap the subscription adds: `VirtualMachine.handleGp` (GETVERSION) with and without the
 * trace-ring listener (`host/trace-ring.ts`), and the main thread's cost to decode a record and write its line.
 * Method: the program waits for a line on stdin (`sh -c 'read x; exec probe loop N'`); the clients (a process of
 * their own, `control-clients.mjs`) connect, negotiate, subscribe and make one round trip through the tracer; then
 * the line is written and the time to vmport's exit taken. Per-trap figures subtract a run with few traps (median of
 * each), so start-up, connections and shutdown are not counted.
 */
import { spawn, spawnSync } from "node:child_process";
import { existsSync, mkdtempSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";
import type { TracerFigure } from "./tracer.bench.js";
import { VirtualMachine } from "../src/vm/virtual-machine.js";
import { CpuMode, CpuState, FlatMemory, Reg } from "../src/x86/index.js";
import { SystemClock } from "../src/host/system-clock.js";
import { TraceRingReader, TraceRingWriter, createTraceRing } from "../src/host/trace-ring.js";
import { backdoorLine } from "../src/host/control-server.js";

const ROOT = join(import.meta.dirname, "..");
const CLI = join(ROOT, "dist/cli/main.js");
const CLIENTS = join(import.meta.dirname, "control-clients.mjs");

interface Config {
  name: string;
  /** null: no --control at all. */
  clients: { n: number; subscribe: boolean } | null;
  /** vmport and the clients under `taskset -c 1`. */
  placed: boolean;
}

/** One timed run: ms from the go line to vmport's exit, and what the clients received. */
async function timed(
  dir: string,
  probe: string,
  n: number,
  pin: boolean,
  c: Config,
): Promise<{ ms: number; calls: number; dropped: number }> {
  const sock = join(dir, `b${Math.random().toString(36).slice(2)}.sock`);
  const place = (argv: string[]) => (c.placed ? ["taskset", "-c", "1", ...argv] : argv);
  const args = place([
    process.execPath,
    CLI,
    "run",
    ...(pin ? ["--pin", "0"] : []),
    ...(c.clients !== null ? ["--control", sock] : []),
    "--",
    "sh",
    "-c",
    `read x; exec ${probe} loop ${n}`,
  ]);
  const child = spawn(args[0]!, args.slice(1), { stdio: ["pipe", "ignore", "inherit"] });
  const exited = new Promise<number | null>((r) => child.on("exit", (code) => r(code)));
  let counts: Promise<{ calls: number; dropped: number }> = Promise.resolve({ calls: 0, dropped: 0 });
  if (c.clients !== null) {
    for (let i = 0; i < 2000 && !existsSync(sock); i++) await new Promise((r) => setTimeout(r, 5));
    if (c.clients.n > 0) {
      const cargs = place([process.execPath, CLIENTS, sock, String(c.clients.n), c.clients.subscribe ? "subscribe" : "connect"]);
      const cl = spawn(cargs[0]!, cargs.slice(1), { stdio: ["ignore", "pipe", "inherit"] });
      let out = "";
      cl.stdout.setEncoding("utf8");
      await new Promise<void>((resolve, reject) => {
        cl.stdout.on("data", (d: string) => {
          out += d;
          if (out.startsWith("ready\n")) resolve();
        });
        cl.on("exit", () => reject(new Error(`control clients exited before they were ready: ${out}`)));
      });
      counts = new Promise((resolve) =>
        cl.on("exit", () =>
          resolve(JSON.parse(out.slice("ready\n".length) || '{"calls":0,"dropped":0}') as { calls: number; dropped: number }),
        ),
      );
    }
  } else await new Promise((r) => setTimeout(r, 300)); // let it start; the go line waits in the pipe anyway
  const t0 = process.hrtime.bigint();
  child.stdin.end("go\n");
  const status = await exited;
  const ms = Number(process.hrtime.bigint() - t0) / 1e6;
  if (status !== 0) throw new Error(`vmport run exited ${status}`);
  return { ms, ...(await counts) };
}

async function median(k: number, f: () => Promise<number>): Promise<number> {
  const v: number[] = [];
  for (let i = 0; i < k; i++) v.push(await f());
  v.sort((a, b) => a - b);
  return v[Math.floor(k / 2)]!;
}

/** ns per `handleGp` (GETVERSION) without and with the ring listener; ns to decode a record and build its line. */
function inProcess(): TracerFigure[] {
  const vm = new VirtualMachine({ clock: new SystemClock() });
  const mem = new FlatMemory(new Uint8Array(0x2000));
  mem.ram[0x1000] = 0xed; // in eax,dx
  const cpu = new CpuState({ mode: CpuMode.LONG64, cpl: 3 });
  const calls = (n: number): number => {
    const t0 = process.hrtime.bigint();
    for (let i = 0; i < n; i++) {
      cpu.regs.set32ZeroExtend(Reg.RAX, 0x564d5868);
      cpu.regs.set32ZeroExtend(Reg.RCX, 10);
      cpu.regs.set32ZeroExtend(Reg.RDX, 0x5658);
      cpu.regs.set32ZeroExtend(Reg.RIP, 0x1000);
      vm.handleGp(cpu, mem);
    }
    return Number(process.hrtime.bigint() - t0) / n;
  };
  const buf = createTraceRing();
  const w = new TraceRingWriter(buf);
  const r = new TraceRingReader(buf);
  const without: number[] = [];
  const withRing: number[] = [];
  const decode: number[] = [];
  for (let k = 0; k < 7; k++) {
    without.push(calls(100_000));
    vm.trace.on(w.write);
    withRing.push(calls(100_000));
    vm.trace.off(w.write);
    r.skip();
    vm.trace.on(w.write);
    calls(4000);
    vm.trace.off(w.write);
    const t0 = process.hrtime.bigint();
    const { records } = r.read();
    let bytes = 0;
    for (const rec of records) bytes += backdoorLine(rec).length;
    if (bytes === 0) throw new Error("no records decoded");
    decode.push(Number(process.hrtime.bigint() - t0) / records.length);
  }
  const med = (v: number[]) => [...v].sort((a, b) => a - b)[v.length >> 1]!;
  const a = med(without);
  const b = med(withRing);
  return [
    { name: "in process: handleGp (GETVERSION), no listener (baseline)", value: a, unit: "ns" },
    {
      name: "in process: handleGp with the trace-ring listener",
      value: b,
      unit: "ns",
      note: `+${(b - a).toFixed(0)} ns per trap while someone is subscribed`,
    },
    {
      name: "in process: decode one record and build its BACKDOOR_CALL line",
      value: decode.length > 0 ? med(decode) : 0,
      unit: "ns",
      note: "the host's event loop, off the trap path",
    },
  ];
}

/** Run the control-socket benchmarks; null when this machine cannot. */
export async function benchControl(): Promise<TracerFigure[] | null> {
  if (process.platform !== "linux" || process.arch !== "x64" || !existsSync(CLI)) return null;
  if (spawnSync("gcc", ["--version"]).error || spawnSync("taskset", ["-V"]).error) return null;
  const dir = mkdtempSync(join(tmpdir(), "vmport-bench-ctl-"));
  const probe = join(dir, "probe");
  const b = spawnSync("gcc", ["-O2", "-pthread", "-o", probe, join(ROOT, "src/host/tracer/testdata/probe.c")], { encoding: "utf8" });
  if (b.status !== 0) throw new Error(`gcc probe.c: ${b.stderr}`);
  const base: Config[] = [
    { name: "no --control (reference)", clients: null, placed: false },
    { name: "--control, no client (baseline)", clients: { n: 0, subscribe: false }, placed: false },
    { name: "--control, 5 clients connected, not subscribed", clients: { n: 5, subscribe: false }, placed: false },
    { name: "--control, 5 clients subscribed to BACKDOOR_CALL", clients: { n: 5, subscribe: true }, placed: false },
  ];
  const placed: Config[] = [
    { name: "placed: --control, no client (baseline)", clients: { n: 0, subscribe: false }, placed: true },
    { name: "placed: --control, 5 clients subscribed to BACKDOOR_CALL", clients: { n: 5, subscribe: true }, placed: true },
  ];
  const out: TracerFigure[] = inProcess();
  for (const [pin, configs] of [
    [true, [...base, ...placed]],
    [false, base],
  ] as const) {
    const N = pin ? 100_000 : 20_000;
    const few = 1_000;
    const per = new Map<Config, { us: number; note: string }>();
    for (const c of configs) {
      let got = { calls: 0, dropped: 0 };
      const big = await median(5, async () => {
        const r = await timed(dir, probe, N, pin, c);
        got = r;
        return r.ms;
      });
      const small = await median(5, async () => (await timed(dir, probe, few, pin, c)).ms);
      const note =
        c.clients?.subscribe === true
          ? `; per client: ${Math.round(got.calls / 5)} events delivered, ${Math.round(got.dropped / 5)} counted as dropped, of ${N} accesses`
          : "";
      per.set(c, { us: ((big - small) / (N - few)) * 1000, note });
    }
    for (const c of configs) {
      const baseline = configs.find((x) => x.placed === c.placed && x.clients?.n === 0)!;
      const { us, note } = per.get(c)!;
      const ratio = per.get(baseline)!.us / us;
      out.push({
        name: `${c.name}, ${pin ? "pinned" : "not pinned"}`,
        value: us,
        unit: "µs/trap",
        note: c === baseline ? note.replace(/^; /, "") : `trap rate ${(ratio * 100).toFixed(0)} % of the baseline's${note}`,
      });
    }
  }
  return out;
}
