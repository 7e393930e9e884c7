/**
 * Nested virtualization at the intercept (`docs/nested.md`; KVM's `nested_vmx_reflect_vmexit` rule): when the guest is an
 * L2 guest whose L1 hypervisor intercepts #GP, every #GP is a nested exit — nothing decoded, nothing emulated, no
 * register changed, counted; otherwise behaviour is exactly today's. Byte fixtures with their mnemonics.
 */
import { test } from "node:test";
import assert from "node:assert/strict";
import { isVmportError } from "../core/errors.js";
import { Fault, Outcome } from "./exit-result.js";
import { GpLevel, L1_INTERCEPTS_GP } from "./nested.js";
import type { TraceRecord } from "./trace.js";
import { VirtualMachine } from "./virtual-machine.js";
import { MAGIC, regValue, setup, vmWith } from "../test-support/harness.js";
import { VirtualClock } from "../core/clock.js";

const L1_GP = { exceptionBitmap: L1_INTERCEPTS_GP };
const UD_BIT = 1 << 6;
const PF_BIT = 1 << 14;
const nestedVm = (exceptionBitmap = L1_INTERCEPTS_GP) => new VirtualMachine({ clock: new VirtualClock(), nested: { exceptionBitmap } });
const GETVERSION = { rax: MAGIC, rcx: 10n, rdx: 0x5658n, rbx: 0xdeadbeefn };

test("backdoor IN at CPL 3 (ed: in eax,dx) with the L1 intercept: a nested exit, nothing fetched, no register changed", () => {
  const vm = nestedVm();
  const { cpu, mem } = setup("ed", GETVERSION);
  const before = cpu.regs.clone();
  const res = vm.handleGp(cpu, mem, { errorCode: 0 });
  assert.equal(res.outcome, Outcome.NESTED_EXIT);
  assert.equal(res.fault, Fault.GP);
  assert.equal(res.errorCode, 0);
  assert.equal(res.gpLevel, GpLevel.L1);
  assert.ok(cpu.regs.equals(before), "registers and RIP unchanged");
  assert.equal(mem.readCalls, 0, "nothing was fetched or decoded");
  assert.deepEqual(
    [vm.interceptCounters.gpExits, vm.interceptCounters.nestedExits, vm.interceptCounters.emulated, vm.interceptCounters.reflectedGp],
    [1, 1, 0, 0],
  );
  assert.equal(vm.backdoor!.counters.commands, 0, "the backdoor never saw it");
  // A segment-related #GP (non-zero error code) goes to L1 with its error code.
  const seg = setup("ed", GETVERSION);
  assert.equal(vm.handleGp(seg.cpu, seg.mem, { errorCode: 0x18 }).errorCode, 0x18);
  assert.equal(vm.interceptCounters.nestedExits, 2);
});

test("the same access without the L1 intercept is today's: L0 emulates GETVERSION (nested or not)", () => {
  for (const vm of [vmWith(), nestedVm(0), nestedVm(UD_BIT | PF_BIT)]) {
    const { cpu, mem } = setup("ed", GETVERSION);
    const res = vm.handleGp(cpu, mem);
    assert.equal(res.outcome, Outcome.COMPLETED);
    assert.equal(res.gpLevel, GpLevel.L0);
    assert.equal(regValue(cpu.regs, "rbx"), MAGIC);
    assert.equal(regValue(cpu.regs, "rip"), 0x1001n);
    assert.equal(vm.interceptCounters.nestedExits, 0);
  }
});

test("a non-backdoor port (ec: in al,dx to 0x80) at CPL 3: nested exit with the intercept, a reflected #GP without", () => {
  const r = setup("ec", { rdx: 0x80n });
  const with1 = nestedVm().handleGp(r.cpu, r.mem);
  assert.deepEqual([with1.outcome, with1.fault, with1.gpLevel], [Outcome.NESTED_EXIT, Fault.GP, GpLevel.L1]);
  const r2 = setup("ec", { rdx: 0x80n });
  const without = nestedVm(0).handleGp(r2.cpu, r2.mem);
  assert.deepEqual([without.outcome, without.fault, without.gpLevel, without.port], [Outcome.FAULT, Fault.GP, GpLevel.L0, 0x80]);
});

test("an allowed access raises no #GP, so there is no nested exit: CPL 0, IOPL 3, a TSS bitmap that allows the port", () => {
  const bm = new Uint8Array(0x2000).fill(0xff);
  bm[0x5658 >>> 3] = 0;
  for (const [cpuInit, regs] of [
    [{ cpl: 0 }, {}],
    [{}, { rflags: 0x3002n }],
    [{ ioBitmap: bm }, {}],
  ] as const) {
    const vm = nestedVm();
    const { cpu, mem } = setup("ed", { ...GETVERSION, ...regs }, cpuInit);
    const res = vm.step(cpu, mem);
    assert.equal(res.outcome, Outcome.COMPLETED, JSON.stringify(cpuInit));
    assert.equal(res.gpLevel, GpLevel.NONE);
    assert.equal(regValue(cpu.regs, "rbx"), MAGIC);
    assert.deepEqual([vm.interceptCounters.gpExits, vm.interceptCounters.nestedExits], [0, 0]);
  }
  // The same access denied (CPL 3, IOPL 0): #GP, which L1 takes.
  const vm = nestedVm();
  const { cpu, mem } = setup("ed", GETVERSION);
  assert.equal(vm.step(cpu, mem).outcome, Outcome.NESTED_EXIT);
  assert.equal(regValue(cpu.regs, "rip"), 0x1000n);
});

test("RDPMC pseudo-counters (0f 33) #GP only when not permitted: CPL 3 without CR4.PCE exits to L1, CPL 0 or PCE reads", () => {
  const denied = setup("0f 33", { rcx: 0x10000n });
  const before = denied.cpu.regs.clone();
  const vm = nestedVm();
  assert.equal(vm.step(denied.cpu, denied.mem).outcome, Outcome.NESTED_EXIT);
  assert.ok(denied.cpu.regs.equals(before));
  assert.equal(vm.interceptCounters.pseudoPmcReads, 0);
  for (const cpuInit of [{ cpl: 0 }, { cr4Pce: true }]) {
    const ok = setup("0f 33", { rcx: 0x10001n }, cpuInit);
    const res = vm.step(ok.cpu, ok.mem);
    assert.equal(res.outcome, Outcome.COMPLETED, JSON.stringify(cpuInit));
    assert.equal(res.gpLevel, GpLevel.NONE);
    assert.equal(regValue(ok.cpu.regs, "rip"), 0x1002n);
  }
  // Without the intercept the denied read is L0's: the #GP is intercepted and the pseudo-counter emulated.
  const l0 = setup("0f 33", { rcx: 0x10000n });
  const res = nestedVm(0).step(l0.cpu, l0.mem);
  assert.deepEqual([res.outcome, res.gpLevel], [Outcome.COMPLETED, GpLevel.L0]);
  // A counter the model does not have, at CPL 0: #GP, so L1 takes it.
  const none = setup("0f 33", { rcx: 0n }, { cpl: 0 });
  assert.equal(nestedVm().step(none.cpu, none.mem).outcome, Outcome.NESTED_EXIT);
});

test("exceptions L0 raises after handling a #GP are routed by L1's bitmap too: #UD (f0 ed: lock in), #PF (fetch)", () => {
  const lock = setup("f0 ed", GETVERSION);
  const ud = nestedVm(UD_BIT).handleGp(lock.cpu, lock.mem);
  assert.deepEqual([ud.outcome, ud.fault, ud.gpLevel], [Outcome.NESTED_EXIT, Fault.UD, GpLevel.L0]);
  const lock0 = setup("f0 ed", GETVERSION);
  assert.equal(nestedVm(PF_BIT).handleGp(lock0.cpu, lock0.mem).outcome, Outcome.FAULT);
  // 66 at the last byte of a page, the next page absent: the fetch #PF goes to L1 with its address.
  const { cpu, mem } = setup("", { ...GETVERSION, rip: 0x1fffn });
  mem.load(0x1fff, Uint8Array.of(0x66));
  const pf = nestedVm(PF_BIT).handleGp(cpu, mem);
  assert.deepEqual([pf.outcome, pf.fault, pf.faultAddress, pf.errorCode], [Outcome.NESTED_EXIT, Fault.PF, 0x2000n, 0x14]);
});

test("the exit can say it came from L2 (GpExitInfo.nested) whatever the VM default; bad options are refused", () => {
  const vm = vmWith();
  const a = setup("ed", GETVERSION);
  assert.equal(vm.handleGp(a.cpu, a.mem, { nested: L1_GP }).outcome, Outcome.NESTED_EXIT);
  const b = setup("ed", GETVERSION);
  assert.equal(nestedVm().handleGp(b.cpu, b.mem, { nested: null }).outcome, Outcome.COMPLETED, "this exit came from L1");
  vm.nested = L1_GP; // L1 entered L2
  const c = setup("ed", GETVERSION);
  assert.equal(vm.handleGp(c.cpu, c.mem).outcome, Outcome.NESTED_EXIT);
  for (const bad of [{ exceptionBitmap: -1 }, { exceptionBitmap: 2 ** 32 }, { exceptionBitmap: 1.5 }, {}]) {
    assert.throws(
      () => new VirtualMachine({ nested: bad as { exceptionBitmap: number } }),
      (e: unknown) => isVmportError(e) && e.code === "VMPORT_BAD_ARGUMENT" && /nested\.exceptionBitmap/.test(e.message),
    );
  }
});

test("trace records say which level took each #GP", () => {
  const vm = nestedVm(0);
  const recs: TraceRecord[] = [];
  vm.trace.on((a) => void recs.push(a.toRecord()));
  const emulated = setup("ed", GETVERSION);
  vm.handleGp(emulated.cpu, emulated.mem);
  vm.nested = L1_GP;
  const toL1 = setup("66 ed", GETVERSION);
  vm.handleGp(toL1.cpu, toL1.mem);
  const allowed = setup("ed", GETVERSION, { cpl: 0 });
  vm.step(allowed.cpu, allowed.mem);
  assert.deepEqual(
    recs.map((r) => [r.via, r.outcome, r.fault, r.gpHandledBy]),
    [
      ["gp", "completed", null, "L0"],
      ["gp", "nested-exit", "GP", "L1"],
      ["step", "completed", null, null],
    ],
  );
  assert.equal(recs[1]!.bytes, "", "a nested exit decodes nothing (no stale bytes from the exit before)");
  assert.equal(recs[1]!.op, null);
  assert.deepEqual(recs[1]!.regsOut, recs[1]!.regsIn);
});
