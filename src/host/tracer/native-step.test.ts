/**
 * The native step against the JavaScript step (the reference): the same probe programs (`testdata/probe.c`),
 * x86-64 and i386, run under both, with address-space randomisation off so that both runs see the same addresses.
 * Every case must give the same exit status, the same output — `allregs` prints every general register and the
 * arithmetic flags the thread really got back — and the same trace records (instruction bytes, registers in and
 * out, outcome), apart from the time and thread ids and the values that are time or random by nature (GETTIME*,
 * RDPMC counters, channel cookies). Also: the native step really ran (its counter), and the routine's listing.
 */
import { test } from "node:test";
import assert from "node:assert/strict";
import { mkdtempSync, readFileSync, rmSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { spawnSync } from "node:child_process";
import { buildC, needs, ptraceUsable, ROOT, runs } from "../../test-support/system.js";
import { runTraced } from "./run.js";
import { stepProgram, STEP, STEP_KIND } from "./native-step.js";
import { hexText } from "../x64-asm.js";

const skip64 =
  needs("gcc", "gcc", () => runs("gcc")) ||
  (ptraceUsable() ? false : "needs Linux on x86-64") ||
  needs("setarch", "util-linux", () => runs("setarch", ["--version"]));
const probe64 = skip64 ? null : buildC("src/host/tracer/testdata/probe.c", "probe64");
const skip32 =
  skip64 ||
  needs(
    "gcc-multilib",
    "gcc-multilib",
    () => buildC("src/host/tracer/testdata/probe.c", "probe-check", ["-m32", "-fno-pie", "-no-pie"]) !== null,
  );
const probe32 = skip32 ? null : buildC("src/host/tracer/testdata/probe.c", "probe32", ["-m32", "-fno-pie", "-no-pie"]);
const dir = mkdtempSync(join(tmpdir(), "vmport-step-"));

/** Every mode of the probe that makes backdoor calls or faults, with its arguments. */
const CASES: string[][] = [
  ["forms"],
  ["allregs"],
  ["nonbackdoor"],
  ["syscalls"],
  ["rdpmcbad"],
  ["faults"],
  ["straddle"],
  ["handler"],
  ["hb", "info-get guestinfo.foo"],
  ["hb", "info-set guestinfo.x native"],
  ["hbloop", "info-get guestinfo.foo", "20"],
  ["threads", "3", "50"],
  ["fork", "50"],
  ["stress", "200"],
  ["loop", "200"],
  ["exit", "7"],
  ["abort"],
];

interface Outcome {
  status: number | null;
  stdout: string;
  records: string[];
}

/** Run `vmport run --trace` on the probe without ASLR, with the native step on or off. */
function runWith(native: boolean, probe: string, args: string[], n: number): Outcome {
  const trace = join(dir, `t-${native ? 1 : 0}-${n}.jsonl`);
  rmSync(trace, { force: true });
  const r = spawnSync(
    process.execPath,
    [
      "--import",
      "tsx",
      join(ROOT, "src/cli/main.ts"),
      "run",
      "--guestinfo",
      "foo=bar",
      "--trace",
      trace,
      "--",
      "setarch",
      "x86_64",
      "-R",
      probe,
      ...args,
    ],
    { encoding: "utf8", timeout: 60_000, env: { ...process.env, VMPORT_NATIVE_STEP: native ? "1" : "0" } },
  );
  const lines = readFileSync(trace, "utf8")
    .trim()
    .split("\n")
    .filter((l) => l !== "");
  return { status: r.status, stdout: r.stdout, records: normalise(lines.map((l) => JSON.parse(l) as Record<string, unknown>)) };
}

/** Drop what differs between any two runs: time, thread ids; time-valued and random registers. Sorted (threads). */
function normalise(records: Record<string, unknown>[]): string[] {
  const cookies = new Set<string>();
  for (const r of records) {
    const out = r["regsOut"] as Record<string, string>;
    if (r["command"] === 30 && r["subcommand"] === 0) for (const k of ["rsi", "rdi"]) cookies.add(out[k]!.slice(-8));
  }
  return records
    .map((r) => {
      const { timeNs: _t, vcpu: _v, ...rest } = r;
      const timeValued = r["op"] === "rdpmc" || r["command"] === 7 || r["command"] === 46 || r["command"] === 47;
      const mask = (regs: Record<string, string>) =>
        Object.fromEntries(Object.entries(regs).map(([k, v]) => [k, cookies.has(v.slice(-8)) ? `${v.slice(0, -8)}<cookie>` : v]));
      return JSON.stringify({
        ...rest,
        regsIn: mask(r["regsIn"] as Record<string, string>),
        regsOut: timeValued ? "time" : mask(r["regsOut"] as Record<string, string>),
      });
    })
    .sort();
}

for (const [arch, bin, skip] of [
  ["x86-64", () => probe64, skip64],
  ["i386", () => probe32, skip32],
] as const) {
  test(`${arch}: the native step and the JavaScript step give the same results on every probe case`, { skip }, () => {
    CASES.forEach((args, n) => {
      const js = runWith(false, bin()!, args, n);
      const native = runWith(true, bin()!, args, n);
      const what = `${arch} ${args.join(" ")}`;
      assert.equal(native.status, js.status, `${what}: exit status`);
      assert.equal(native.stdout, js.stdout, `${what}: output`);
      assert.deepEqual(native.records, js.records, `${what}: trace records`);
      if (args[0] !== "exit" && args[0] !== "abort") assert.ok(js.records.length > 0, `${what}: no backdoor access recorded`);
    });
  });
}

test("the native step is what runs by default, one call per stop; VMPORT_NATIVE_STEP=0 selects the JavaScript step", {
  skip: skip64,
}, async () => {
  const run = () =>
    runTraced({
      argv: [probe64!, "loop", "500"],
      env: ["PATH=/usr/bin:/bin"],
      profile: {},
      state: null,
      guestinfo: [],
      tclo: [],
      tracePath: null,
      pinCpu: null,
      seccomp: true,
    });
  const saved = process.env["VMPORT_NATIVE_STEP"];
  try {
    delete process.env["VMPORT_NATIVE_STEP"];
    const native = await run();
    assert.equal(native.result.traps, 500);
    assert.ok(native.counters["nativeSteps"]! >= 500, `native steps ${native.counters["nativeSteps"]}`);
    assert.ok(native.counters["nativeSteps"]! < 500 + 100, "more than one native call per trap");
    process.env["VMPORT_NATIVE_STEP"] = "0";
    const js = await run();
    assert.equal(js.result.traps, 500);
    assert.equal(js.counters["nativeSteps"], 0);
  } finally {
    if (saved === undefined) delete process.env["VMPORT_NATIVE_STEP"];
    else process.env["VMPORT_NATIVE_STEP"] = saved;
  }
});

test("the routine: only wait4, ptrace and process_vm_readv; a SIGSEGV stop is the one fast path", () => {
  const listing = stepProgram(true)
    .listing()
    .map((l) => l.text);
  // System call numbers are loaded into EAX right before each syscall.
  const sys = listing.flatMap((t, i) =>
    t === "syscall"
      ? [
          listing
            .slice(0, i)
            .reverse()
            .find((x) => x.startsWith("mov eax,"))!,
        ]
      : [],
  );
  assert.deepEqual([...new Set(sys)].sort(), ["mov eax,136h", "mov eax,3Dh", "mov eax,65h"]); // process_vm_readv 310, wait4 61, ptrace 101
  assert.ok(listing.includes(`cmp dword ptr [rbx+${hexText(STEP.STATUS)}],0B7Fh`), "classifies on the SIGSEGV stop status");
  assert.ok(listing.includes(`mov eax,${STEP_KIND.TRAP}`));
  assert.ok(
    !stepProgram(false)
      .listing()
      .some((l) => l.text === "rdtscp"),
    "no RDTSCP where the CPU has none",
  );
});
