/** vCPU state: linear IP per mode, segment bases in 64-bit mode, forced CPL, flags. */
import { test } from "node:test";
import assert from "node:assert/strict";
import { CpuMode, defaultAddressSize, defaultOperandSize, overriddenAddressSize } from "./cpu-mode.js";
import { CpuState, Seg } from "./cpu-state.js";
import { AddressSpace, blockUsable } from "./linear-address.js";
import { regsOf } from "../test-support/harness.js";

test("linear IP: CS base + IP (16-bit wraps), + EIP, or RIP alone in 64-bit mode", () => {
  const bases = [0, 0x20000, 0, 0, 0, 0];
  assert.equal(new CpuState({ mode: CpuMode.REAL, segBase: bases, regs: regsOf({ rip: 0x1_0010n }) }).linearIp(), 0x20010n);
  assert.equal(new CpuState({ mode: CpuMode.PROTECTED32, segBase: bases, regs: regsOf({ rip: 0x1_0010n }) }).linearIp(), 0x30010n);
  assert.equal(
    new CpuState({ mode: CpuMode.LONG64, segBase: bases, regs: regsOf({ rip: 0x7fff_0000_1000n }) }).linearIp(),
    0x7fff00001000n,
  );
});

test("64-bit mode: only FS and GS have a base", () => {
  const cpu = new CpuState({ mode: CpuMode.LONG64, segBase: [1, 2, 3, 4, 5, 6] });
  assert.deepEqual(
    [Seg.ES, Seg.CS, Seg.SS, Seg.DS, Seg.FS, Seg.GS].map((s) => cpu.effectiveBase(s)),
    [0n, 0n, 0n, 0n, 5n, 6n],
  );
  const c32 = new CpuState({ mode: CpuMode.COMPAT32, segBase: [1, 2, 3, 4, 5, 6] });
  assert.equal(c32.effectiveBase(Seg.DS), 4n);
});

test("real mode runs at CPL 0, vm86 at CPL 3 with RFLAGS.VM set; IOPL and DF come from RFLAGS", () => {
  assert.equal(new CpuState({ mode: CpuMode.REAL, cpl: 3 }).cpl, 0);
  const v = new CpuState({ mode: CpuMode.VM86, cpl: 0 });
  assert.equal(v.cpl, 3);
  assert.equal(v.regs.lo(17) & (1 << 17), 1 << 17);
  const f = new CpuState({ regs: regsOf({ rflags: 0x3402n }) });
  assert.equal(f.iopl, 3);
  assert.equal(f.df, true);
});

test("default sizes per mode", () => {
  assert.deepEqual([CpuMode.REAL, CpuMode.PROTECTED32, CpuMode.LONG64].map(defaultOperandSize), [2, 4, 4]);
  assert.deepEqual([CpuMode.VM86, CpuMode.COMPAT32, CpuMode.LONG64].map(defaultAddressSize), [2, 4, 8]);
  assert.deepEqual([CpuMode.PROTECTED16, CpuMode.PROTECTED32, CpuMode.LONG64].map(overriddenAddressSize), [4, 2, 4]);
});

test("addresses above 2^53 are exact: RIP, segment bases (bigint in, bigint out), LA57", () => {
  const cpu = new CpuState({
    mode: CpuMode.LONG64,
    regs: regsOf({ rip: 0xffff_ffff_8000_1001n }),
    segBase: [0, 0, 0, 0, 0xffff_8880_0000_0001n, -1],
  });
  assert.equal(cpu.linearIp(), 0xffff_ffff_8000_1001n);
  assert.deepEqual([cpu.linearIpLo(), cpu.linearIpHi()], [0x8000_1001, 0xffff_ffff]);
  assert.equal(cpu.effectiveBase(Seg.FS), 0xffff_8880_0000_0001n);
  assert.equal(cpu.effectiveBase(Seg.GS), 0xffff_ffff_ffff_ffffn); // -1 is 2^64 − 1
  assert.equal(cpu.addressSpace(), AddressSpace.CANONICAL48);
  assert.equal(new CpuState({ la57: true }).addressSpace(), AddressSpace.CANONICAL57);
  assert.equal(new CpuState({ mode: CpuMode.COMPAT32, la57: true }).addressSpace(), AddressSpace.FLAT32);
  assert.throws(() => new CpuState({ segBase: [2 ** 60] }), RangeError, "an inexact number is refused");
  // Outside 64-bit mode linear addresses are 32 bits: CS.base + EIP wraps at 2^32; only the base's low half counts.
  const p = new CpuState({ mode: CpuMode.PROTECTED32, segBase: [0, 0x1_f000_0000n, 0, 0, 0, 0], regs: regsOf({ rip: 0x2000_0010n }) });
  assert.equal(p.linearIp(), 0x1000_0010n);
  assert.equal(p.clone().linearIp(), 0x1000_0010n);
});

test("canonical blocks: bits 63…47 (or 63…56 with LA57) all equal", () => {
  assert.equal(blockUsable(0x0000_7fff, AddressSpace.CANONICAL48), true);
  assert.equal(blockUsable(0x0000_8000, AddressSpace.CANONICAL48), false);
  assert.equal(blockUsable(0xffff_7fff, AddressSpace.CANONICAL48), false);
  assert.equal(blockUsable(0xffff_8000, AddressSpace.CANONICAL48), true);
  assert.equal(blockUsable(0x00ff_ffff, AddressSpace.CANONICAL57), true);
  assert.equal(blockUsable(0x0100_0000, AddressSpace.CANONICAL57), false);
  assert.equal(blockUsable(0xff00_0000, AddressSpace.CANONICAL57), true);
  assert.equal(blockUsable(0x1234_5678, AddressSpace.FLAT32), true);
});
