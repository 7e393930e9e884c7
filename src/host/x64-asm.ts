/**
 * A very small x86-64 assembler: the handful of instruction forms vmport's own run-time machine code needs (the
 * tracer's native step, `tracer/native-step.ts`), written as readable TypeScript calls and encoded here without
 * loading a disassembler library at start-up.
 *
 * Emulates: nothing. Source of truth: Intel SDM vol. 2 (REX prefixes, ModRM/SIB, the opcode of each form listed
 * below). Every form is checked in `x64-asm.test.ts` by decoding what it emits with iced-x86 and comparing the text
 * with {@link Asm.listing}.
 * Forms: `push`/`pop` r64; `mov` r32/r64 ← imm, reg, [base+disp32], and the stores; `lea` r64; `cmp`, `test`, `and`,
 * `or`, `add`, `sub` with imm32 on a register or a dword in memory; `xor`/`test` r32, r32; `dec`, `neg`; `jcc`/`jmp`
 * rel32 to labels; `syscall`, `rdtsc`, `rdtscp`, `pause`, `ret`.
 * Does not: pick short encodings (every memory operand is [base + disp32], every branch rel32); encode index
 * registers, RIP-relative or 8/16-bit operands.
 */
import { le32Bytes } from "../core/bytes.js";

/** General register numbers as encoded (ModRM.reg/rm with REX.R/B for 8–15). */
export const R = {
  rax: 0,
  rcx: 1,
  rdx: 2,
  rbx: 3,
  rsp: 4,
  rbp: 5,
  rsi: 6,
  rdi: 7,
  r8: 8,
  r9: 9,
  r10: 10,
  r11: 11,
  r12: 12,
  r13: 13,
  r14: 14,
  r15: 15,
} as const;
/** A register number (0–15). */
export type Reg = (typeof R)[keyof typeof R];

const NAMES64 = ["rax", "rcx", "rdx", "rbx", "rsp", "rbp", "rsi", "rdi", "r8", "r9", "r10", "r11", "r12", "r13", "r14", "r15"];
const NAMES32 = ["eax", "ecx", "edx", "ebx", "esp", "ebp", "esi", "edi", "r8d", "r9d", "r10d", "r11d", "r12d", "r13d", "r14d", "r15d"];

/** Condition codes of `jcc` (the low nibble of 0F 8x). */
export const CC = { o: 0, no: 1, b: 2, ae: 3, e: 4, ne: 5, be: 6, a: 7, s: 8, ns: 9, l: 12, ge: 13, le: 14, g: 15 } as const;
/** One of the {@link CC} values. */
export type Cond = (typeof CC)[keyof typeof CC];
const CC_NAMES: Record<number, string> = {
  0: "o",
  1: "no",
  2: "b",
  3: "ae",
  4: "e",
  5: "ne",
  6: "be",
  7: "a",
  8: "s",
  9: "ns",
  12: "l",
  13: "ge",
  14: "le",
  15: "g",
};

/** A memory operand `[base + disp]`. */
export interface Mem {
  /** The base register. */
  base: Reg;
  /** Signed 32-bit displacement in bytes. */
  disp: number;
}

/** `[base + disp]` (disp a signed 32-bit value). */
export function mem(base: Reg, disp = 0): Mem {
  if (!Number.isInteger(disp) || disp < -0x8000_0000 || disp > 0x7fff_ffff)
    throw new RangeError(`displacement ${disp} is not a signed 32-bit value`);
  return { base, disp };
}

/** A number as iced-x86's Intel formatter prints it: decimal below 10, else upper-case hex with an `h` suffix. */
export function hexText(v: bigint | number): string {
  const n = BigInt(v);
  if (n >= 0n && n < 10n) return n.toString();
  const s = n.toString(16).toUpperCase();
  return (/^[A-F]/.test(s) ? "0" : "") + s + "h";
}

function memText(m: Mem): string {
  if (m.disp === 0) return `[${NAMES64[m.base]}]`;
  return m.disp < 0 ? `[${NAMES64[m.base]}-${hexText(-m.disp)}]` : `[${NAMES64[m.base]}+${hexText(m.disp)}]`;
}

function imm32Bytes(v: number): number[] {
  if (!Number.isInteger(v) || v < -0x8000_0000 || v > 0xffff_ffff) throw new RangeError(`immediate ${v} does not fit 32 bits`);
  return le32Bytes(v >>> 0);
}

/** Group-1 ALU operations with an imm32 (81 /digit). */
const ALU = { add: 0, or: 1, and: 4, sub: 5, cmp: 7 } as const;

/** One assembled program: call the instruction methods in order, then {@link bytes}. */
export class Asm {
  private readonly code: number[] = [];
  private readonly text: string[] = [];
  private readonly offsets: number[] = [];
  private readonly labels = new Map<string, number>();
  private readonly fixups: { at: number; label: string }[] = [];

  private emit(text: string, bytes: number[]): this {
    this.offsets.push(this.code.length);
    this.text.push(text);
    this.code.push(...bytes);
    return this;
  }

  /** REX prefix for (W, reg field, rm/base field), or nothing when none is needed. */
  private rex(w: boolean, reg: number, rm: number): number[] {
    const v = 0x40 | (w ? 8 : 0) | (reg >= 8 ? 4 : 0) | (rm >= 8 ? 1 : 0);
    return v === 0x40 ? [] : [v];
  }

  /** ModRM (and SIB, disp32) for a memory operand with `reg` in ModRM.reg. */
  private modrmMem(reg: number, m: Mem): number[] {
    const out = [0x80 | ((reg & 7) << 3) | (m.base & 7)];
    if ((m.base & 7) === 4) out.push(0x24); // rsp/r12 as base need a SIB byte (no index)
    return [...out, ...imm32Bytes(m.disp)];
  }

  private modrmReg(reg: number, rm: number): number {
    return 0xc0 | ((reg & 7) << 3) | (rm & 7);
  }

  /** Define `name` at the current position. */
  label(name: string): this {
    if (this.labels.has(name)) throw new Error(`label ${name} defined twice`);
    this.labels.set(name, this.code.length);
    return this;
  }

  /** `push r64`. */
  push(r: Reg): this {
    return this.emit(`push ${NAMES64[r]}`, [...(r >= 8 ? [0x41] : []), 0x50 + (r & 7)]);
  }

  /** `pop r64`. */
  pop(r: Reg): this {
    return this.emit(`pop ${NAMES64[r]}`, [...(r >= 8 ? [0x41] : []), 0x58 + (r & 7)]);
  }

  /** `mov r32, imm32` (zero-extends into the 64-bit register). */
  movImm32(r: Reg, v: number): this {
    return this.emit(`mov ${NAMES32[r]},${hexText(v >>> 0)}`, [...this.rex(false, 0, r), 0xb8 + (r & 7), ...imm32Bytes(v)]);
  }

  /** `mov r64, simm32` (sign-extended). */
  movImm64(r: Reg, v: number): this {
    const text = hexText(BigInt.asUintN(64, BigInt(v | 0)));
    return this.emit(`mov ${NAMES64[r]},${text}`, [...this.rex(true, 0, r), 0xc7, this.modrmReg(0, r), ...imm32Bytes(v | 0)]);
  }

  /** `mov dst32, src32`. */
  movReg32(dst: Reg, src: Reg): this {
    return this.emit(`mov ${NAMES32[dst]},${NAMES32[src]}`, [...this.rex(false, src, dst), 0x89, this.modrmReg(src, dst)]);
  }

  /** `mov dst64, src64`. */
  movReg64(dst: Reg, src: Reg): this {
    return this.emit(`mov ${NAMES64[dst]},${NAMES64[src]}`, [...this.rex(true, src, dst), 0x89, this.modrmReg(src, dst)]);
  }

  /** `mov r32, [m]`. */
  load32(r: Reg, m: Mem): this {
    return this.emit(`mov ${NAMES32[r]},${memText(m)}`, [...this.rex(false, r, m.base), 0x8b, ...this.modrmMem(r, m)]);
  }

  /** `mov r64, [m]`. */
  load64(r: Reg, m: Mem): this {
    return this.emit(`mov ${NAMES64[r]},${memText(m)}`, [...this.rex(true, r, m.base), 0x8b, ...this.modrmMem(r, m)]);
  }

  /** `mov [m], r32`. */
  store32(m: Mem, r: Reg): this {
    return this.emit(`mov ${memText(m)},${NAMES32[r]}`, [...this.rex(false, r, m.base), 0x89, ...this.modrmMem(r, m)]);
  }

  /** `mov [m], r64`. */
  store64(m: Mem, r: Reg): this {
    return this.emit(`mov ${memText(m)},${NAMES64[r]}`, [...this.rex(true, r, m.base), 0x89, ...this.modrmMem(r, m)]);
  }

  /** `mov dword [m], imm32`. */
  storeImm32(m: Mem, v: number): this {
    return this.emit(`mov dword ptr ${memText(m)},${hexText(v >>> 0)}`, [
      ...this.rex(false, 0, m.base),
      0xc7,
      ...this.modrmMem(0, m),
      ...imm32Bytes(v),
    ]);
  }

  /** `lea r64, [m]`. */
  lea(r: Reg, m: Mem): this {
    return this.emit(`lea ${NAMES64[r]},${memText(m)}`, [...this.rex(true, r, m.base), 0x8d, ...this.modrmMem(r, m)]);
  }

  private alu(op: keyof typeof ALU, r: Reg, v: number): this {
    return this.emit(`${op} ${NAMES32[r]},${hexText(v >>> 0)}`, [
      ...this.rex(false, 0, r),
      0x81,
      this.modrmReg(ALU[op], r),
      ...imm32Bytes(v),
    ]);
  }

  /** `cmp r32, imm32`. */
  cmpImm(r: Reg, v: number): this {
    return this.alu("cmp", r, v);
  }

  /** `and r32, imm32`. */
  andImm(r: Reg, v: number): this {
    return this.alu("and", r, v);
  }

  /** `or r32, imm32`. */
  orImm(r: Reg, v: number): this {
    return this.alu("or", r, v);
  }

  /** `add r32, imm32`. */
  addImm(r: Reg, v: number): this {
    return this.alu("add", r, v);
  }

  /** `sub r32, imm32`. */
  subImm(r: Reg, v: number): this {
    return this.alu("sub", r, v);
  }

  /** `cmp dword [m], imm32`. */
  cmpMemImm(m: Mem, v: number): this {
    return this.emit(`cmp dword ptr ${memText(m)},${hexText(v >>> 0)}`, [
      ...this.rex(false, 0, m.base),
      0x81,
      ...this.modrmMem(7, m),
      ...imm32Bytes(v),
    ]);
  }

  /** `test dword [m], imm32`. */
  testMemImm(m: Mem, v: number): this {
    return this.emit(`test dword ptr ${memText(m)},${hexText(v >>> 0)}`, [
      ...this.rex(false, 0, m.base),
      0xf7,
      ...this.modrmMem(0, m),
      ...imm32Bytes(v),
    ]);
  }

  /** `test a32, b32`. */
  testReg32(a: Reg, b: Reg): this {
    return this.emit(`test ${NAMES32[a]},${NAMES32[b]}`, [...this.rex(false, b, a), 0x85, this.modrmReg(b, a)]);
  }

  /** `xor dst32, src32` (`xor r, r` zeroes the whole 64-bit register). */
  xorReg32(dst: Reg, src: Reg): this {
    return this.emit(`xor ${NAMES32[dst]},${NAMES32[src]}`, [...this.rex(false, src, dst), 0x31, this.modrmReg(src, dst)]);
  }

  /** `dec r32`. */
  dec32(r: Reg): this {
    return this.emit(`dec ${NAMES32[r]}`, [...this.rex(false, 0, r), 0xff, this.modrmReg(1, r)]);
  }

  /** `neg r32`. */
  neg32(r: Reg): this {
    return this.emit(`neg ${NAMES32[r]}`, [...this.rex(false, 0, r), 0xf7, this.modrmReg(3, r)]);
  }

  /** `jcc label` (rel32). */
  jcc(cc: Cond, label: string): this {
    this.emit(`j${CC_NAMES[cc]} ${label}`, [0x0f, 0x80 + cc, 0, 0, 0, 0]);
    this.fixups.push({ at: this.code.length - 4, label });
    return this;
  }

  /** `jmp label` (rel32). */
  jmp(label: string): this {
    this.emit(`jmp ${label}`, [0xe9, 0, 0, 0, 0]);
    this.fixups.push({ at: this.code.length - 4, label });
    return this;
  }

  /** `syscall`: RAX = number, arguments in RDI, RSI, RDX, R10, R8, R9; RCX and R11 are clobbered. */
  syscall(): this {
    return this.emit("syscall", [0x0f, 0x05]);
  }

  /** `rdtsc`: EDX:EAX = TSC. */
  rdtsc(): this {
    return this.emit("rdtsc", [0x0f, 0x31]);
  }

  /** `rdtscp`: EDX:EAX = TSC, ECX = IA32_TSC_AUX (Linux keeps the CPU number in its low 12 bits). */
  rdtscp(): this {
    return this.emit("rdtscp", [0x0f, 0x01, 0xf9]);
  }

  /** `pause` (spin-wait hint). */
  pause(): this {
    return this.emit("pause", [0xf3, 0x90]);
  }

  /** `ret`. */
  ret(): this {
    return this.emit("ret", [0xc3]);
  }

  /** The machine code, with every branch resolved. Throws for a label never defined. */
  bytes(): number[] {
    const out = this.code.slice();
    for (const f of this.fixups) {
      const target = this.labels.get(f.label);
      if (target === undefined) throw new Error(`label ${f.label} is not defined`);
      const rel = imm32Bytes(target - (f.at + 4));
      out.splice(f.at, 4, ...rel);
    }
    return out;
  }

  /** One line per instruction: its offset and text (branches name their label). */
  listing(): { offset: number; text: string }[] {
    return this.text.map((text, i) => ({ offset: this.offsets[i]!, text }));
  }

  /** Offset of a defined label. */
  labelOffset(name: string): number {
    const v = this.labels.get(name);
    if (v === undefined) throw new Error(`label ${name} is not defined`);
    return v;
  }
}
