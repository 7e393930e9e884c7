/** vCPU state: linear IP per mode, segment bases in 64-bit mode, forced CPL, flags. */
import { test } from "node:test";
import assert from "node:assert/strict";
import { CpuMode, defaultAddressSize, defaultOperandSize, overriddenAddressSize } from "./cpu-mode.js";
import { CpuState, Seg } from "./cpu-state.js";
import { regsOf } from "../test-support/harness.js";

test("linear IP: CS base + IP (16-bit wraps), + EIP, or RIP alone in 64-bit mode", () => {
  const bases = [0, 0x20000, 0, 0, 0, 0];
  assert.equal(new CpuState({ mode: CpuMode.REAL, segBase: bases, regs: regsOf({ rip: 0x1_0010n }) }).linearIp(), 0x20010);
  assert.equal(new CpuState({ mode: CpuMode.PROTECTED32, segBase: bases, regs: regsOf({ rip: 0x1_0010n }) }).linearIp(), 0x30010);
  assert.equal(new CpuState({ mode: CpuMode.LONG64, segBase: bases, regs: regsOf({ rip: 0x7fff_0000_1000n }) }).linearIp(), 0x7fff00001000);
});

test("64-bit mode: only FS and GS have a base", () => {
  const cpu = new CpuState({ mode: CpuMode.LONG64, segBase: [1, 2, 3, 4, 5, 6] });
  assert.deepEqual([Seg.ES, Seg.CS, Seg.SS, Seg.DS, Seg.FS, Seg.GS].map((s) => cpu.effectiveBase(s)), [0, 0, 0, 0, 5, 6]);
  const c32 = new CpuState({ mode: CpuMode.COMPAT32, segBase: [1, 2, 3, 4, 5, 6] });
  assert.equal(c32.effectiveBase(Seg.DS), 4);
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
