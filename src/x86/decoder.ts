/**
 * Decoder for the instructions a VMware-backdoor #GP intercept must understand.
 *
 * Emulates: the x86 front end for IN (E4, E5, EC, ED), OUT (E6, E7, EE, EF), INS (6C, 6D), OUTS (6E, 6F) and
 * RDPMC (0F 33) in every CPU mode: legacy prefixes 66, 67, F2, F3, F0 and the segment overrides 2E/36/3E/26/64/65,
 * repeated in any order and number; REX (40–4F) only in 64-bit mode and only when it immediately precedes the
 * opcode (a legacy prefix after it cancels it); REX.W cancels 66 and I/O never exceeds 32 bits; LOCK ⇒ #UD; an
 * instruction longer than 15 bytes ⇒ #GP.
 * Source of truth: Intel SDM vol. 2 §2.1–2.2 (prefixes, REX), "IN", "INS", "OUT", "OUTS", "RDPMC"; checked against
 * iced-x86 by a differential property test (`decoder.diff.test.ts`).
 * Does not: decode any other instruction — their first byte after the prefixes yields op = null and no length.
 *
 * Bytes come from a {@link ByteSource} one at a time so the fetcher can stop at a page boundary and read the next
 * page only if the decoder really needs a byte from it.
 */
import { CpuMode, defaultAddressSize, defaultOperandSize, overriddenAddressSize } from "./cpu-mode.js";
import { Seg } from "./cpu-state.js";

/** Architectural maximum instruction length (SDM vol. 2 §2.3.11). */
export const MAX_INSTRUCTION_LENGTH = 15;

/** The instruction kinds the decoder recognises. */
export const Op = { NONE: 0, IN: 1, OUT: 2, INS: 3, OUTS: 4, RDPMC: 5 } as const;
/** One of the {@link Op} values. */
export type Op = (typeof Op)[keyof typeof Op];
/** Lowercase names of {@link Op}, `null` for NONE (the CLI's JSON). */
export const OP_NAMES: readonly (string | null)[] = [null, "in", "out", "ins", "outs", "rdpmc"];

/** Outcome of a decode. */
export const DecodeStatus = {
  /** A recognised instruction; all fields are valid. */
  OK: 0,
  /** The first instruction is not one of ours; only `prefixLength` is meaningful. */
  NOT_IO: 1,
  /** More than 15 bytes: the CPU raises #GP(0). */
  TOO_LONG: 2,
  /** LOCK on a recognised instruction: the CPU raises #UD. */
  LOCK: 3,
  /** A byte the decoder needed was not available (fetch fault or end of input) at offset `missingAt`. */
  TRUNCATED: 4,
} as const;
/** One of the {@link DecodeStatus} values. */
export type DecodeStatus = (typeof DecodeStatus)[keyof typeof DecodeStatus];

/** Where the decoder reads bytes: `byteAt(i)` returns byte `i` of the instruction, or -1 if unavailable. */
export interface ByteSource {
  /** Byte `i` of the instruction (0-based, `i` < 15), or -1 when it cannot be read. */
  byteAt(i: number): number;
}

/** A decoded instruction. One instance is reused by the intercept: copy what you keep. */
export class DecodedInstruction {
  /** Whether the bytes decoded to one of the supported instructions, and if not why. */
  status: DecodeStatus = DecodeStatus.NOT_IO;
  /** Which instruction (IN, OUT, INS, OUTS, RDPMC), or NONE. */
  op: Op = Op.NONE;
  /** Element size in bytes: 1, 2 or 4 (0 for RDPMC). */
  size = 0;
  /** Total length in bytes including prefixes (0 unless OK or LOCK). */
  length = 0;
  /** True for INS/OUTS carrying F2 or F3 (both repeat string I/O); false for every other op. */
  rep = false;
  /** Immediate port for E4–E7, or -1 when the port is in DX. */
  portImm = -1;
  /** Address size in bytes (2, 4 or 8): selects SI/ESI/RSI, DI/EDI/RDI and CX/ECX/RCX for string I/O. */
  addressSize: 2 | 4 | 8 = 8;
  /** Source segment of OUTS (DS unless overridden). INS always writes ES. */
  segment: number = Seg.DS;
  /** LOCK prefix seen. */
  lock = false;
  /** Offset of the byte that was missing (TRUNCATED only). */
  missingAt = -1;

  /** Reset to the NOT_IO state. */
  reset(): void {
    this.status = DecodeStatus.NOT_IO;
    this.op = Op.NONE;
    this.size = 0;
    this.length = 0;
    this.rep = false;
    this.portImm = -1;
    this.addressSize = 8;
    this.segment = Seg.DS;
    this.lock = false;
    this.missingAt = -1;
  }
}

// Prefix classes, one table lookup per byte instead of a chain of compares.
const P_NONE = 0;
const P_OPSIZE = 1; // 66
const P_ADSIZE = 2; // 67
const P_REP = 3; // F2, F3
const P_LOCK = 4; // F0
const P_SEG = 5; // 26 2E 36 3E
const P_FS = 6; // 64
const P_GS = 7; // 65
const P_REX = 8; // 40–4F (64-bit mode only)
const PREFIX_CLASS = new Uint8Array(256);
PREFIX_CLASS[0x66] = P_OPSIZE;
PREFIX_CLASS[0x67] = P_ADSIZE;
PREFIX_CLASS[0xf2] = P_REP;
PREFIX_CLASS[0xf3] = P_REP;
PREFIX_CLASS[0xf0] = P_LOCK;
for (const b of [0x26, 0x2e, 0x36, 0x3e]) PREFIX_CLASS[b] = P_SEG;
PREFIX_CLASS[0x64] = P_FS;
PREFIX_CLASS[0x65] = P_GS;
for (let b = 0x40; b <= 0x4f; b++) PREFIX_CLASS[b] = P_REX;

// One-byte opcodes we decode: low 3 bits = Op, bit 3 = byte-sized, bit 4 = imm8 port. 0 = not ours.
const O_BYTE = 8;
const O_IMM = 16;
const OPCODE_INFO = new Uint8Array(256);
OPCODE_INFO[0xe4] = Op.IN | O_BYTE | O_IMM; // in al, imm8
OPCODE_INFO[0xe5] = Op.IN | O_IMM; // in eAX, imm8
OPCODE_INFO[0xe6] = Op.OUT | O_BYTE | O_IMM; // out imm8, al
OPCODE_INFO[0xe7] = Op.OUT | O_IMM; // out imm8, eAX
OPCODE_INFO[0xec] = Op.IN | O_BYTE; // in al, dx
OPCODE_INFO[0xed] = Op.IN; // in eAX, dx
OPCODE_INFO[0xee] = Op.OUT | O_BYTE; // out dx, al
OPCODE_INFO[0xef] = Op.OUT; // out dx, eAX
OPCODE_INFO[0x6c] = Op.INS | O_BYTE; // insb
OPCODE_INFO[0x6d] = Op.INS; // insw/insd
OPCODE_INFO[0x6e] = Op.OUTS | O_BYTE; // outsb
OPCODE_INFO[0x6f] = Op.OUTS; // outsw/outsd

/**
 * Decode the instruction at the start of `src` for CPU `mode` into `out`.
 * Never throws; every guest byte string ends in one of the {@link DecodeStatus} outcomes.
 */
export function decodeInstruction(src: ByteSource, mode: CpuMode, out: DecodedInstruction): DecodeStatus {
  const long = mode === CpuMode.LONG64;
  let opsize = false; // 66 seen
  let adsize = false; // 67 seen
  let rep = false;
  let lock = false;
  let rexW = false; // REX.W of a REX that is still the last prefix
  let seg: number = Seg.DS;
  let i = 0;
  let b: number;
  for (;;) {
    if (i >= MAX_INSTRUCTION_LENGTH) return finish(out, DecodeStatus.TOO_LONG);
    b = src.byteAt(i);
    if (b < 0) return truncated(out, i);
    const k = PREFIX_CLASS[b]!;
    if (k === P_NONE) break;
    if (k === P_REX) {
      if (!long) break; // INC/DEC outside 64-bit mode
      // REX counts only if the next byte is the opcode; remember W and keep scanning.
      rexW = (b & 0x08) !== 0;
      i++;
      continue;
    }
    switch (k) {
      case P_OPSIZE:
        opsize = true;
        break;
      case P_ADSIZE:
        adsize = true;
        break;
      case P_REP:
        rep = true;
        break;
      case P_LOCK:
        lock = true;
        break;
      case P_FS:
        seg = Seg.FS;
        break;
      case P_GS:
        seg = Seg.GS;
        break;
      default:
        // 26→ES 2E→CS 36→SS 3E→DS. In 64-bit mode these are null prefixes and do not displace FS/GS.
        if (!long || (seg !== Seg.FS && seg !== Seg.GS)) seg = (b >>> 3) & 3;
    }
    rexW = false; // a legacy prefix after a REX cancels the REX
    i++;
  }
  // b is the first opcode byte, at offset i.
  let info = OPCODE_INFO[b]!;
  let length: number;
  let portImm = -1;
  if (info !== 0) {
    length = i + 1;
    if (info & O_IMM) {
      if (length >= MAX_INSTRUCTION_LENGTH) return finish(out, DecodeStatus.TOO_LONG);
      portImm = src.byteAt(length);
      if (portImm < 0) return truncated(out, length);
      length++;
    }
  } else if (b === 0x0f) {
    if (i + 1 >= MAX_INSTRUCTION_LENGTH) return finish(out, DecodeStatus.TOO_LONG);
    const b2 = src.byteAt(i + 1);
    if (b2 < 0) return truncated(out, i + 1);
    if (b2 !== 0x33) return finish(out, DecodeStatus.NOT_IO);
    info = Op.RDPMC;
    length = i + 2;
  } else return finish(out, DecodeStatus.NOT_IO);
  const op = (info & 7) as Op;
  let size = 0;
  if (op !== Op.RDPMC) {
    if (info & O_BYTE) size = 1;
    else if (rexW)
      size = 4; // REX.W cancels 66; there is no 64-bit I/O
    else {
      const def = defaultOperandSize(mode);
      size = opsize ? 6 - def : def; // 66 toggles 2 ↔ 4
    }
  }
  out.op = op;
  out.size = size;
  out.length = length;
  out.rep = rep && (op === Op.INS || op === Op.OUTS);
  out.portImm = portImm;
  out.addressSize = adsize ? overriddenAddressSize(mode) : defaultAddressSize(mode);
  out.segment = seg;
  out.lock = lock;
  out.missingAt = -1;
  out.status = lock ? DecodeStatus.LOCK : DecodeStatus.OK;
  return out.status;
}

/** End a decode that found no instruction of ours (TOO_LONG or NOT_IO). */
function finish(out: DecodedInstruction, status: DecodeStatus): DecodeStatus {
  out.reset();
  out.status = status;
  return status;
}

function truncated(out: DecodedInstruction, at: number): DecodeStatus {
  out.reset();
  out.missingAt = at;
  out.status = DecodeStatus.TRUNCATED;
  return DecodeStatus.TRUNCATED;
}

/** A {@link ByteSource} over a byte array: bytes past its end are unavailable. */
export class ArrayByteSource implements ByteSource {
  /** A source over `bytes`; the array is not copied. */
  constructor(private readonly bytes: Uint8Array) {}
  /** Byte `i` of the array, or -1 past its end. */
  byteAt(i: number): number {
    return i < this.bytes.length ? this.bytes[i]! : -1;
  }
}
