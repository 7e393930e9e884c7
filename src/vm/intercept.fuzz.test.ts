/**
 * Fuzz: random instruction bytes, registers, CPU modes, privilege, memory layouts and profiles through the #GP
 * intercept and `step` — 100 000 cases per run. Every result must be a completed/partial step or a named fault
 * (#GP, #UD, #PF); a fault changes no register; nothing throws; the VM's host memory stays bounded. A share of the
 * cases runs as an L2 guest whose L1 hypervisor intercepts #GP (and sometimes #UD/#PF): then every #GP is a nested
 * exit that changes nothing and reads no memory, and no exception L1 intercepts ever reaches the guest.
 */
import { test } from "node:test";
import assert from "node:assert/strict";
import fc from "fast-check";
import { VirtualClock } from "../core/clock.js";
import { CpuMode } from "../x86/cpu-mode.js";
import { CpuState } from "../x86/cpu-state.js";
import { PAGE_SIZE, PagedMemory, type GuestMemory } from "../x86/guest-memory.js";
import { RegisterFile } from "../x86/registers.js";
import { Fault, Outcome } from "./exit-result.js";
import { L1_INTERCEPTS_GP } from "./nested.js";
import { STRING_IO_MAX_BYTES, VirtualMachine } from "./virtual-machine.js";
import type { VmProfileInput } from "../devices/profile.js";

const CASES = 100_000;
const MODES = [CpuMode.REAL, CpuMode.VM86, CpuMode.PROTECTED16, CpuMode.PROTECTED32, CpuMode.COMPAT16, CpuMode.COMPAT32, CpuMode.LONG64];
const INTERESTING_BYTES = [
  0x66, 0x67, 0xf2, 0xf3, 0xf0, 0x2e, 0x64, 0x65, 0x48, 0x41, 0xe4, 0xe5, 0xe6, 0xe7, 0xec, 0xed, 0xee, 0xef, 0x6c, 0x6d, 0x6e, 0x6f, 0x0f,
  0x33, 0x58, 0x59,
];
const MAGIC = 0x564d5868;

const u32 = fc.oneof(
  fc.constantFrom(0, MAGIC, 0xffffffff, 0x5658, 0x5659, 10, 30, 46, 0x10000, 0x10001, 0x10002),
  fc.nat({ max: 0xffffffff }),
);
const regArb = fc.tuple(u32, u32);
const profileArb: fc.Arbitrary<VmProfileInput> = fc.record(
  {
    backdoor: fc.boolean(),
    narrowAccess: fc.constantFrom("command" as const, "empty" as const),
    pseudoPmc: fc.boolean(),
    gethzCpl0Only: fc.boolean(),
    hwVersion: fc.option(fc.nat({ max: 30 })),
    tscHz: fc.integer({ min: 1, max: Number.MAX_SAFE_INTEGER }),
    timeOffsetSeconds: fc.integer({ min: -86400, max: 86400 }),
  },
  { requiredKeys: [] },
);
const caseArb = fc.record({
  code: fc.array(
    fc.oneof({ weight: 4, arbitrary: fc.constantFrom(...INTERESTING_BYTES) }, { weight: 1, arbitrary: fc.nat({ max: 255 }) }),
    { maxLength: 18 },
  ),
  regs: fc.array(regArb, { minLength: 18, maxLength: 18 }),
  mode: fc.constantFrom(...MODES),
  cpl: fc.nat({ max: 3 }),
  pageOffset: fc.oneof(fc.constant(PAGE_SIZE - 1), fc.constant(PAGE_SIZE - 3), fc.nat({ max: PAGE_SIZE - 1 })),
  mapNext: fc.boolean(),
  dataMapped: fc.boolean(),
  profileIndex: fc.nat({ max: 7 }),
  useStep: fc.boolean(),
  errorCode: fc.oneof({ weight: 9, arbitrary: fc.constant(0) }, { weight: 1, arbitrary: fc.nat({ max: 0xffff }) }),
  /** A memory without checkWritable (like a ptrace front end might be): INS must restore registers on a fault. */
  noProbe: fc.boolean(),
  /** Code and FS/GS bases in the upper canonical half (above 2^53). */
  upper: fc.boolean(),
  /** L1's exception bitmap when the guest is an L2 guest; null: not nested. */
  l1: fc.oneof(
    { weight: 3, arbitrary: fc.constant(null) },
    { weight: 2, arbitrary: fc.constant(L1_INTERCEPTS_GP) },
    { weight: 1, arbitrary: fc.constantFrom(1 << 6, 1 << 14, L1_INTERCEPTS_GP | (1 << 6) | (1 << 14), 0) },
  ),
});

/** `mem` behind a check of the GuestMemory contract: halves are unsigned 32-bit and no access crosses 4 GiB. */
function contractChecked(mem: PagedMemory, probe: boolean): GuestMemory {
  const check = (lo: number, hi: number, n: number) => {
    for (const v of [lo, hi]) assert.ok(Number.isInteger(v) && v >= 0 && v <= 0xffffffff, `address half ${v}`);
    assert.ok(Number.isInteger(n) && n >= 0 && lo + n <= 2 ** 32, `access of ${n} bytes at lo ${lo} crosses 4 GiB`);
  };
  const m: GuestMemory = {
    read: (lo, hi, d, s, n) => {
      check(lo, hi, n);
      return mem.read(lo, hi, d, s, n);
    },
    write: (lo, hi, d, s, n) => {
      check(lo, hi, n);
      return mem.write(lo, hi, d, s, n);
    },
  };
  if (probe) {
    m.checkWritable = (lo, hi, n) => {
      check(lo, hi, n);
      return mem.checkWritable(lo, hi, n);
    };
  }
  return m;
}

test(`fuzz: ${CASES} random exits end in a completed step or a named fault, never a throw`, () => {
  const profiles = fc.sample(profileArb, { numRuns: 8, seed: 7 });
  const clock = new VirtualClock();
  const vms = profiles.map((p) => new VirtualMachine({ profile: p, clock }));
  const outcomes = new Map<string, number>();
  fc.assert(
    fc.property(caseArb, (c) => {
      const words = new Uint32Array(36);
      c.regs.forEach(([lo, hi], i) => {
        words[2 * i] = lo;
        words[2 * i + 1] = hi;
      });
      const regs = new RegisterFile(words);
      // Keep RIP where the code is, so most cases fetch real bytes: low, or in the upper canonical half.
      regs.set64(16, (c.upper ? 0xffff_ffff_8004_0000n : 0x40000n) + BigInt(c.pageOffset));
      const bases = c.upper ? [0, 0, 0, 0, 0xffff_8000_0000_1000n, 0xffff_ffff_ffff_f000n] : [0, 0, 0, 0, 0x1000, 0x2000];
      const cpu = new CpuState({ mode: c.mode, cpl: c.cpl, regs, segBase: bases });
      const mem = new PagedMemory();
      const ip = cpu.linearIp();
      mem.load(ip, Uint8Array.from(c.code).subarray(0, PAGE_SIZE - Number(ip % BigInt(PAGE_SIZE))));
      if (c.mapNext) mem.map(ip + BigInt(PAGE_SIZE));
      if (c.dataMapped) {
        for (const base of [0, 0x1000, 0x2000]) {
          mem.map(base + (regs.lo(6) % 0x10000));
          mem.map(base + (regs.lo(7) % 0x10000));
        }
        for (const base of [0n, BigInt(bases[4]!), BigInt(bases[5]!)]) {
          mem.map(base + regs.get64(6));
          mem.map(base + regs.get64(7));
        }
      }
      const vm = vms[c.profileIndex]!;
      const before = cpu.regs.clone();
      const m = contractChecked(mem, !c.noProbe);
      const nested = c.l1 === null ? null : { exceptionBitmap: c.l1 };
      vm.nested = nested; // step uses the VM's view; handleGp is also told per exit
      const readsBefore = mem.readCalls;
      const res = c.useStep ? vm.step(cpu, m) : vm.handleGp(cpu, m, { errorCode: c.errorCode, nested });
      const l1 = c.l1 ?? 0;
      if (!c.useStep && (l1 & L1_INTERCEPTS_GP) !== 0) {
        // Every #GP of an L2 guest whose L1 intercepts #GP goes to L1 untouched: nothing fetched, nothing changed.
        assert.equal(res.outcome, Outcome.NESTED_EXIT);
        assert.equal(res.fault, Fault.GP);
        assert.equal(res.errorCode, c.errorCode);
        assert.equal(mem.readCalls, readsBefore, "a nested exit read guest memory");
      }
      // No exception that L1 intercepts reaches the L2 guest; a nested exit is one that L1 intercepts.
      if (res.outcome === Outcome.FAULT) assert.equal((l1 >>> res.fault) & 1, 0, `fault ${res.fault} should have gone to L1`);
      const name = res.outcome === Outcome.FAULT ? `fault:${res.fault}` : `outcome:${res.outcome}`;
      outcomes.set(name, (outcomes.get(name) ?? 0) + 1);
      switch (res.outcome) {
        case Outcome.COMPLETED:
        case Outcome.PARTIAL:
          assert.equal(res.fault, Fault.NONE);
          break;
        case Outcome.FAULT:
          assert.ok(res.fault === Fault.GP || res.fault === Fault.UD || res.fault === Fault.PF, `unnamed fault ${res.fault}`);
          assert.ok(cpu.regs.equals(before), "a fault changed a register");
          if (res.fault === Fault.PF) assert.ok(res.faultAddress !== null && res.faultAddress >= 0n && res.faultAddress < 1n << 64n);
          break;
        case Outcome.NESTED_EXIT:
          assert.equal((l1 >>> res.fault) & 1, 1, `nested exit for fault ${res.fault} that L1 does not intercept`);
          assert.ok(cpu.regs.equals(before), "a nested exit changed a register");
          break;
        case Outcome.UNSUPPORTED:
          assert.ok(c.useStep, "only step reports UNSUPPORTED");
          assert.ok(cpu.regs.equals(before));
          break;
        default:
          assert.fail(`unknown outcome ${res.outcome}`);
      }
      // Host memory stays bounded: the string scratch buffer never outgrows one chunk (2× for the growth step).
      assert.ok(vm.intercept.scratchBytes <= 2 * STRING_IO_MAX_BYTES);
    }),
    { numRuns: CASES, seed: Number(process.env["VMPORT_SEED"] ?? Date.now() % 2 ** 31) },
  );
  if (process.env["VMPORT_FUZZ_STATS"]) console.log(JSON.stringify([...outcomes]));
  // The generator must reach emulation and each kind of fault, or the run proves little.
  for (const k of ["outcome:0", `fault:${Fault.GP}`, `fault:${Fault.UD}`, `fault:${Fault.PF}`, `outcome:${Outcome.NESTED_EXIT}`]) {
    assert.ok((outcomes.get(k) ?? 0) > 100, `too few cases reached ${k}: ${JSON.stringify([...outcomes])}`);
  }
});
