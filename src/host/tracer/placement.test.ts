/**
 * CPU placement as the traced program sees it (`placement.ts`, `docs/tracer.md` §8), and a guest that is
 * multi-threaded, forks and is signal-heavy at once, under the default placement (x86-64 and i386).
 * The probe prints its own affinity mask (`testdata/probe.c`, mode `affinity`): after backdoor calls the program
 * runs on one CPU (the tracer's), a child it forks gets every CPU back, and a thread that set its own affinity keeps
 * it. With `VMPORT_PLACEMENT=none` nothing is changed.
 */
import { test } from "node:test";
import assert from "node:assert/strict";
import { spawnSync } from "node:child_process";
import { join } from "node:path";
import { buildC, needs, ptraceUsable, ROOT, runs } from "../../test-support/system.js";

const skip64 = needs("gcc", "gcc", () => runs("gcc")) || (ptraceUsable() ? false : "needs Linux on x86-64");
const probe64 = skip64 ? null : buildC("src/host/tracer/testdata/probe.c", "probe64");
const skip32 =
  skip64 ||
  needs(
    "gcc-multilib",
    "gcc-multilib",
    () => buildC("src/host/tracer/testdata/probe.c", "probe-check", ["-m32", "-fno-pie", "-no-pie"]) !== null,
  );
const probe32 = skip32 ? null : buildC("src/host/tracer/testdata/probe.c", "probe32", ["-m32", "-fno-pie", "-no-pie"]);

function run(args: string[], env: NodeJS.ProcessEnv = {}) {
  const r = spawnSync(process.execPath, ["--import", "tsx", join(ROOT, "src/cli/main.ts"), "run", ...args], {
    encoding: "utf8",
    timeout: 120_000,
    env: { ...process.env, ...env },
  });
  return { status: r.status, stdout: r.stdout, stderr: r.stderr };
}

/** The numbers the `affinity` mode printed. */
function affinity(stdout: string): { start: number; parent: number; child: number; own: string } {
  const num = (re: RegExp) => Number(re.exec(stdout)?.[1] ?? NaN);
  return {
    start: num(/^start_cpus=(\d+)$/m),
    parent: num(/^parent ok=200 cpus=(\d+)$/m),
    child: num(/^child cpus=(\d+)$/m),
    own: /^own ok=1 cpus=1 cpu_kept=(\d)$/m.exec(stdout)?.[1] ?? "missing",
  };
}

test("default placement: a program that traps runs on one CPU, its forked child gets every CPU, a thread's own affinity is kept", {
  skip: skip64,
}, () => {
  const r = run(["--", probe64!, "affinity"]);
  assert.equal(r.status, 0, r.stderr);
  const a = affinity(r.stdout);
  assert.ok(a.start >= 1, r.stdout);
  assert.equal(a.parent, 1, "after its backdoor calls the program follows the tracer's CPU");
  assert.equal(a.child, a.start, "a child does not inherit the CPU vmport chose for its parent");
  assert.equal(a.own, "1", "the thread still has the CPU it chose itself");
});

test("VMPORT_PLACEMENT=none changes no mask; --pin puts everything on the CPU given", { skip: skip64 }, () => {
  const none = affinity(run(["--", probe64!, "affinity"], { VMPORT_PLACEMENT: "none" }).stdout);
  assert.equal(none.parent, none.start);
  assert.equal(none.child, none.start);
  assert.equal(none.own, "1");
  const pinned = affinity(run(["--pin", "0", "--", probe64!, "affinity"]).stdout);
  assert.deepEqual([pinned.start, pinned.parent, pinned.child, pinned.own], [1, 1, 1, "1"]);
});

for (const [arch, bin, skip] of [
  ["x86-64", () => probe64, skip64],
  ["i386", () => probe32, skip32],
] as const) {
  test(`${arch}: a multi-threaded, forking, signal-heavy guest passes under the default placement`, { skip }, () => {
    const n = 3000;
    const r = run(["--", bin()!, "stress", String(n)]);
    assert.equal(r.status, 0, r.stderr);
    // 4 threads × n calls all emulated, both children's n calls too; every kind of signal arrived.
    assert.match(r.stdout, new RegExp(`^stress ok=${4 * n} kids_ok=2 usr1=1 alrm=1 chld=1$`, "m"));
  });
}
