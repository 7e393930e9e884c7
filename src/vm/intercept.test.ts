/**
 * The intercept as its own unit: `step` fetches and decodes the instruction once even when the access is denied
 * and takes the #GP path, and gives the same result, registers and counters as the #GP exit itself.
 */
import { test } from "node:test";
import assert from "node:assert/strict";
import { Outcome } from "./exit-result.js";
import { Intercept } from "./intercept.js";
import { MAGIC, regValue, setup, vmWith } from "../test-support/harness.js";
import type { GuestMemory } from "../x86/guest-memory.js";

/** Count the guest-memory reads `mem` serves. */
function counting(mem: GuestMemory): { reads: () => number } {
  let n = 0;
  const read = mem.read.bind(mem);
  mem.read = (...args: Parameters<GuestMemory["read"]>) => {
    n++;
    return read(...args);
  };
  return { reads: () => n };
}

test("step on a denied IN (ring 3, IOPL 0) reads the instruction once and answers as the #GP exit does", () => {
  // ed = in eax,dx; GETVERSION from ring 3.
  const viaStep = setup("ed", { rax: MAGIC, rcx: 10n, rdx: 0x5658n }, { cpl: 3 });
  const viaGp = setup("ed", { rax: MAGIC, rcx: 10n, rdx: 0x5658n }, { cpl: 3 });
  const stepVm = vmWith();
  const gpVm = vmWith();
  const fetches = counting(viaStep.mem);
  const r = stepVm.step(viaStep.cpu, viaStep.mem);
  assert.equal(r.outcome, Outcome.COMPLETED);
  assert.equal(fetches.reads(), 1, "the instruction bytes are read once");
  assert.equal(gpVm.handleGp(viaGp.cpu, viaGp.mem).outcome, Outcome.COMPLETED);
  for (const reg of ["rax", "rbx", "rcx", "rdx", "rip"] as const)
    assert.equal(regValue(viaStep.cpu.regs, reg), regValue(viaGp.cpu.regs, reg), reg);
  assert.deepEqual(stepVm.interceptCounters, gpVm.interceptCounters);
  assert.equal(stepVm.interceptCounters.gpExits, 1);
});

test("step on a denied access to another port reflects #GP after one fetch; with the backdoor off nothing stays decoded", () => {
  const { cpu, mem } = setup("ed", { rdx: 0x60n }, { cpl: 3 });
  const vm = vmWith();
  const fetches = counting(mem);
  const before = [...cpu.regs.words];
  assert.equal(vm.step(cpu, mem).outcome, Outcome.FAULT);
  assert.equal(fetches.reads(), 1);
  assert.deepEqual([...cpu.regs.words], before);
  const off = vmWith({ backdoor: false });
  const s = setup("ed", { rax: MAGIC, rdx: 0x5658n }, { cpl: 3 });
  const r = off.step(s.cpu, s.mem);
  assert.equal(r.outcome, Outcome.FAULT);
  assert.equal(r.length, 0, "an undecoded exit reports no instruction");
  assert.equal(off.intercept.insn.length, 0);
});

test("the intercept runs on any host that provides the parts (no VirtualMachine needed)", () => {
  const vm = vmWith();
  const own = new Intercept({
    profile: vm.profile,
    clock: vm.clock,
    bus: vm.bus,
    backdoor: vm.backdoor,
    startMonotonicNs: 0n,
    nested: null,
  });
  const { cpu, mem } = setup("ed", { rax: MAGIC, rcx: 10n, rdx: 0x5658n }, { cpl: 3 });
  assert.equal(own.handleGp(cpu, mem).outcome, Outcome.COMPLETED);
  assert.equal(regValue(cpu.regs, "rax"), 6n);
  assert.equal(own.counters.gpExits, 1);
  assert.equal(vm.interceptCounters.gpExits, 0, "counters belong to the intercept that ran");
});
