/**
 * `vmport run` against our own ring-3 C program (`testdata/probe.c`), x86-64 and i386: every instruction form and
 * merge rule, non-backdoor ports still fault, threads, fork, the program's own signal handlers, exit statuses, an
 * instruction that straddles a page, LOCK and over-long instructions passed through as the CPU raised them, HB
 * message exchanges, `--state` across runs, `--trace`.
 */
import { test } from "node:test";
import assert from "node:assert/strict";
import { mkdtempSync, readFileSync, existsSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { buildC, needs, ptraceUsable, runs, vmport } from "../../test-support/system.js";
import { runTraced, type RunOptions, type RunOutcome } from "./run.js";

const gccSkip = needs("gcc", "gcc", () => runs("gcc"));
const ptraceSkip = ptraceUsable() ? false : "needs Linux on x86-64";
const skip64 = gccSkip || ptraceSkip;
const probe64 = skip64 ? null : buildC("src/host/tracer/testdata/probe.c", "probe64");
const skip32 =
  skip64 ||
  needs(
    "gcc-multilib",
    "gcc-multilib",
    () => buildC("src/host/tracer/testdata/probe.c", "probe-check", ["-m32", "-fno-pie", "-no-pie"]) !== null,
  );
const probe32 = skip32 ? null : buildC("src/host/tracer/testdata/probe.c", "probe32", ["-m32", "-fno-pie", "-no-pie"]);

/** Run in-process through the tracer worker with default options. */
function traced(o: Pick<RunOptions, "argv" | "onStarted">): Promise<RunOutcome> {
  return runTraced({
    env: ["PATH=/usr/bin:/bin"],
    profile: {},
    state: null,
    guestinfo: [],
    tclo: [],
    tracePath: null,
    pinCpu: null,
    seccomp: true,
    ...o,
  });
}

const SIGILL = 4;
const SIGSEGV = 11;

for (const [arch, bin, skip] of [
  ["x86-64", () => probe64, skip64],
  ["i386", () => probe32, skip32],
] as const) {
  const run = (...args: string[]) => vmport(["run", "--", bin()!, ...args]);

  test(`${arch}: instruction forms and register merge rules`, { skip }, () => {
    const r = run("forms");
    assert.equal(r.status, 0, r.stderr);
    assert.match(r.stdout, /^in32 eax=6 ebx=564d5868 ecx=2$/m);
    assert.match(r.stdout, /^in16 eax=564d0006 ebx=564d5868$/m); // AX merged, upper EAX kept
    assert.match(r.stdout, /^in8 eax=564d5806 ebx=564d5868$/m); // AL merged
    assert.match(r.stdout, /^out32 eax=564d5868 ebx=564d5868 ecx=2$/m); // OUT keeps EAX, runs the command
    if (arch === "x86-64") assert.match(r.stdout, /^upper rax=6 rbx=bbbbbbbb564d5868 rcx=cccccccc00000002$/m);
    assert.match(r.stdout, /^out8 eax=564d5868 ebx=564d5868$/m);
    assert.match(r.stdout, /^out16 eax=564d5868 ebx=564d5868$/m);
    assert.match(r.stdout, /^rdpmc elapsed_ok=1$/m); // pseudo-counter at ring 3
    assert.match(r.stdout, /^badmagic eax=ffffffff ebx=5$/m);
    assert.match(r.stdout, /^timefull eax=564d5868 secs_ok=1$/m);
  });

  test(`${arch}: other ports still fault into the program's own handler`, { skip }, () => {
    const r = run("nonbackdoor");
    assert.equal(r.status, 0, r.stderr);
    assert.match(r.stdout, new RegExp(`^port80 sig=${SIGSEGV}$`, "m"));
    assert.match(r.stdout, new RegExp(`^port1234 sig=${SIGSEGV}$`, "m"));
  });

  test(`${arch}: iopl/ioperm succeed without granting access; AF_VSOCK is refused; other RDPMC counters fault`, { skip }, () => {
    const r = run("syscalls");
    // i386 glibc may create sockets through socketcall(2), whose address family a seccomp filter cannot read:
    // there the kernel's own answer (ENODEV on this machine kind) stands.
    assert.match(
      r.stdout,
      arch === "x86-64"
        ? /^iopl=0 ioperm=0 getversion=6 vsock=-1 errno=97 inet_ok=1$/m
        : /^iopl=0 ioperm=0 getversion=6 vsock=-1 errno=(97|19) inet_ok=1$/m,
    );
    assert.match(r.stdout, new RegExp(`^port80 still faults sig=${SIGSEGV}$`, "m"));
    assert.match(run("rdpmcbad").stdout, new RegExp(`^rdpmc0xfff sig=${SIGSEGV}$`, "m"));
  });

  test(`${arch}: LOCK raises SIGILL (#UD), a 16-byte instruction SIGSEGV (#GP), both reach the program`, { skip }, () => {
    const r = run("faults");
    assert.match(r.stdout, new RegExp(`^lock sig=${SIGILL}$`, "m"));
    assert.match(r.stdout, new RegExp(`^long sig=${SIGSEGV}$`, "m"));
  });

  test(`${arch}: an instruction straddling a page boundary is emulated`, { skip }, () => {
    assert.match(run("straddle").stdout, /^straddle eax=564d0006 ebx=564d5868$/m);
  });

  test(`${arch}: threads and fork: every trap in every thread and process is emulated`, { skip }, () => {
    assert.match(run("threads", "4", "2000").stdout, /^threads ok=8000$/m);
    assert.match(run("fork", "2000").stdout, /^fork parent=2000 child_exit=0$/m);
  });

  test(`${arch}: the program's own SIGSEGV handler still sees a NULL dereference; exit statuses pass through`, { skip }, () => {
    const h = run("handler");
    assert.equal(h.status, 42);
    assert.match(h.stdout, new RegExp(`^handler ok=1000 null_sig=${SIGSEGV}$`, "m"));
    assert.equal(run("exit", "5").status, 5);
    assert.equal(run("abort").status, 134); // 128 + SIGABRT
  });

  test(`${arch}: an RPCI exchange over HB (rep outsb / rep insb) reads --guestinfo`, { skip }, () => {
    const r = vmport(["run", "--guestinfo", "guestinfo.foo=bar", "--", bin()!, "hb", "info-get guestinfo.foo"]);
    assert.equal(r.status, 0, r.stdout + r.stderr);
    assert.match(r.stdout, /^reply \[1 bar\]$/m);
  });
}

test("CPUID: the program and a library dlopen'ed later both see VMwareVMware; cpuid:false shows the real host", {
  skip: skip64,
}, async () => {
  const { spawnSync } = await import("node:child_process");
  const { dirname: dn, join: j } = await import("node:path");
  const dir = dn(probe64!);
  const lib = j(dir, "libcpuid.so");
  const src = j(import.meta.dirname, "testdata");
  assert.equal(spawnSync("gcc", ["-shared", "-fPIC", "-O1", "-o", lib, j(src, "libcpuid.c")]).status, 0);
  const prog = j(dir, "dlopen-cpuid");
  assert.equal(spawnSync("gcc", ["-O1", "-o", prog, j(src, "dlopen-cpuid.c"), "-ldl"]).status, 0);
  assert.equal(vmport(["run", "--", prog, lib]).stdout.trim(), "hv=VMwareVMware");
  const f = j(dir, "nocpuid.json");
  (await import("node:fs")).writeFileSync(f, JSON.stringify({ cpuid: false }));
  assert.notEqual(vmport(["run", "--profile", f, "--", prog, lib]).stdout.trim(), "hv=VMwareVMware");
});

test("--state: a value set in one run is read back in the next", { skip: skip64 }, () => {
  const dir = mkdtempSync(join(tmpdir(), "vmport-state-"));
  const state = join(dir, "vm.json");
  const a = vmport(["run", "--state", state, "--", probe64!, "hb", "info-set guestinfo.fromguest hello"]);
  assert.equal(a.status, 0, a.stdout + a.stderr);
  assert.ok(existsSync(state));
  assert.equal(JSON.parse(readFileSync(state, "utf8")).guestinfo["guestinfo.fromguest"], "hello");
  const b = vmport(["run", "--state", state, "--", probe64!, "hb", "info-get guestinfo.fromguest"]);
  assert.match(b.stdout, /^reply \[1 hello\]$/m);
});

test("--trace writes one JSON line per backdoor access", { skip: skip64 }, () => {
  const dir = mkdtempSync(join(tmpdir(), "vmport-trace-"));
  const trace = join(dir, "t.jsonl");
  const r = vmport(["run", "--trace", trace, "--", probe64!, "loop", "3"]);
  assert.equal(r.status, 0, r.stderr);
  const lines = readFileSync(trace, "utf8")
    .trim()
    .split("\n")
    .map((l) => JSON.parse(l));
  assert.equal(lines.length, 3);
  assert.equal(lines[0].command, 10);
  assert.equal(lines[0].port, 0x5658);
  assert.equal(lines[0].outcome, "completed");
});

test("job control: a program that stops itself stays stopped until SIGCONT, then finishes", { skip: skip64 }, async () => {
  let resumedAt = 0;
  const t0 = Date.now();
  const out = await traced({
    argv: [probe64!, "stop"],
    onStarted: (pid) =>
      setTimeout(() => {
        resumedAt = Date.now();
        process.kill(pid, "SIGCONT");
      }, 800),
  });
  assert.equal(out.result.exitStatus, 0);
  assert.ok(resumedAt > 0 && resumedAt - t0 >= 700, "the program did not finish before it was continued");
  assert.ok((out.counters["groupStops"] ?? 0) >= 1);
});

test("SIGTERM to vmport ends the guest cleanly and reports its status", { skip: skip64 }, async () => {
  const { spawn } = await import("node:child_process");
  const { join: j } = await import("node:path");
  const child = spawn(
    process.execPath,
    ["--import", "tsx", j(import.meta.dirname, "../../cli/main.ts"), "run", "--", probe64!, "sleep", "30"],
    { stdio: "ignore" },
  );
  await new Promise((r) => setTimeout(r, 1500));
  const t0 = Date.now();
  child.kill("SIGTERM");
  const code = await new Promise<number | null>((r) => child.on("exit", (c) => r(c)));
  assert.equal(code, 143); // the guest died of the forwarded SIGTERM: 128 + 15
  assert.ok(Date.now() - t0 < 10_000);
});

test("usage errors: one vmport: line and exit 2", () => {
  for (const args of [
    ["run"],
    ["run", "--profile", "/nonexistent.json", "--", "true"],
    ["run", "--guestinfo", "novalue", "--", "true"],
    ["run", "--pin", "x", "--", "true"],
  ]) {
    const r = vmport(args);
    assert.equal(r.status, 2, args.join(" "));
    assert.match(r.stderr.trim(), /^vmport: [^\n]+$/);
  }
});

test("host-side changes reach the device model while the guest runs, with no trap pending (doorbell)", { skip: skip64 }, async () => {
  const out = await traced({
    // The guest makes no backdoor call for a second, then reads the key the host set meanwhile.
    argv: ["/bin/sh", "-c", `sleep 2; ${probe64!} hb "info-get guestinfo.late" | grep -q "reply \\[1 yes\\]"`],
    onStarted: (_pid, control) => setTimeout(() => control.setGuestinfo("late", "yes"), 200),
  });
  assert.equal(out.result.exitStatus, 0, "the guest read the value set while it slept");
  assert.equal(out.state.guestinfo["guestinfo.late"], "yes");
  assert.ok(out.result.traps > 0);
});
