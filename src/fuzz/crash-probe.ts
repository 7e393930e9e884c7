/**
 * How a traced program is about to die: read at the stop where the tracer is about to deliver a fatal signal
 * (`StopLoop`'s `onSignal`), while the thread is still stopped — signal, `si_code`, fault address, RIP, the mapping
 * RIP lies in (from `/proc/PID/maps`) and RIP's offset inside that mapping's file, which stays the same from run to
 * run whatever ASLR does, so it can key a finding.
 *
 * Emulates: nothing. Source of truth: `sigaction(2)` (siginfo layout: si_signo, si_errno, si_code, then si_addr at
 * byte 16 for SIGSEGV/SIGBUS/SIGILL/SIGFPE), `proc(5)` (`maps`, `mem`), Linux `arch/x86/include/asm/user_64.h`.
 * A SIGSEGV with `si_code` SI_KERNEL on an I/O instruction (IN/OUT/INS/OUTS/RDPMC) is the #GP the CPU raises when
 * no hypervisor takes the access: what real hardware, and VMware for a port it does not own, does. It is marked
 * `ioGp` and is not a finding (`docs/fuzzing.md`).
 * Does not: unwind the stack (an abort's RIP is inside libc's `raise`; such findings share one key).
 */
import { closeSync, openSync, readFileSync, readSync } from "node:fs";
import { PTRACE, SI_KERNEL, UREG, USER_REGS_SIZE, type Libc } from "../host/ptrace/libc.js";
import { ArrayByteSource, DecodedInstruction, DecodeStatus, decodeInstruction, MAX_INSTRUCTION_LENGTH, Op } from "../x86/decoder.js";
import { CpuMode } from "../x86/cpu-mode.js";

/** A crash as seen at its signal stop. */
export interface CrashInfo {
  /** The fatal signal's number. */
  signal: number;
  /** `si_code` (SI_KERNEL = 0x80 for #GP; SEGV_MAPERR 1, SEGV_ACCERR 2; SI_TKILL −6 for `abort`). */
  code: number;
  /** `si_addr` in hex (the faulting address; 0 for #GP). */
  addr: string;
  /** RIP in hex. */
  rip: string;
  /** The file (or `[stack]`, `[anon]`, …) RIP lies in. */
  mapping: string;
  /** RIP's offset in that file (file offset of the mapping + distance from its start), hex. */
  offset: string;
  /** A #GP on an I/O instruction: what hardware does, not a finding. */
  ioGp: boolean;
}

const u64 = (v: Uint8Array, at: number): bigint => new DataView(v.buffer, v.byteOffset + at, 8).getBigUint64(0, true);

/** Reads crashes with one tracer's libc. */
export class CrashProbe {
  private readonly si: { ptr: unknown; view: Uint8Array };
  private readonly regs: { ptr: unknown; view: Uint8Array };

  constructor(private readonly c: Libc) {
    this.si = c.alloc(128);
    this.regs = c.alloc(USER_REGS_SIZE);
  }

  /** The crash of stopped thread `tid` about to get `sig`, or null if it cannot be read (the thread vanished). */
  read(tid: number, sig: number): CrashInfo | null {
    if (this.c.ptraceBuf(PTRACE.GETSIGINFO, tid, 0, this.si.ptr) !== 0) return null;
    if (this.c.ptraceBuf(PTRACE.GETREGS, tid, 0, this.regs.ptr) !== 0) return null;
    const si = this.si.view;
    const code = new DataView(si.buffer, si.byteOffset, 16).getInt32(8, true);
    const addr = u64(si, 16);
    const rip = u64(this.regs.view, UREG.rip * 8);
    const cs = Number(u64(this.regs.view, UREG.cs * 8) & 0xffffn);
    const { mapping, offset } = mappingOf(tid, rip);
    const ioGp = sig === 11 && code === SI_KERNEL && isIoInstruction(tid, rip, cs === 0x23 ? CpuMode.COMPAT32 : CpuMode.LONG64);
    return {
      signal: sig,
      code,
      addr: `0x${addr.toString(16)}`,
      rip: `0x${rip.toString(16)}`,
      mapping,
      offset: `0x${offset.toString(16)}`,
      ioGp,
    };
  }
}

/** The mapping of `/proc/tid/maps` holding `addr` and the file offset of `addr` in it. */
export function mappingOf(tid: number, addr: bigint): { mapping: string; offset: bigint } {
  let text = "";
  try {
    text = readFileSync(`/proc/${tid}/maps`, "latin1");
  } catch {
    return { mapping: "(no maps)", offset: addr };
  }
  for (const line of text.split("\n")) {
    const m = /^([0-9a-f]+)-([0-9a-f]+) \S+ ([0-9a-f]+) \S+ \d+\s*(.*)$/.exec(line);
    if (m === null) continue;
    const lo = BigInt(`0x${m[1]}`);
    const hi = BigInt(`0x${m[2]}`);
    if (addr >= lo && addr < hi) return { mapping: m[4]!.trim() || "[anon]", offset: addr - lo + BigInt(`0x${m[3]}`) };
  }
  return { mapping: "(unmapped)", offset: addr };
}

/** Whether the bytes at `rip` are an IN/OUT/INS/OUTS/RDPMC. */
function isIoInstruction(tid: number, rip: bigint, mode: CpuMode): boolean {
  let fd = -1;
  try {
    fd = openSync(`/proc/${tid}/mem`, "r");
    const b = new Uint8Array(MAX_INSTRUCTION_LENGTH);
    const n = readSync(fd, b, 0, b.length, rip);
    const out = new DecodedInstruction();
    const st = decodeInstruction(new ArrayByteSource(b.subarray(0, n)), mode, out);
    return st === DecodeStatus.OK && out.op !== Op.NONE;
  } catch {
    return false;
  } finally {
    if (fd >= 0) closeSync(fd);
  }
}
