/**
 * Differential property test: our decoder against iced-x86 (an independent, table-driven x86 decoder) over
 * random prefix/opcode strings in all five CLI modes. 20 000 cases per mode, 100 000 per run; zero disagreements
 * allowed on op, size, length, rep, fault — and on port, address size and OUTS segment as well.
 *
 * Oracle mapping: iced decodes with `NoInvalidCheck`, so LOCK on an I/O instruction comes back as the instruction
 * with `hasLockPrefix` (we say #UD); iced's "invalid instruction" then only means "longer than 15 bytes" (we say
 * #GP), because the generator's non-I/O opcodes are all valid instructions; iced's "no more bytes" is our
 * TRUNCATED.
 */
import { test } from "node:test";
import assert from "node:assert/strict";
import fc from "fast-check";
import * as iced from "iced-x86";
import { CpuMode } from "./cpu-mode.js";
import { Seg } from "./cpu-state.js";
import { ArrayByteSource, DecodeStatus, DecodedInstruction, Op, decodeInstruction } from "./decoder.js";

const { Decoder, DecoderOptions, DecoderError, Code, Mnemonic, OpKind, Register } = iced;

const CASES_PER_MODE = 20_000;

const MODES: [string, CpuMode, number][] = [
  ["real", CpuMode.REAL, 16],
  ["vm86", CpuMode.VM86, 16],
  ["16", CpuMode.PROTECTED16, 16],
  ["32", CpuMode.PROTECTED32, 32],
  ["64", CpuMode.LONG64, 64],
];

const PREFIXES = [0x66, 0x67, 0xf2, 0xf3, 0xf0, 0x2e, 0x36, 0x3e, 0x26, 0x64, 0x65];
const REX = Array.from({ length: 16 }, (_, i) => 0x40 + i);
const OURS = [[0xe4], [0xe5], [0xe6], [0xe7], [0xec], [0xed], [0xee], [0xef], [0x6c], [0x6d], [0x6e], [0x6f], [0x0f, 0x33]];
// Valid instructions in every mode, so that iced's "invalid" can only mean "too long".
const OTHERS = [[0x90], [0xc3], [0xcc], [0xf4], [0x0f, 0x0b], [0x0f, 0x31], [0x0f, 0xa2], [0x0f, 0x30], [0x0f, 0x32]];

const prefixArb = fc.oneof({ weight: 3, arbitrary: fc.constantFrom(...PREFIXES) }, { weight: 1, arbitrary: fc.constantFrom(...REX) });
const caseArb = fc.record({
  prefixes: fc.oneof(
    { weight: 3, arbitrary: fc.array(prefixArb, { maxLength: 4 }) },
    { weight: 1, arbitrary: fc.array(prefixArb, { minLength: 11, maxLength: 17 }) },
  ),
  opcode: fc.oneof({ weight: 4, arbitrary: fc.constantFrom(...OURS) }, { weight: 1, arbitrary: fc.constantFrom(...OTHERS) }),
  tail: fc.oneof(
    { weight: 9, arbitrary: fc.uint8Array({ minLength: 2, maxLength: 3 }) },
    { weight: 1, arbitrary: fc.uint8Array({ maxLength: 1 }) },
  ),
});

interface View {
  status: "ok" | "lock" | "gp" | "not-io" | "truncated";
  op?: number;
  size?: number;
  length?: number;
  rep?: boolean;
  port?: number;
  addressSize?: number;
  segment?: number;
}

const MNEMONIC_OP = new Map<number, number>([
  [Mnemonic.In, Op.IN],
  [Mnemonic.Out, Op.OUT],
  [Mnemonic.Insb, Op.INS],
  [Mnemonic.Insw, Op.INS],
  [Mnemonic.Insd, Op.INS],
  [Mnemonic.Outsb, Op.OUTS],
  [Mnemonic.Outsw, Op.OUTS],
  [Mnemonic.Outsd, Op.OUTS],
  [Mnemonic.Rdpmc, Op.RDPMC],
]);

const SEG_OF_REGISTER = new Map<number, number>([
  [Register.ES, Seg.ES],
  [Register.CS, Seg.CS],
  [Register.SS, Seg.SS],
  [Register.DS, Seg.DS],
  [Register.FS, Seg.FS],
  [Register.GS, Seg.GS],
]);

function sizeFromCode(name: string): number {
  if (/EAX|m32/.test(name)) return 4;
  if (/AX|m16/.test(name)) return 2;
  return 1;
}

function addressSizeFromKind(kind: number): number {
  switch (kind) {
    case OpKind.MemoryESDI:
    case OpKind.MemorySegSI:
      return 2;
    case OpKind.MemoryESEDI:
    case OpKind.MemorySegESI:
      return 4;
    default:
      return 8;
  }
}

function icedView(bits: number, b: Uint8Array): View {
  const d = new Decoder(bits, b, DecoderOptions.NoInvalidCheck);
  const ins = d.decode();
  try {
    if (d.lastError === DecoderError.NoMoreBytes) return { status: "truncated" };
    if (ins.isInvalid) return { status: "gp" };
    const op = MNEMONIC_OP.get(ins.mnemonic);
    if (op === undefined) return { status: "not-io" };
    const v: View = { status: ins.hasLockPrefix ? "lock" : "ok", op, length: ins.length };
    if (op !== Op.RDPMC) {
      v.size = sizeFromCode(Code[ins.code]!);
      const isString = op === Op.INS || op === Op.OUTS;
      v.rep = isString && (ins.hasRepPrefix || ins.hasRepnePrefix);
      if (op === Op.IN || op === Op.OUT)
        v.port = ins.op0Kind === OpKind.Immediate8 || ins.op1Kind === OpKind.Immediate8 ? ins.immediate8 : -1;
      if (op === Op.INS) v.addressSize = addressSizeFromKind(ins.op0Kind);
      if (op === Op.OUTS) {
        v.addressSize = addressSizeFromKind(ins.op1Kind);
        v.segment = SEG_OF_REGISTER.get(ins.memorySegment)!;
      }
    }
    return v;
  } finally {
    ins.free();
    d.free();
  }
}

const out = new DecodedInstruction();
function ourView(mode: CpuMode, b: Uint8Array): View {
  const st = decodeInstruction(new ArrayByteSource(b), mode, out);
  if (st === DecodeStatus.TRUNCATED) return { status: "truncated" };
  if (st === DecodeStatus.TOO_LONG) return { status: "gp" };
  if (st === DecodeStatus.NOT_IO) return { status: "not-io" };
  const v: View = { status: st === DecodeStatus.LOCK ? "lock" : "ok", op: out.op, length: out.length };
  if (out.op !== Op.RDPMC) {
    v.size = out.size;
    v.rep = out.rep;
    if (out.op === Op.IN || out.op === Op.OUT) v.port = out.portImm;
    if (out.op === Op.INS || out.op === Op.OUTS) v.addressSize = out.addressSize;
    if (out.op === Op.OUTS) v.segment = out.segment;
  }
  return v;
}

for (const [name, mode, bits] of MODES) {
  test(`decoder agrees with iced-x86 in mode ${name} (${CASES_PER_MODE} cases)`, () => {
    const seen = new Set<string>();
    fc.assert(
      fc.property(caseArb, ({ prefixes, opcode, tail }) => {
        const b = Uint8Array.from([...prefixes, ...opcode, ...tail]);
        const ours = ourView(mode, b);
        seen.add(ours.status);
        assert.deepEqual(ours, icedView(bits, b), `bytes ${Buffer.from(b).toString("hex")}`);
      }),
      { numRuns: CASES_PER_MODE, seed: Number(process.env["VMPORT_SEED"] ?? Date.now() % 2 ** 31) },
    );
    // The generator must actually reach every outcome, or the comparison proves little.
    for (const s of ["ok", "lock", "gp", "not-io"]) assert.ok(seen.has(s), `no case reached status ${s}`);
  });
}
