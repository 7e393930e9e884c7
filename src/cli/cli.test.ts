/** The `vmport decode` and `vmport step` commands as a user runs them: JSON out, one `vmport:` line on misuse. */
import { test } from "node:test";
import assert from "node:assert/strict";
import { spawnSync } from "node:child_process";
import { join } from "node:path";

const MAIN = join(import.meta.dirname, "main.ts");

function vmport(args: string[], input?: string) {
  const r = spawnSync(process.execPath, ["--import", "tsx", MAIN, ...args], { encoding: "utf8", input: input ?? "" });
  return { status: r.status, stdout: r.stdout, stderr: r.stderr };
}

test("decode: one JSON object per instruction", () => {
  const r = vmport(["decode", "--mode", "64", "66 48 ed"]);
  assert.equal(r.status, 0, r.stderr);
  assert.deepEqual(JSON.parse(r.stdout), { op: "in", size: 4, length: 3, rep: false, port: "dx", fault: null });
  const imm = vmport(["decode", "--mode", "real", "e658"]);
  assert.deepEqual(JSON.parse(imm.stdout), { op: "out", size: 1, length: 2, rep: false, port: 0x58, fault: null });
});

test("decode -: one line in, one line out; bad lines become error objects and exit 1", () => {
  const r = vmport(["decode", "--mode", "32", "-"], "f3 6e\nf0 ed\n" + "66".repeat(15) + "ed\n40\nxyz\n");
  assert.equal(r.status, 1);
  const lines = r.stdout
    .trim()
    .split("\n")
    .map((l) => JSON.parse(l));
  assert.equal(lines.length, 5);
  assert.deepEqual(lines[0], { op: "outs", size: 1, length: 2, rep: true, port: "dx", fault: null });
  assert.equal(lines[1].fault, "UD");
  assert.deepEqual(lines[2], { op: null, size: null, length: null, rep: false, port: null, fault: "GP" });
  assert.equal(lines[3].op, null); // inc eax in 32-bit mode
  assert.match(lines[4].error, /not a string of hex byte pairs/);
});

test("step: GETVERSION from ring 3 through the intercept; registers as 64-bit hex", () => {
  const r = vmport([
    "step",
    "--mode",
    "64",
    "--reg",
    "rax=564d5868",
    "--reg",
    "rcx=a",
    "--reg",
    "rdx=5658",
    "--reg",
    "rbx=ffffffff00000000",
    "ed",
  ]);
  assert.equal(r.status, 0, r.stderr);
  const out = JSON.parse(r.stdout);
  assert.equal(out.outcome, "completed");
  assert.equal(out.fault, null);
  assert.equal(out.regs.rax, "0x0000000000000006");
  assert.equal(out.regs.rbx, "0xffffffff564d5868");
  assert.equal(out.regs.rcx, "0x0000000000000002");
  assert.equal(out.regs.rip, "0x0000000000001001");
});

test("step: another port faults; bytes past HEX are not present; IOPL 3 lets a port through", () => {
  const gp = JSON.parse(vmport(["step", "--mode", "32", "--reg", "rdx=80", "ec"]).stdout);
  assert.equal(gp.fault, "GP");
  assert.equal(gp.regs.rip, "0x0000000000001000");
  const pf = JSON.parse(vmport(["step", "--mode", "64", "66"]).stdout);
  assert.equal(pf.fault, "PF");
  assert.equal(pf.faultAddress, "0x0000000000001001");
  const ok = JSON.parse(vmport(["step", "--mode", "32", "--iopl", "3", "--reg", "rdx=80", "ec"]).stdout);
  assert.equal(ok.outcome, "completed");
  assert.equal(ok.regs.rax, "0x00000000000000ff"); // empty port
});

test("step: addresses above 2^53 are exact (RIP, --mem, RSI), non-canonical ones #GP, --la57 widens them", () => {
  const r = JSON.parse(vmport(["step", "--mode", "64", "--cpl", "0", "--reg", "rip=ffffffff80001001", "--reg", "rdx=80", "ec"]).stdout);
  assert.equal(r.outcome, "completed");
  assert.equal(r.regs.rip, "0xffffffff80001002");
  assert.equal(r.regs.rax, "0x00000000000000ff");
  const outs = [
    "step",
    "--mode",
    "64",
    "--cpl",
    "0",
    "--reg",
    "rdx=80",
    "--reg",
    "rcx=3",
    "--reg",
    "rsi=ff11000000000ffe",
    "--mem",
    "ff11000000000ffe=616263",
    "f3 6e",
  ];
  const gp = JSON.parse(vmport(outs).stdout);
  assert.equal(gp.fault, "GP"); // 0xff11… is not canonical with 48-bit addresses
  const ok = JSON.parse(vmport([...outs.slice(0, -1), "--la57", "f3 6e"]).stdout);
  assert.equal(ok.outcome, "completed");
  assert.equal(ok.regs.rsi, "0xff11000000001001");
  const pf = JSON.parse(vmport(["step", "--mode", "64", "--reg", "rip=fffffffffffffffe", "66 66"]).stdout);
  assert.equal(pf.fault, "PF");
  assert.equal(pf.faultAddress, "0x0000000000000000"); // the fetch wrapped past 2^64
});

test("step --l1-intercepts-gp: a #GP is a nested exit with every register as given; no #GP, no nested exit", () => {
  const regs = ["rax=564d5868", "rbx=ffffffff00000001", "rcx=a", "rdx=5658", "rsi=7", "rdi=8", "rbp=9", "rsp=a", "rip=2000", "rflags=202"];
  const args = regs.flatMap((r) => ["--reg", r]);
  const out = JSON.parse(vmport(["step", "--mode", "64", "--l1-intercepts-gp", ...args, "ed"]).stdout);
  assert.equal(out.outcome, "nested-exit");
  assert.equal(out.fault, "GP");
  for (const r of regs) {
    const [name, v] = r.split("=");
    assert.equal(out.regs[name!], "0x" + v!.padStart(16, "0"), name);
  }
  const plain = JSON.parse(vmport(["step", "--mode", "64", ...args, "ed"]).stdout);
  assert.equal(plain.outcome, "completed", "without the flag the backdoor answers");
  const allowed = JSON.parse(vmport(["step", "--mode", "64", "--l1-intercepts-gp", "--iopl", "3", "--reg", "rdx=80", "ec"]).stdout);
  assert.equal(allowed.outcome, "completed");
});

test("misuse: inherited object keys are not registers or commands, and the message names them", () => {
  for (const k of ["__proto__", "constructor", "toString"]) {
    assert.match(
      vmport(["step", "--mode", "64", "--reg", `${k}=1`, "ed"]).stderr,
      new RegExp(`^vmport: --reg "${k}=1": unknown register "${k.toLowerCase()}"`),
    );
    assert.match(
      vmport(["step", "--mode", "64", "--mem", `${k}=00`, "ed"]).stderr,
      new RegExp(`^vmport: --mem address: "${k}" is not a hex number`),
    );
    const g = vmport(["guest", k]);
    assert.equal(g.status, 2);
    assert.match(g.stderr, new RegExp(`^vmport: guest: unknown command "${k}"`));
  }
});

test("misuse: one vmport: line on stderr, exit 2", () => {
  for (const args of [
    ["decode", "--mode", "128", "ed"],
    ["decode", "--mode", "64", "e"],
    ["decode", "--mode", "64", "e4"],
    ["step", "--mode", "real", "--cpl", "3", "ed"],
    ["step", "--mode", "64", "--reg", "r99=1", "ed"],
    ["step", "--mode", "64", "--cpl", "7", "ed"],
    ["step", "--mode", "64", "90"],
    ["step", "--mode", "64", "--reg", "__proto__=1", "ed"],
    ["step", "--mode", "64", "--reg", "constructor=1", "ed"],
    ["step", "--mode", "64", "--reg", "toString=1", "ed"],
    ["step", "--mode", "64", "--mem", "__proto__=00", "ed"],
    ["step", "--mode", "64", "--mem", "constructor=00", "ed"],
    ["frobnicate"],
  ]) {
    const r = vmport(args);
    assert.equal(r.status, 2, args.join(" "));
    const lines = r.stderr.trim().split("\n");
    assert.equal(lines.length, 1, `${args.join(" ")}: ${r.stderr}`);
    assert.match(lines[0]!, /^vmport: /);
    assert.equal(r.stdout, "");
  }
});
