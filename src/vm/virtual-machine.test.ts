/**
 * The #GP intercept and `step`: kvm-unit-tests `x86/vmware_backdoors.c` (11 cases) and the Xen series' emulator
 * cases, port exactly 0x5658, faults that change no register, string I/O on 0x5659, RDPMC pseudo-counters,
 * a disabled backdoor behaving like real hardware.
 */
import { test } from "node:test";
import assert from "node:assert/strict";
import { VirtualClock } from "../core/clock.js";
import { CpuMode } from "../x86/cpu-mode.js";
import { Seg } from "../x86/cpu-state.js";
import { PAGE_SIZE } from "../x86/guest-memory.js";
import { Reg } from "../x86/registers.js";
import { Fault, Outcome } from "./exit-result.js";
import { STRING_IO_MAX_BYTES } from "./virtual-machine.js";
import { MAGIC, bytes, regValue, setup, vmWith } from "../test-support/harness.js";

const DEADBEEF = 0xdeadbeefn;

test("kvm-unit-tests vmware_backdoors: 11 cases", () => {
  const vm = vmWith();
  const run = (code: string, cpl: number, regs: Record<string, bigint>) => {
    const { cpu, mem } = setup(code, { rax: DEADBEEF, rbx: DEADBEEF, rcx: DEADBEEF, rdx: DEADBEEF, ...regs }, { cpl });
    const res = vm.step(cpu, mem);
    return { res, cpu, gp: res.outcome === Outcome.FAULT && res.fault === Fault.GP };
  };
  // 1–6: RDPMC pseudo-counters at CPL 0 and CPL 3 (CR4.PCE = 0): no #GP.
  for (const cpl of [0, 3]) for (const ctr of [0x10000n, 0x10001n, 0x10002n]) assert.equal(run("0f 33", cpl, { rcx: ctr }).gp, false);
  // 7: another counter at CPL 3: #GP.
  assert.equal(run("0f 33", 3, { rcx: 0xfffn }).gp, true);
  // 8–9: GETVERSION at CPL 3 and 0: no #GP, full RBX = magic.
  for (const cpl of [3, 0]) {
    const r = run("ed", cpl, { rax: MAGIC, rcx: 10n, rdx: 0x5658n });
    assert.equal(r.gp, false);
    assert.equal(regValue(r.cpu.regs, "rbx"), MAGIC);
  }
  // 10: unknown command 0xFFF at CPL 3: no #GP, RBX unchanged.
  const u = run("ed", 3, { rax: MAGIC, rcx: 0xfffn, rdx: 0x5658n });
  assert.equal(u.gp, false);
  assert.equal(regValue(u.cpu.regs, "rbx"), DEADBEEF);
  // 11: port 0x1234 at CPL 3: #GP.
  assert.equal(run("ed", 3, { rax: MAGIC, rcx: 10n, rdx: 0x1234n }).gp, true);
});

test("Xen emulator cases: ED/EC/EF/EE on 0x5658 and 0x5659 complete, advance EIP by 1, IN changes EAX, OUT keeps it", () => {
  for (const port of [0x5658n, 0x5659n]) {
    for (const code of ["ed", "ec", "ef", "ee"]) {
      const vm = vmWith();
      const { cpu, mem } = setup(code, { rax: 0x12345678n, rdx: port }, { mode: CpuMode.PROTECTED32 });
      const res = vm.handleGp(cpu, mem);
      assert.equal(res.outcome, Outcome.COMPLETED, `${code} @${port}`);
      assert.equal(regValue(cpu.regs, "rip"), 0x1001n);
      const isIn = code === "ed" || code === "ec";
      assert.equal(regValue(cpu.regs, "rax") !== 0x12345678n, isIn, `${code} @${port}`);
    }
  }
});

test("port exactly 0x5658: 0x5657 and 0x565a are reflected, and EDX's high half (channel id) is ignored", () => {
  for (const dx of [0x5657n, 0x565an]) {
    const vm = vmWith();
    const { cpu, mem } = setup("ed", { rax: MAGIC, rcx: 10n, rdx: dx });
    const before = cpu.regs.clone();
    const res = vm.handleGp(cpu, mem);
    assert.equal(res.fault, Fault.GP);
    assert.ok(cpu.regs.equals(before), "a reflected #GP changes no register");
  }
  const vm = vmWith();
  const { cpu, mem } = setup("ed", { rax: MAGIC, rcx: 10n, rdx: 0x0003_5658n });
  assert.equal(vm.handleGp(cpu, mem).outcome, Outcome.COMPLETED);
  assert.equal(regValue(cpu.regs, "rbx"), MAGIC);
  // An immediate port is 8 bits, never the backdoor: in eax, 0x58.
  const imm = setup("e5 58", { rax: MAGIC, rcx: 10n });
  assert.equal(vmWith().handleGp(imm.cpu, imm.mem).fault, Fault.GP);
});

test("faults change no register: LOCK → #UD, 16 bytes → #GP, unmapped code → #PF, non-zero error code → #GP", () => {
  const cases: [string | Uint8Array, number, () => ReturnType<typeof setup>][] = [
    ["f0 ed", Fault.UD, () => setup("f0 ed", { rax: MAGIC, rcx: 10n, rdx: 0x5658n })],
    ["16 bytes", Fault.GP, () => setup("66 ".repeat(15) + "ed", { rax: MAGIC, rcx: 10n, rdx: 0x5658n })],
    ["not IO", Fault.GP, () => setup("0f 0b", { rax: MAGIC })],
  ];
  for (const [name, fault, mk] of cases) {
    const { cpu, mem } = mk();
    const before = cpu.regs.clone();
    const res = vmWith().handleGp(cpu, mem);
    assert.equal(res.fault, fault, String(name));
    assert.ok(cpu.regs.equals(before), String(name));
  }
  // Fetch fault: the prefix is the last byte of a page and the next page is absent.
  const { cpu, mem } = setup("", { rax: MAGIC, rcx: 10n, rdx: 0x5658n, rip: BigInt(2 * PAGE_SIZE - 1) });
  mem.load(2 * PAGE_SIZE - 1, bytes("66"));
  const before = cpu.regs.clone();
  const res = vmWith().handleGp(cpu, mem);
  assert.equal(res.fault, Fault.PF);
  assert.equal(res.faultAddress, BigInt(2 * PAGE_SIZE));
  assert.equal(res.errorCode, 0x14); // user, instruction fetch
  assert.ok(cpu.regs.equals(before));
  const g = setup("ed", { rax: MAGIC, rcx: 10n, rdx: 0x5658n });
  assert.equal(vmWith().handleGp(g.cpu, g.mem, { errorCode: 0x18 }).errorCode, 0x18);
});

test("an instruction that straddles a page is emulated, each page fetched once", () => {
  const ip = 3 * PAGE_SIZE - 1;
  const { cpu, mem } = setup("", { rax: MAGIC, rcx: 10n, rdx: 0x5658n, rip: BigInt(ip) });
  mem.load(ip, bytes("66 ed")); // in ax,dx split across pages 2 and 3
  const res = vmWith().handleGp(cpu, mem);
  assert.equal(res.outcome, Outcome.COMPLETED);
  assert.equal(regValue(cpu.regs, "rax"), 0x564d0006n);
  assert.equal(regValue(cpu.regs, "rip"), BigInt(ip + 2));
  assert.equal(mem.readsPerPage.get(2), 1);
  assert.equal(mem.readsPerPage.get(3), 1);
});

test("real and vm86 modes: ED is in ax,dx; IP wraps at 64 KiB; CS base applies", () => {
  const vm = vmWith();
  const { cpu, mem } = setup(
    "",
    { rax: MAGIC, rcx: 10n, rdx: 0x5658n, rip: 0xffffn },
    { mode: CpuMode.VM86, segBase: [0, 0x20000, 0, 0, 0, 0] },
  );
  mem.load(0x2ffff, bytes("ed"));
  assert.equal(vm.handleGp(cpu, mem).outcome, Outcome.COMPLETED);
  assert.equal(regValue(cpu.regs, "rax"), 0x564d0006n); // AX merge: 16-bit operand size
  assert.equal(regValue(cpu.regs, "rip"), 0n);
  // Real mode at CPL 0 is always allowed: step goes straight to the bus and reaches the device.
  const real = setup("66 ed", { rax: MAGIC, rcx: 10n, rdx: 0x5658n }, { mode: CpuMode.REAL });
  assert.equal(vm.step(real.cpu, real.mem).outcome, Outcome.COMPLETED);
  assert.equal(regValue(real.cpu.regs, "rax"), 6n);
  assert.equal(vm.interceptCounters.gpExits, 1, "the real-mode access did not go through #GP");
});

test("a disabled backdoor behaves like hardware without VMware: ring 3 faults, ring 0 reads all-ones", () => {
  const vm = vmWith({ backdoor: false });
  const r3 = setup("ed", { rax: MAGIC, rcx: 10n, rdx: 0x5658n });
  const before = r3.cpu.regs.clone();
  assert.equal(vm.step(r3.cpu, r3.mem).fault, Fault.GP);
  assert.ok(r3.cpu.regs.equals(before));
  assert.equal(r3.mem.readCalls, 1, "step fetched once; the intercept did not even read the instruction");
  const r0 = setup("ed", { rax: MAGIC, rcx: 10n, rdx: 0x5658n, rbx: 1n }, { cpl: 0 });
  assert.equal(vm.step(r0.cpu, r0.mem).outcome, Outcome.COMPLETED);
  assert.equal(regValue(r0.cpu.regs, "rax"), 0xffffffffn);
  assert.equal(regValue(r0.cpu.regs, "rbx"), 1n);
  const pmc = setup("0f 33", { rcx: 0x10000n }, { cpl: 0 });
  assert.equal(vm.step(pmc.cpu, pmc.mem).fault, Fault.GP);
});

test("RDPMC pseudo-counters: TSC from the clock and tscHz, elapsed ns since VM start; EDX:EAX zero-extended", () => {
  const clock = new VirtualClock(0n, 2_000_000_000n);
  const vm = vmWith({ tscHz: 1_000_000_000 }, clock);
  clock.advance(0x1_0000_0001n);
  const read = (ctr: bigint) => {
    const { cpu, mem } = setup("0f 33", { rcx: ctr, rax: 0xffffffff_ffffffffn, rdx: 0xffffffff_ffffffffn });
    assert.equal(vm.handleGp(cpu, mem).outcome, Outcome.COMPLETED);
    assert.equal(regValue(cpu.regs, "rip"), 0x1002n);
    return (regValue(cpu.regs, "rdx") << 32n) | regValue(cpu.regs, "rax");
  };
  assert.equal(read(0x10000n), 2_000_000_000n + 0x1_0000_0001n);
  assert.equal(read(0x10001n), 0x1_0000_0001n);
  assert.equal(read(0x10002n), 0x1_0000_0001n);
  const off = setup("0f 33", { rcx: 0x10000n });
  assert.equal(vmWith({ pseudoPmc: false }).handleGp(off.cpu, off.mem).fault, Fault.GP);
  const p3 = setup("0f 33", { rcx: 0x10003n }); // PSEUDO_TSC: not implemented (as in KVM)
  assert.equal(vm.handleGp(p3.cpu, p3.mem).fault, Fault.GP);
});

test("rep insb from 0x5659 with no transfer handler: FF bytes, ECX = 0, RDI += n (QEMU/v86 oracle)", () => {
  const vm = vmWith();
  vm.hb!.setTransferHandler(null); // as on a host without the message channel
  const { cpu, mem } = setup("f3 6c", { rax: MAGIC, rcx: 8n, rdx: 0x5659n, rdi: 0x8000n });
  mem.map(0x8000);
  assert.equal(vm.handleGp(cpu, mem).outcome, Outcome.COMPLETED);
  assert.deepEqual([...mem.peek(0x8000, 9)], [255, 255, 255, 255, 255, 255, 255, 255, 0]);
  assert.equal(regValue(cpu.regs, "rcx"), 0n);
  assert.equal(regValue(cpu.regs, "rdi"), 0x8008n);
  assert.equal(regValue(cpu.regs, "rip"), 0x1002n);
  assert.equal(vm.hb!.counters.stringBytes, 8);
});

test("rep outsb reaches the HB handler in one bulk transfer, with FS override and 64-bit base", () => {
  const vm = vmWith();
  const seen: number[][] = [];
  vm.hb!.setTransferHandler({
    transferIn: (_a, _d, out) => out,
    transferOut: (_a, src, out) => {
      seen.push([...src]);
      return out;
    },
  });
  const { cpu, mem } = setup("64 f3 6e", { rcx: 5n, rdx: 0x5659n, rsi: 0x10n }, { segBase: [0, 0, 0, 0x9999000, 0x7000, 0] });
  mem.load(0x7010, bytes("68 65 6c 6c 6f"));
  assert.equal(vm.handleGp(cpu, mem).outcome, Outcome.COMPLETED);
  assert.deepEqual(seen, [[0x68, 0x65, 0x6c, 0x6c, 0x6f]]);
  assert.equal(regValue(cpu.regs, "rsi"), 0x15n);
  assert.equal(regValue(cpu.regs, "rcx"), 0n);
  // In 64-bit mode a DS override has no base: ds:[rsi] is linear rsi.
  const ds = setup("3e 6e", { rdx: 0x5659n, rsi: 0x7010n }, { segBase: [0, 0, 0, 0x9999000, 0, 0] });
  ds.mem.load(0x7010, bytes("41"));
  assert.equal(vm.handleGp(ds.cpu, ds.mem).outcome, Outcome.COMPLETED);
  assert.deepEqual(seen.at(-1), [0x41]);
});

test("DF=1 string I/O runs downwards; element order is preserved; word size with 67 (ECX/EDI)", () => {
  const vm = vmWith();
  const got: number[][] = [];
  vm.hb!.setTransferHandler({
    transferIn: (_a, dst, out) => {
      dst.set([1, 2, 3, 4, 5, 6]);
      return out;
    },
    transferOut: (_a, s, out) => {
      got.push([...s]);
      return out;
    },
  });
  const { cpu, mem } = setup("67 f3 66 6d", { rcx: 0xffffffff_00000003n, rdx: 0x5659n, rdi: 0x20000004n, rflags: 0x402n });
  mem.map(0x20000000);
  assert.equal(vm.handleGp(cpu, mem).outcome, Outcome.COMPLETED);
  // Elements 0x0201, 0x0403, 0x0605 stored at 0x..04, 0x..02, 0x..00.
  assert.deepEqual([...mem.peek(0x20000000, 6)], [5, 6, 3, 4, 1, 2]);
  assert.equal(regValue(cpu.regs, "rdi"), 0x1ffffffen); // 32-bit address size: EDI written, zero-extended
  assert.equal(regValue(cpu.regs, "rcx"), 0n);
  const o = setup("f3 6e", { rcx: 3n, rdx: 0x5659n, rsi: 0x3002n, rflags: 0x402n });
  o.mem.load(0x3000, bytes("61 62 63"));
  vm.handleGp(o.cpu, o.mem);
  assert.deepEqual(got.at(-1), [0x63, 0x62, 0x61]);
  assert.equal(regValue(o.cpu.regs, "rsi"), 0x2fffn);
});

test("string I/O faults: unmapped buffer → #PF at its address, registers unchanged; REP with count 0 just advances", () => {
  const vm = vmWith();
  const { cpu, mem } = setup("f3 6e", { rcx: 4n, rdx: 0x5659n, rsi: 0x9000n });
  const before = cpu.regs.clone();
  const res = vm.handleGp(cpu, mem);
  assert.equal(res.fault, Fault.PF);
  assert.equal(res.faultAddress, 0x9000n);
  assert.ok(cpu.regs.equals(before));
  const ins = setup("f3 6c", { rcx: 4n, rdx: 0x5659n, rdi: 0x9000n });
  ins.mem.map(0x9000, false); // read-only page
  assert.equal(vm.handleGp(ins.cpu, ins.mem).errorCode & 2, 2, "a write fault");
  const zero = setup("f3 6c", { rcx: 0n, rdx: 0x5659n, rdi: 0x9000n });
  assert.equal(vm.handleGp(zero.cpu, zero.mem).outcome, Outcome.COMPLETED);
  assert.equal(regValue(zero.cpu.regs, "rip"), 0x1002n);
});

test("a hostile REP count runs in bounded chunks and resumes (RIP stays until done)", () => {
  const vm = vmWith();
  const { cpu, mem } = setup("f3 6c", { rcx: 0xffffffff_ffffffffn, rdx: 0x5659n, rdi: 0x100000n });
  for (let a = 0x100000; a < 0x100000 + STRING_IO_MAX_BYTES; a += PAGE_SIZE) mem.map(a);
  const res = vm.handleGp(cpu, mem);
  assert.equal(res.outcome, Outcome.PARTIAL);
  assert.equal(regValue(cpu.regs, "rip"), 0x1000n);
  assert.equal(regValue(cpu.regs, "rcx"), 0xffffffff_ffffffffn - BigInt(STRING_IO_MAX_BYTES));
  assert.equal(regValue(cpu.regs, "rdi"), BigInt(0x100000 + STRING_IO_MAX_BYTES));
  // Next chunk faults on the unmapped page that follows.
  assert.equal(vm.handleGp(cpu, mem).fault, Fault.PF);
});

test("16-bit string I/O stops at the 64 KiB wrap and a straddling word faults", () => {
  const vm = vmWith();
  const { cpu, mem } = setup("f3 6c", { rcx: 4n, rdx: 0x5659n, rdi: 0xfffen }, { mode: CpuMode.REAL, segBase: [0x10000, 0, 0, 0, 0, 0] });
  mem.map(0x1fffe);
  const res = vm.step(cpu, mem);
  assert.equal(res.outcome, Outcome.PARTIAL);
  assert.equal(regValue(cpu.regs, "rdi"), 0n);
  assert.equal(regValue(cpu.regs, "rcx"), 2n);
  const w = setup("6d", { rdx: 0x5659n, rdi: 0xffffn }, { mode: CpuMode.REAL });
  assert.equal(vm.step(w.cpu, w.mem).fault, Fault.GP);
  assert.equal(Seg.ES, 0);
});

test("string I/O on the LB port runs no command: INS reads FF, OUTS is dropped", () => {
  const vm = vmWith();
  const { cpu, mem } = setup("6c", { rax: MAGIC, rcx: 10n, rdx: 0x5658n, rdi: 0x5000n, rbx: 3n });
  mem.map(0x5000);
  assert.equal(vm.handleGp(cpu, mem).outcome, Outcome.COMPLETED);
  assert.equal(mem.peek(0x5000, 1)[0], 0xff);
  assert.equal(regValue(cpu.regs, "rbx"), 3n);
  assert.equal(vm.backdoor!.counters.stringElements, 1);
});

test("a wrong exit length hint is counted, and the decoded length wins", () => {
  const vm = vmWith();
  const { cpu, mem } = setup("66 ed", { rax: MAGIC, rcx: 10n, rdx: 0x5658n });
  vm.handleGp(cpu, mem, { instructionLength: 1 });
  assert.equal(regValue(cpu.regs, "rip"), 0x1002n);
  assert.equal(vm.interceptCounters.lengthHintMismatches, 1);
});

test("TSS bitmap that allows 0x5658 at CPL 3: step reaches the device without a #GP", () => {
  const vm = vmWith();
  const bm = new Uint8Array(0x2000).fill(0xff);
  bm[0x5658 >>> 3] = 0;
  const { cpu, mem } = setup("ed", { rax: MAGIC, rcx: 10n, rdx: 0x5658n }, { ioBitmap: bm });
  assert.equal(vm.step(cpu, mem).outcome, Outcome.COMPLETED);
  assert.equal(vm.interceptCounters.gpExits, 0);
  assert.equal(regValue(cpu.regs, "rbx"), MAGIC);
});

test("string I/O in the upper canonical half: exact addresses, #GP off the canonical range, LA57, 4 GiB splits", () => {
  const vm = vmWith();
  const seen: number[][] = [];
  vm.hb!.setTransferHandler({
    transferIn: (_a, dst, out) => {
      dst.fill(0x5a);
      return out;
    },
    transferOut: (_a, src, out) => {
      seen.push([...src]);
      return out;
    },
  });
  // rep outsb from 0xffff_8880_0000_1000 (a kernel direct-map address, far above 2^53).
  const { cpu, mem } = setup("f3 6e", { rcx: 3n, rdx: 0x5659n, rsi: 0xffff_8880_0000_1000n }, { cpl: 0 });
  mem.load(0xffff_8880_0000_1000n, bytes("61 62 63"));
  assert.equal(vm.step(cpu, mem).outcome, Outcome.COMPLETED);
  assert.deepEqual(seen.at(-1), [0x61, 0x62, 0x63]);
  assert.equal(regValue(cpu.regs, "rsi"), 0xffff_8880_0000_1003n);
  // Non-canonical (bit 47 set, bits 63…48 clear): #GP(0), nothing read; with LA57 the same address is fine.
  const nc = setup("6c", { rdx: 0x5659n, rdi: 0x0000_8000_0000_0000n }, { cpl: 0 });
  nc.mem.map(0x0000_8000_0000_0000n);
  const before = nc.cpu.regs.clone();
  assert.equal(vm.step(nc.cpu, nc.mem).fault, Fault.GP);
  assert.ok(nc.cpu.regs.equals(before));
  const la57 = setup("6c", { rdx: 0x5659n, rdi: 0x0000_8000_0000_0000n }, { cpl: 0, la57: true });
  la57.mem.map(0x0000_8000_0000_0000n);
  assert.equal(vm.step(la57.cpu, la57.mem).outcome, Outcome.COMPLETED);
  assert.equal(la57.mem.peek(0x0000_8000_0000_0000n, 1)[0], 0x5a);
  // A dword that straddles a 4 GiB boundary is moved in two accesses; a REP stops at the boundary and resumes.
  const st = setup("6f", { rdx: 0x5659n, rsi: 0xffff_9000_ffff_fffen }, { cpl: 0 });
  st.mem.load(0xffff_9000_ffff_fffen, bytes("01 02 03 04"));
  assert.equal(vm.step(st.cpu, st.mem).outcome, Outcome.COMPLETED);
  assert.deepEqual(seen.at(-1), [1, 2, 3, 4]);
  const rep = setup("f3 6e", { rcx: 4n, rdx: 0x5659n, rsi: 0xffff_9000_ffff_fffen }, { cpl: 0 });
  rep.mem.load(0xffff_9000_ffff_fffen, bytes("01 02 03 04"));
  assert.equal(vm.step(rep.cpu, rep.mem).outcome, Outcome.PARTIAL);
  assert.deepEqual(seen.at(-1), [1, 2]);
  assert.equal(vm.step(rep.cpu, rep.mem).outcome, Outcome.COMPLETED);
  assert.deepEqual(seen.at(-1), [3, 4]);
  assert.equal(regValue(rep.cpu.regs, "rsi"), 0xffff_9001_0000_0002n);
  // A #PF in the upper half reports the exact address.
  const pf = setup("f3 6e", { rcx: 2n, rdx: 0x5659n, rsi: 0xffff_ffff_ffff_f000n }, { cpl: 0 });
  assert.equal(vm.step(pf.cpu, pf.mem).faultAddress, 0xffff_ffff_ffff_f000n);
});

test("the HB handler's status is a patch the device commits: low 32 bits written, upper halves kept, EAX untouched", () => {
  const vm = vmWith();
  const HI = 0xdead_beef_0000_0000n;
  let regsSeen: bigint | null = null;
  vm.hb!.setTransferHandler({
    transferIn: (a, dst, out) => {
      dst.fill(0x11);
      regsSeen = a.regs === null ? null : BigInt(a.regs.lo(Reg.RBX)); // RBX as the handler sees it: not yet changed
      return out.ebx(0x0001_0000).edx(0x1234_5678);
    },
    transferOut: (_a, _s, out) => out.ebx(0),
  });
  const { cpu, mem } = setup("f3 6c", { rax: HI | MAGIC, rbx: HI | 0x0001_0000n, rcx: 2n, rdx: HI | 0x5659n, rdi: 0x8000n }, { cpl: 0 });
  mem.map(0x8000);
  assert.equal(vm.step(cpu, mem).outcome, Outcome.COMPLETED);
  assert.equal(regsSeen, 0x0001_0000n);
  assert.deepEqual([...mem.peek(0x8000, 3)], [0x11, 0x11, 0]);
  assert.equal(regValue(cpu.regs, "rbx"), HI | 0x0001_0000n);
  assert.equal(regValue(cpu.regs, "rdx"), HI | 0x1234_5678n);
  assert.equal(regValue(cpu.regs, "rax"), HI | MAGIC);
  const o = setup("f3 6e", { rax: MAGIC, rbx: HI | 0x0001_0000n, rcx: 1n, rdx: 0x5659n, rsi: 0x8000n }, { cpl: 0 });
  o.mem.map(0x8000);
  assert.equal(vm.step(o.cpu, o.mem).outcome, Outcome.COMPLETED);
  assert.equal(regValue(o.cpu.regs, "rbx"), HI);
});
