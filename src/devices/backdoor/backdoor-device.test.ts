/**
 * The LB backdoor device through the whole intercept: every standard command's registers, the merge rules
 * (AL/AX merges keeping the upper bits, OUT keeping RAX, upper 32 bits of other registers preserved),
 * bad magic and unknown commands.
 */
import { test } from "node:test";
import assert from "node:assert/strict";
import { VirtualClock } from "../../core/clock.js";
import { Outcome } from "../../vm/exit-result.js";
import type { VirtualMachine } from "../../vm/virtual-machine.js";
import type { VmProfileInput } from "../profile.js";
import { MAGIC, regValue, setup, vmWith, type RegInit } from "../../test-support/harness.js";
import type { CommandRegistry } from "./command-registry.js";
import { isVmportError } from "../../core/errors.js";

const HI = 0xa5a5a5a5_00000000n; // a non-zero upper half in every register, to see what is preserved

/** Run one backdoor call from ring 3 (the intercept path) and return the registers after. */
function call(code: string, regs: RegInit, opts: { vm?: VirtualMachine; profile?: VmProfileInput; cpl?: number } = {}) {
  const vm = opts.vm ?? vmWith(opts.profile);
  const { cpu, mem } = setup(code, { rdx: HI | 0x5658n, ...regs }, { cpl: opts.cpl ?? 3 });
  const res = vm.handleGp(cpu, mem);
  assert.equal(res.outcome, Outcome.COMPLETED);
  const r = (n: keyof RegInit) => regValue(cpu.regs, n);
  return { r, vm, cpu };
}

const cmd = (n: number) => HI | BigInt(n);

test("GETVERSION (in eax,dx = ED): EAX=6 zero-extended, EBX=magic, ECX=2; upper halves of RBX/RCX kept", () => {
  const { r } = call("ed", { rax: HI | MAGIC, rbx: HI | 0xffffffffn, rcx: cmd(10) });
  assert.equal(r("rax"), 6n); // a 4-byte IN zero-extends RAX
  assert.equal(r("rbx"), HI | MAGIC);
  assert.equal(r("rcx"), HI | 2n);
  assert.equal(r("rdx"), HI | 0x5658n); // not an output: unchanged
  assert.equal(r("rip"), 0x1001n);
});

test("GETVERSION with ECX high = 0xFFFF (VmCheck_GetVersion) still runs: the command is CX", () => {
  const { r } = call("ed", { rax: MAGIC, rcx: 0xffff000an });
  assert.equal(r("rax"), 6n);
  assert.equal(r("rcx"), 2n); // the whole ECX is the product type
});

test("in al,dx (EC) merges only AL; in ax,dx (66 ED) only AX; other outputs are written in full", () => {
  const al = call("ec", { rax: HI | MAGIC, rcx: 10n });
  assert.equal(al.r("rax"), HI | 0x564d5806n);
  assert.equal(al.r("rbx"), MAGIC);
  const ax = call("66 ed", { rax: HI | MAGIC, rcx: 10n });
  assert.equal(ax.r("rax"), HI | 0x564d0006n);
  assert.equal(ax.r("rcx"), 2n);
});

test("narrowAccess 'empty': narrow IN reads all-ones into AL/AX and runs nothing", () => {
  const { r, vm } = call("ec", { rax: MAGIC, rcx: 10n, rbx: 7n }, { profile: { narrowAccess: "empty" } });
  assert.equal(r("rax"), 0x564d58ffn);
  assert.equal(r("rbx"), 7n);
  assert.equal(vm.backdoor!.counters.narrowIgnored, 1);
});

test("out dx,eax (EF) runs the command but leaves RAX; out dx,al (EE) likewise", () => {
  for (const code of ["ef", "ee"]) {
    const { r } = call(code, { rax: HI | MAGIC, rcx: 10n });
    assert.equal(r("rax"), HI | MAGIC, code);
    assert.equal(r("rbx"), MAGIC, code);
    assert.equal(r("rcx"), 2n, code);
  }
});

test("bad magic: IN reads all-ones for its size, nothing else changes; OUT changes nothing", () => {
  const inl = call("ed", { rax: HI | 0x12345678n, rbx: 5n, rcx: 10n });
  assert.equal(inl.r("rax"), 0xffffffffn);
  assert.equal(inl.r("rbx"), 5n);
  assert.equal(inl.r("rcx"), 10n);
  const inb = call("ec", { rax: HI | 0x12345678n, rcx: 10n });
  assert.equal(inb.r("rax"), HI | 0x123456ffn);
  const out = call("ef", { rax: 0x12345678n, rcx: 10n, rbx: 5n });
  assert.equal(out.r("rax"), 0x12345678n);
  assert.equal(out.r("rbx"), 5n);
  assert.equal(out.vm.backdoor!.counters.badMagic, 1);
});

test("unknown command: EAX=0xFFFFFFFF and nothing else (kvm-unit-tests CMD_ILLEGAL, command 0xFFF)", () => {
  const { r, vm } = call("ed", { rax: MAGIC, rbx: 0xdeadbeefn, rcx: 0xfffn });
  assert.equal(r("rax"), 0xffffffffn);
  assert.equal(r("rbx"), 0xdeadbeefn);
  assert.equal(r("rcx"), 0xfffn);
  assert.equal(vm.backdoor!.counters.unknownCommand, 1);
  // 16-bit command decode: 0x10A is not GETVERSION (an 8-bit decoder would alias it).
  assert.equal(call("ed", { rax: MAGIC, rcx: 0x10an }).r("rax"), 0xffffffffn);
});

test("GETHWVERSION: EAX=4 when unset, the profile's value otherwise; EBX=magic", () => {
  const d = call("ed", { rax: MAGIC, rbx: 0xa9b2a797n, rcx: 17n });
  assert.equal(d.r("rax"), 4n);
  assert.equal(d.r("rbx"), MAGIC);
  assert.equal(call("ed", { rax: MAGIC, rcx: 17n }, { profile: { hwVersion: 19 } }).r("rax"), 19n);
});

test("GETUUID: four little-endian dwords of the UUID bytes; GETMEMSIZE in MB; GETMHZ", () => {
  const u = call("ed", { rax: MAGIC, rcx: 19n }, { profile: { uuid: "00112233-4455-6677-8899-aabbccddeeff" } });
  assert.deepEqual([u.r("rax"), u.r("rbx"), u.r("rcx"), u.r("rdx")], [0x33221100n, 0x77665544n, 0xbbaa9988n, HI | 0xffeeddccn]);
  assert.equal(call("ed", { rax: MAGIC, rcx: 20n }, { profile: { memSizeMb: 6144 } }).r("rax"), 6144n);
  assert.equal(call("ed", { rax: MAGIC, rcx: 1n }, { profile: { cpuMhz: 3100 } }).r("rax"), 3100n);
});

test("GETTIMEFULL: EAX stays magic, ESI:EDX = seconds (above 2^32 too), EBX = µs, ECX = max lag", () => {
  const clock = new VirtualClock();
  const secs = 0x1_0000_0005n; // past 2106: ESI must carry the high half
  clock.setRealtime(secs * 1_000_000_000n + 123_456_789n);
  const { r } = call("ed", { rax: HI | MAGIC, rcx: 46n, rsi: HI, rdx: HI | 0x5658n }, { vm: vmWith({}, clock) });
  assert.equal(r("rax"), MAGIC); // IN size 4 zero-extends the unchanged EAX
  assert.equal(r("rdx"), HI | 5n);
  assert.equal(r("rsi"), HI | 1n);
  assert.equal(r("rbx"), 123_456n);
  assert.equal(r("rcx"), 1_000_000n);
});

test("GETTIMEFULL_WITH_LAG adds EDI = interrupt lag (0); GETTIME: seconds, µs, lag, offset in minutes", () => {
  const clock = new VirtualClock(1_795_564_800_250_000_000n);
  const w = call("ed", { rax: MAGIC, rcx: 55n, rdi: HI | 99n }, { vm: vmWith({}, clock) });
  assert.equal(w.r("rdx"), HI | 1_795_564_800n);
  assert.equal(w.r("rdi"), HI);
  const t = call("ed", { rax: MAGIC, rcx: 23n }, { vm: vmWith({ timeOffsetSeconds: -3600, maxTimeLagUs: 500 }, clock) });
  assert.equal(t.r("rax"), 1_795_564_800n);
  assert.equal(t.r("rbx"), 250_000n);
  assert.equal(t.r("rcx"), 500n);
  assert.equal(t.r("rdx"), HI | 0xffffffc4n); // −60 minutes
});

test("GETHZ: CPL 0 only by default (ring 3 sees an unknown command); switchable", () => {
  const ring3 = call("ed", { rax: MAGIC, rbx: 0xffffffffn, rcx: 45n });
  assert.equal(ring3.r("rax"), 0xffffffffn);
  assert.equal(ring3.r("rbx"), 0xffffffffn);
  const ring0 = call("ed", { rax: MAGIC, rcx: 45n }, { cpl: 0, profile: { tscHz: 0x1_2345_6789 } });
  assert.deepEqual([ring0.r("rax"), ring0.r("rbx"), ring0.r("rcx")], [0x23456789n, 1n, 66_000_000n]);
  assert.equal(call("ed", { rax: MAGIC, rcx: 45n }, { profile: { gethzCpl0Only: false } }).r("rbx"), 0n);
});

test("GET_VCPU_INFO, GETBUILDNUM, NESTING_CONTROL QUERY; other nesting ops are unknown", () => {
  assert.equal(call("ed", { rax: MAGIC, rcx: 68n }).r("rax"), 8n);
  assert.equal(call("ed", { rax: MAGIC, rcx: 100n }, { profile: { buildNumber: 1234 } }).r("rax"), 1234n);
  assert.equal(call("ed", { rax: MAGIC, rcx: 0x2003fn }).r("rax"), 2n);
  assert.equal(call("ed", { rax: MAGIC, rcx: 0x0003fn }).r("rax"), 0xffffffffn);
});

test("GUI options round trip (SETGUIOPTIONS then GETGUIOPTIONS); screen size; pointer location", () => {
  const vm = vmWith();
  call("ed", { rax: MAGIC, rcx: 14n, rbx: 0x410n }, { vm });
  assert.equal(call("ed", { rax: MAGIC, rcx: 13n }, { vm }).r("rax"), 0x410n);
  assert.equal(call("ed", { rax: MAGIC, rcx: 15n }, { profile: { screenWidth: 1920, screenHeight: 1080 } }).r("rax"), 0x07800438n);
  call("ed", { rax: MAGIC, rcx: 5n, rbx: 0x00640032n }, { vm });
  assert.equal(call("ed", { rax: MAGIC, rcx: 4n }, { vm }).r("rax"), 0x00640032n);
});

test("device list: RD_Info 4 bytes at a time, EAX=0 past the last id; TOGGLEDEVICE", () => {
  const vm = vmWith({ devices: [{ name: "ide1:0", enabled: false }] });
  const name: number[] = [];
  for (let off = 0n; off < 40n; off += 4n) {
    const { r } = call("ed", { rax: MAGIC, rcx: 11n, rbx: off }, { vm });
    assert.equal(r("rax"), 1n);
    const v = Number(r("rbx"));
    name.push(v & 0xff, (v >>> 8) & 0xff, (v >>> 16) & 0xff, v >>> 24);
  }
  assert.equal(Buffer.from(name.slice(0, 6)).toString("latin1"), "ide1:0");
  assert.equal(name[6], 0);
  assert.equal(name[36], 0); // disabled
  const none = call("ed", { rax: MAGIC, rcx: 11n, rbx: (1n << 16n) | 0n }, { vm });
  assert.equal(none.r("rax"), 0n);
  assert.equal(call("ed", { rax: MAGIC, rcx: 12n, rbx: 0x80000000n }, { vm }).r("rax"), 1n);
  assert.equal(call("ed", { rax: MAGIC, rcx: 11n, rbx: 36n }, { vm }).r("rbx") & 0xffn, 1n);
  assert.equal(call("ed", { rax: MAGIC, rcx: 12n, rbx: 0x80000005n }, { vm }).r("rax"), 0n);
});

test("legacy clipboard: host → guest in 4-byte pieces; guest → host completes at the announced length", () => {
  const vm = vmWith();
  assert.equal(call("ed", { rax: MAGIC, rcx: 6n }, { vm }).r("rax"), 0xffffffffn); // nothing staged
  vm.backdoor!.ctx.state.setHostClipboard(new TextEncoder().encode("hello"));
  assert.equal(call("ed", { rax: MAGIC, rcx: 6n }, { vm }).r("rax"), 5n);
  assert.equal(call("ed", { rax: MAGIC, rcx: 7n }, { vm }).r("rax"), 0x6c6c6568n); // "hell"
  assert.equal(call("ed", { rax: MAGIC, rcx: 7n }, { vm }).r("rax"), 0x6fn); // "o"
  let got = "";
  vm.backdoor!.ctx.state.guestSelections.on((t) => (got = new TextDecoder().decode(t)));
  call("ed", { rax: MAGIC, rcx: 8n, rbx: 6n }, { vm });
  call("ed", { rax: MAGIC, rcx: 9n, rbx: 0x67617576n }, { vm }); // "vuag"
  assert.equal(got, "");
  call("ed", { rax: MAGIC, rcx: 9n, rbx: 0x58587473n }, { vm }); // "st" + 2 ignored bytes
  assert.equal(got, "vuagst");
  call("ed", { rax: MAGIC, rcx: 8n, rbx: 65437n }, { vm }); // one past MAX_SELECTION_BUFFER_LENGTH
  call("ed", { rax: MAGIC, rcx: 9n, rbx: 0x41414141n }, { vm });
  assert.equal(vm.backdoor!.ctx.state.counters.clipboardRefused, 1);
  assert.equal(vm.backdoor!.ctx.state.counters.clipboardStrayPieces, 1);
  assert.equal(got, "vuagst");
});

test("the registry rejects duplicates and out-of-range numbers; a registered command dispatches", () => {
  const vm = vmWith();
  const reg: CommandRegistry = vm.backdoor!.registry;
  assert.throws(
    () => reg.register(10, "again", (_f, _c, out) => out),
    (e: unknown) => isVmportError(e) && e.code === "VMPORT_BAD_REGISTRATION",
  );
  assert.throws(
    () => reg.register(0x10000, "big", (_f, _c, out) => out),
    (e: unknown) => isVmportError(e) && e.code === "VMPORT_BAD_REGISTRATION",
  );
  reg.register(0x7777, "TEST", (f, _ctx, out) => out.ecx(0x10000).edx(f.edx).ebp(7));
  const { r } = call("ed", { rax: MAGIC, rcx: 0x7777n, rbp: HI }, { vm });
  assert.throws(() => reg.register(30, "MESSAGE again", (_f, _c, out) => out), /already registered as MESSAGE/);
  assert.equal(r("rcx"), 0x10000n);
  assert.equal(r("rbp"), HI | 7n);
  assert.equal(r("rax"), MAGIC); // no EAX output: EAX keeps the magic
});
