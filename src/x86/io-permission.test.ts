/** The I/O permission rule: IOPL, the TSS bitmap, vm86 and real mode; RDPMC privilege. */
import { test } from "node:test";
import assert from "node:assert/strict";
import { CpuMode } from "./cpu-mode.js";
import { CpuState } from "./cpu-state.js";
import { bitmapAllows, ioAllowed, rdpmcAllowed } from "./io-permission.js";
import { regsOf } from "../test-support/harness.js";

const iopl = (n: number) => regsOf({ rflags: BigInt(2 | (n << 12)) });

test("protected mode: CPL ≤ IOPL allows every port", () => {
  assert.equal(ioAllowed(new CpuState({ mode: CpuMode.LONG64, cpl: 3, regs: iopl(3) }), 0x5658, 4), true);
  assert.equal(ioAllowed(new CpuState({ mode: CpuMode.PROTECTED32, cpl: 0 }), 0x5658, 4), true);
  assert.equal(ioAllowed(new CpuState({ mode: CpuMode.LONG64, cpl: 3, regs: iopl(2) }), 0x5658, 4), false);
});

test("CPL > IOPL: the TSS bitmap decides, every byte of the access must be allowed", () => {
  const bm = new Uint8Array(0x2000).fill(0xff);
  bm[0x5658 >>> 3] = 0; // ports 0x5658..0x565f allowed
  const cpu = new CpuState({ mode: CpuMode.LONG64, cpl: 3, ioBitmap: bm });
  assert.equal(ioAllowed(cpu, 0x5658, 4), true);
  assert.equal(ioAllowed(cpu, 0x565e, 4), false); // 0x5660 is denied
  assert.equal(ioAllowed(cpu, 0x1234, 1), false);
  assert.equal(bitmapAllows(new Uint8Array(1), 8, 1), false); // beyond the bitmap: denied
  assert.equal(ioAllowed(new CpuState({ mode: CpuMode.LONG64, cpl: 3 }), 0x5658, 1), false); // no bitmap
});

test("vm86 ignores IOPL for I/O and uses only the bitmap; real mode is always allowed", () => {
  assert.equal(ioAllowed(new CpuState({ mode: CpuMode.VM86, regs: iopl(3) }), 0x5658, 4), false);
  assert.equal(ioAllowed(new CpuState({ mode: CpuMode.VM86, ioBitmap: new Uint8Array(0x2000) }), 0x5658, 4), true);
  assert.equal(ioAllowed(new CpuState({ mode: CpuMode.REAL }), 0x5658, 4), true);
});

test("RDPMC: CPL 0, real mode or CR4.PCE", () => {
  assert.equal(rdpmcAllowed(new CpuState({ cpl: 3 })), false);
  assert.equal(rdpmcAllowed(new CpuState({ cpl: 3, cr4Pce: true })), true);
  assert.equal(rdpmcAllowed(new CpuState({ cpl: 0 })), true);
  assert.equal(rdpmcAllowed(new CpuState({ mode: CpuMode.REAL })), true);
});
