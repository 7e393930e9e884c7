/**
 * The x86-64 general-purpose register file with its 8/16/32/64-bit views.
 *
 * Emulates: RAX…R15, RIP and RFLAGS as a hypervisor sees them at an exit, and the architectural write rules:
 * a 32-bit write in 64-bit mode zero-extends, 16- and 8-bit writes merge into the low bits.
 * Source of truth: Intel SDM vol. 1 §3.4.1.1 ("32-bit operands generate a 32-bit result, zero-extended").
 * Does not: model AH/BH/CH/DH (nothing the backdoor decodes writes them), segment or control registers
 * (see `cpu-state.ts`).
 *
 * Each register is two unsigned 32-bit halves in one `Uint32Array`, so the hot path never allocates a bigint.
 */
import { TWO_POW_32, toBigInt64 } from "../core/bits.js";

/** Register numbers, in the hardware encoding order (ModRM/REX), then RIP and RFLAGS. */
export const Reg = {
  RAX: 0,
  RCX: 1,
  RDX: 2,
  RBX: 3,
  RSP: 4,
  RBP: 5,
  RSI: 6,
  RDI: 7,
  R8: 8,
  R9: 9,
  R10: 10,
  R11: 11,
  R12: 12,
  R13: 13,
  R14: 14,
  R15: 15,
  RIP: 16,
  RFLAGS: 17,
} as const;

/**
 * Lower-case names of the registers a backdoor call uses, in the order tools print them (`vmport step`'s `--reg`
 * and output, the test harness's register records).
 */
export const BACKDOOR_REGISTER_NAMES: Readonly<Record<string, number>> = {
  rax: Reg.RAX,
  rbx: Reg.RBX,
  rcx: Reg.RCX,
  rdx: Reg.RDX,
  rsi: Reg.RSI,
  rdi: Reg.RDI,
  rbp: Reg.RBP,
  rsp: Reg.RSP,
  rip: Reg.RIP,
  rflags: Reg.RFLAGS,
};

/** A register number (0…17). */
export type RegNumber = (typeof Reg)[keyof typeof Reg];

/** Number of registers in a {@link RegisterFile}. */
export const REGISTER_COUNT = 18;

/** Lowercase names indexed by register number, as the CLI and traces print them. */
export const REGISTER_NAMES: readonly string[] = [
  "rax",
  "rcx",
  "rdx",
  "rbx",
  "rsp",
  "rbp",
  "rsi",
  "rdi",
  "r8",
  "r9",
  "r10",
  "r11",
  "r12",
  "r13",
  "r14",
  "r15",
  "rip",
  "rflags",
];

/** RFLAGS bits the model reads. */
export const Flags = {
  /** Bit 1 is reserved and always reads 1. */
  RESERVED1: 1 << 1,
  /** Direction flag: string instructions decrement. */
  DF: 1 << 10,
  /** I/O privilege level, bits 12–13. */
  IOPL_SHIFT: 12,
  IOPL_MASK: 3 << 12,
  /** Virtual-8086 mode. */
  VM: 1 << 17,
} as const;

/** A 64-bit register file. All accessors take a register number from {@link Reg}. */
export class RegisterFile {
  /** `[lo0, hi0, lo1, hi1, …]`. Exposed for bulk copies; prefer the accessors. */
  readonly words: Uint32Array;

  /** A register file over `words` (36 u32, lo/hi of each register; shared, not copied), or a new zeroed one. */
  constructor(words?: Uint32Array) {
    this.words = words ?? new Uint32Array(REGISTER_COUNT * 2);
    if (this.words.length !== REGISTER_COUNT * 2) throw new RangeError("RegisterFile needs 36 words");
  }

  /** Low 32 bits (EAX, ECX, …). */
  lo(r: number): number {
    return this.words[r * 2]!;
  }

  /** High 32 bits. */
  hi(r: number): number {
    return this.words[r * 2 + 1]!;
  }

  /** Write the low 32 bits and keep the high 32 bits (what VMware does to non-EAX registers). */
  setLo(r: number, v: number): void {
    this.words[r * 2] = v;
  }

  /** Write the low 32 bits and clear the high 32 bits (a 32-bit register write in 64-bit mode). */
  set32ZeroExtend(r: number, v: number): void {
    this.words[r * 2] = v;
    this.words[r * 2 + 1] = 0;
  }

  /** Low 16 bits (AX, CX, …). */
  get16(r: number): number {
    return this.words[r * 2]! & 0xffff;
  }

  /** Replace only the low 16 bits. */
  set16(r: number, v: number): void {
    const i = r * 2;
    this.words[i] = ((this.words[i]! & 0xffff0000) | (v & 0xffff)) >>> 0;
  }

  /** Low 8 bits (AL, CL, …). */
  get8(r: number): number {
    return this.words[r * 2]! & 0xff;
  }

  /** Replace only the low 8 bits. */
  set8(r: number, v: number): void {
    const i = r * 2;
    this.words[i] = ((this.words[i]! & 0xffffff00) | (v & 0xff)) >>> 0;
  }

  /** The whole register as a bigint. */
  get64(r: number): bigint {
    return toBigInt64(this.words[r * 2]!, this.words[r * 2 + 1]!);
  }

  /** Set the whole register from a bigint (taken modulo 2^64). */
  set64(r: number, v: bigint): void {
    const u = BigInt.asUintN(64, v);
    this.words[r * 2] = Number(u & 0xffffffffn);
    this.words[r * 2 + 1] = Number(u >> 32n);
  }

  /**
   * The register as a number: exact only below 2^53 (e.g. user-space addresses in the lower canonical half).
   * Never used for values handed back to the guest, nor for guest addresses in the engine (those use the halves:
   * the upper canonical half lies above 2^53).
   */
  getNumber(r: number): number {
    return this.words[r * 2 + 1]! * TWO_POW_32 + this.words[r * 2]!;
  }

  /** Write a register of width `bytes` (2, 4 or 8) as an instruction with that operand size would. */
  writeSized(r: number, bytes: 2 | 4 | 8, value: number, zeroExtend32: boolean): void {
    if (bytes === 2) this.set16(r, value);
    else if (bytes === 4) {
      if (zeroExtend32) this.set32ZeroExtend(r, value >>> 0);
      else this.setLo(r, value >>> 0);
    } else {
      this.words[r * 2] = (value % TWO_POW_32) >>> 0;
      this.words[r * 2 + 1] = Math.floor(value / TWO_POW_32) >>> 0;
    }
  }

  /** Read a register of width `bytes` (2, 4 or 8) as a number (8 is exact only below 2^53: see {@link getNumber}). */
  readSized(r: number, bytes: 2 | 4 | 8): number {
    return bytes === 2 ? this.get16(r) : bytes === 4 ? this.lo(r) : this.getNumber(r);
  }

  /** A deep copy. */
  clone(): RegisterFile {
    return new RegisterFile(this.words.slice());
  }

  /** Copy every register from `other`. */
  copyFrom(other: RegisterFile): void {
    this.words.set(other.words);
  }

  /** True when every register equals `other`'s. */
  equals(other: RegisterFile): boolean {
    for (let i = 0; i < this.words.length; i++) if (this.words[i] !== other.words[i]) return false;
    return true;
  }
}
