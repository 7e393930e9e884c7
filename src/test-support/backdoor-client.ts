/**
 * A ring-3 guest for tests: it makes backdoor calls by executing real instruction bytes (in/out/rep outsb/
 * rep insb) through the VM's #GP intercept, with buffers in guest memory. The message-channel client is the one
 * the Node guest library uses (`channels/message-client.ts`), here over this guest's transport; its styles model
 * the register-level habits of each real client (`docs/clients.md`).
 */
import assert from "node:assert/strict";
import { CpuMode } from "../x86/cpu-mode.js";
import { CpuState } from "../x86/cpu-state.js";
import { PAGE_SIZE, PagedMemory } from "../x86/guest-memory.js";
import { Reg } from "../x86/registers.js";
import { Outcome } from "../vm/exit-result.js";
import type { VirtualMachine } from "../vm/virtual-machine.js";
import { BDOOR_MAGIC, BDOOR_PORT, BDOORHB_PORT } from "../devices/backdoor/constants.js";
import { GUESTMSG_FLAG_COOKIE, Protocol } from "../channels/constants.js";
import { MessageClient, rpcOnce, type BackdoorTransport, type ClientStyle, type Regs32 } from "../channels/message-client.js";

/** The backdoor magic, 0x564D5868. */
export const MAGIC = BDOOR_MAGIC;
/** The LB port, 0x5658. */
export const LB = BDOOR_PORT;
/** The HB port, 0x5659. */
export const HB = BDOORHB_PORT;
export type { Regs32 };

/** Code page layout: one instruction each. */
const CODE = { in: 0x1000, out: 0x1001, outsb: 0x1002, insb: 0x1004 } as const; // ED, EF, F3 6E, F3 6C
/** Guest buffer for HB transfers (72 KiB mapped). */
export const BUF = 0x20000;

function read(r: import("../x86/registers.js").RegisterFile): Regs32 {
  return {
    eax: r.lo(Reg.RAX),
    ebx: r.lo(Reg.RBX),
    ecx: r.lo(Reg.RCX),
    edx: r.lo(Reg.RDX),
    esi: r.lo(Reg.RSI),
    edi: r.lo(Reg.RDI),
    ebp: r.lo(Reg.RBP),
  };
}

/** One guest thread on a VM. */
export class Guest {
  /** The guest thread's vCPU: 64-bit mode, ring 3. */
  readonly cpu = new CpuState({ mode: CpuMode.LONG64, cpl: 3 });
  /** The guest's memory: the code page at 0x1000 and a 72 KiB buffer at {@link BUF}. */
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

  /** Copy `bytes` into the HB buffer at {@link BUF}. */
  writeBuf(bytes: Uint8Array): void {
    this.mem.load(BUF, bytes);
  }

  /** The first `n` bytes of the HB buffer at {@link BUF}. */
  readBuf(n: number): Uint8Array {
    return this.mem.peek(BUF, n);
  }
}

/** The RPCI protocol number for OPEN, "RPCI" (0x49435052). */
export const RPCI = Protocol.RPCI;
/** The TCLO protocol number for OPEN, "TCLO" (0x4F4C4354). */
export const TCLO = Protocol.TCLO;
/** OPEN's flag asking for cookies (0x80000000). */
export const COOKIE = GUESTMSG_FLAG_COOKIE;
export type { ClientStyle };

/** The backdoor as this test guest executes it: instruction bytes through the VM's #GP intercept. */
export function guestTransport(g: Guest): BackdoorTransport {
  return {
    lb: (r, out) => g.call(out ? "out" : "in", r),
    hbSend: (r, data) => {
      g.writeBuf(data);
      return g.call("outsb", { ...r, esi: BUF });
    },
    hbReceive: (r, size) => {
      const regs = g.call("insb", { ...r, edi: BUF });
      return { regs, data: g.readBuf(size) };
    },
  };
}

/** A message channel of this test guest, driven as open-vm-tools (or, by style, Go/Rust/Linux) drives it. */
export class ClientChannel extends MessageClient {
  constructor(
    readonly g: Guest,
    style: ClientStyle = {},
  ) {
    super(guestTransport(g), style);
  }
}

const enc = new TextEncoder();
const dec = new TextDecoder();

/** `RpcOut_sendOne` (vmware-rpctool, Go rpcout): one channel per command; returns the reply text or null. */
export function rpcOne(g: Guest, command: string, style: ClientStyle = {}, nul = false): string | null {
  const r = rpcOnce(guestTransport(g), enc.encode(command + (nul ? "\0" : "")), style);
  return "reply" in r ? dec.decode(r.reply) : null;
}
