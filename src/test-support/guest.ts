/**
 * A ring-3 guest for tests: it makes backdoor calls by executing real instruction bytes (in/out/rep outsb/
 * rep insb) through the VM's #GP intercept, with buffers in guest memory. The client models below follow the
 * register-level behaviour documented in `real-clients.md` for each real client.
 */
import assert from "node:assert/strict";
import { CpuMode } from "../x86/cpu-mode.js";
import { CpuState } from "../x86/cpu-state.js";
import { PAGE_SIZE, PagedMemory } from "../x86/guest-memory.js";
import { Reg } from "../x86/registers.js";
import { Outcome } from "../vm/exit-result.js";
import type { VirtualMachine } from "../vm/virtual-machine.js";

export const MAGIC = 0x564d5868;
export const LB = 0x5658;
export const HB = 0x5659;

/** Code page layout: one instruction each. */
const CODE = { in: 0x1000, out: 0x1001, outsb: 0x1002, insb: 0x1004 } as const; // ED, EF, F3 6E, F3 6C
/** Guest buffer for HB transfers (72 KiB mapped). */
export const BUF = 0x20000;

export interface Regs32 {
  eax: number;
  ebx: number;
  ecx: number;
  edx: number;
  esi: number;
  edi: number;
  ebp: number;
}

function read(r: import("../x86/registers.js").RegisterFile): Regs32 {
  return { eax: r.lo(Reg.RAX), ebx: r.lo(Reg.RBX), ecx: r.lo(Reg.RCX), edx: r.lo(Reg.RDX), esi: r.lo(Reg.RSI), edi: r.lo(Reg.RDI), ebp: r.lo(Reg.RBP) };
}

/** One guest thread on a VM. */
export class Guest {
  readonly cpu = new CpuState({ mode: CpuMode.LONG64, cpl: 3 });
  readonly mem = new PagedMemory();
  /** Every call made: instruction and registers in/out (a register-level transcript). */
  readonly transcript: { insn: keyof typeof CODE; in: Regs32; out: Regs32 }[] = [];
  /** Record {@link transcript} (benchmarks turn it off). */
  recordTranscript = true;

  constructor(readonly vm: VirtualMachine) {
    this.mem.load(0x1000, Uint8Array.of(0xed, 0xef, 0xf3, 0x6e, 0xf3, 0x6c));
    for (let a = BUF; a < BUF + 72 * 1024; a += PAGE_SIZE) this.mem.map(a);
  }

  /** Execute one backdoor instruction with these registers; returns the registers after. */
  call(insn: keyof typeof CODE, r: Partial<Regs32>): Regs32 {
    const regs = this.cpu.regs;
    regs.set32ZeroExtend(Reg.RIP, CODE[insn]);
    regs.set32ZeroExtend(Reg.RAX, (r.eax ?? MAGIC) >>> 0);
    regs.set32ZeroExtend(Reg.RBX, (r.ebx ?? 0) >>> 0);
    regs.set32ZeroExtend(Reg.RCX, (r.ecx ?? 0) >>> 0);
    regs.set32ZeroExtend(Reg.RDX, (r.edx ?? 0) >>> 0);
    regs.set32ZeroExtend(Reg.RSI, (r.esi ?? 0) >>> 0);
    regs.set32ZeroExtend(Reg.RDI, (r.edi ?? 0) >>> 0);
    regs.set32ZeroExtend(Reg.RBP, (r.ebp ?? 0) >>> 0);
    const input = this.recordTranscript ? read(regs) : null;
    const res = this.vm.handleGp(this.cpu, this.mem);
    if (res.outcome !== Outcome.COMPLETED) assert.fail(`${insn} did not complete (fault ${res.fault})`);
    const out = read(regs);
    if (input !== null) this.transcript.push({ insn, in: input, out });
    return out;
  }

  writeBuf(bytes: Uint8Array): void {
    this.mem.load(BUF, bytes);
  }

  readBuf(n: number): Uint8Array {
    return this.mem.peek(BUF, n);
  }
}

export const RPCI = 0x49435052;
export const TCLO = 0x4f4c4354;
export const COOKIE = 0x80000000;

/** Options that model one real client's habits. */
export interface ClientStyle {
  /** Use `out` instead of `in` for LB calls (Rust vmw_backdoor). */
  useOut?: boolean;
  /** Use HB when offered (open-vm-tools, Go), always (Rust), or never. */
  hb?: "offered" | "always" | "never";
  /** Send RECVSTATUS after a receive (everyone but Rust). */
  recvStatus?: boolean;
  /** Pack a 3-byte LB tail as {0, b2, b1, b0} (Go vmw-guestinfo's bug). */
  goTailBug?: boolean;
  /** Garbage for unused OPEN inputs (open-vm-tools leaves EDX high 0x2020, leftover ESI/EDI). */
  openGarbage?: boolean;
}

/** A message channel as open-vm-tools' `lib/message/message.c` (and Go/Rust/Linux, by style) drives it. */
export class ClientChannel {
  id = -1;
  cookieHigh = 0;
  cookieLow = 0;
  /** EDX as returned by OPEN (Rust keeps the whole register). */
  openEdx = 0;

  constructor(
    readonly g: Guest,
    readonly style: ClientStyle = {},
  ) {}

  private lb(r: Partial<Regs32>): Regs32 {
    return this.g.call(this.style.useOut ? "out" : "in", r);
  }

  private edx(port: number): number {
    return this.style.useOut ? ((this.openEdx & 0xffff0000) | port) >>> 0 : ((this.id << 16) | port) >>> 0;
  }

  /** OPEN with the cookie flag, retrying without it on failure. Returns false if both fail. */
  open(proto: number): boolean {
    for (const flags of [COOKIE, 0]) {
      const garbage = this.style.openGarbage ? { edx: 0x2020_0000 | LB, esi: 0xdeadbeef, edi: 0xfeedface } : { edx: LB };
      const out = this.lb({ ecx: 0x0000001e, ebx: (proto | flags) >>> 0, ...garbage });
      if ((out.ecx >>> 16) & 1) {
        this.id = out.edx >>> 16;
        this.openEdx = out.edx;
        if (flags) {
          this.cookieHigh = out.esi;
          this.cookieLow = out.edi;
        }
        return true;
      }
    }
    return false;
  }

  private step(type: number, ebx: number): Regs32 {
    return this.lb({ ecx: ((type << 16) | 0x1e) >>> 0, ebx, edx: this.edx(LB), esi: this.cookieHigh, edi: this.cookieLow });
  }

  /** Send a message; returns false on any failure. */
  send(msg: Uint8Array): boolean {
    const r = this.step(1, msg.length);
    if (this.style.useOut ? r.ecx === 0 : ((r.ecx >>> 16) & 1) === 0) return false;
    if (msg.length === 0) return true;
    const hbOffered = ((r.ecx >>> 16) & 0x80) !== 0;
    const useHb = this.style.hb === "always" || (this.style.hb !== "never" && hbOffered);
    if (useHb) {
      this.g.writeBuf(msg);
      const o = this.g.call("outsb", { ebx: 0x00010000, ecx: msg.length, edx: this.edx(HB), esi: BUF, edi: this.cookieLow, ebp: this.cookieHigh });
      return o.ebx !== 0 && ((o.ebx >>> 16) & 1) === 1;
    }
    for (let i = 0; i < msg.length; i += 4) {
      const n = Math.min(4, msg.length - i);
      let w = 0;
      if (n === 3 && this.style.goTailBug) w = (msg[i]! << 24) | (msg[i + 1]! << 16) | (msg[i + 2]! << 8); // {0, b2, b1, b0}
      else for (let k = 0; k < n; k++) w |= msg[i + k]! << (8 * k);
      const p = this.step(2, w >>> 0);
      if (((p.ecx >>> 16) & 1) === 0) return false;
    }
    return true;
  }

  /** Receive a message: null if none is waiting, false on failure. */
  receive(): Uint8Array | null | false {
    const r = this.step(3, 0x12345678 /* garbage, as clients leave it */);
    if (((r.ecx >>> 16) & 1) === 0) return false;
    if (this.style.hb !== "always" && ((r.ecx >>> 16) & 2) === 0) return null;
    if (this.style.hb !== "always" && r.edx >>> 16 !== 1) return false;
    const size = r.ebx;
    if (size === 0 && ((r.ecx >>> 16) & 2) === 0) return null;
    const hbOffered = ((r.ecx >>> 16) & 0x80) !== 0;
    let data: Uint8Array;
    if (this.style.hb === "always" || (this.style.hb !== "never" && hbOffered)) {
      const o = this.g.call("insb", { ebx: 0x00010000, ecx: size, edx: this.edx(HB), esi: this.cookieHigh, edi: BUF, ebp: this.cookieLow });
      if (o.ebx === 0) return false;
      data = this.g.readBuf(size);
    } else {
      data = new Uint8Array(size);
      for (let i = 0; i < size; i += 4) {
        const p = this.step(4, 1);
        if (((p.ecx >>> 16) & 1) === 0 || p.edx >>> 16 !== 2) return false;
        for (let k = 0; k < 4 && i + k < size; k++) data[i + k] = (p.ebx >>> (8 * k)) & 0xff;
      }
    }
    if (this.style.recvStatus !== false) this.step(5, 1);
    return data;
  }

  close(): boolean {
    return ((this.step(6, 0).ecx >>> 16) & 1) === 1;
  }
}

const enc = new TextEncoder();
const dec = new TextDecoder();

/** `RpcOut_sendOne` (vmware-rpctool, Go rpcout): one channel per command; returns the reply text or null. */
export function rpcOne(g: Guest, command: string, style: ClientStyle = {}, nul = false): string | null {
  const ch = new ClientChannel(g, style);
  if (!ch.open(RPCI)) return null;
  const msg = enc.encode(command + (nul ? "\0" : ""));
  if (!ch.send(msg)) return null;
  const r = ch.receive();
  ch.close();
  return r === null || r === false ? null : dec.decode(r);
}
