/**
 * Decoder fixtures, byte literal by byte literal, for every decoding point of the Xen vmware_port review:
 * operand size by mode, 66 and REX.W, repeated prefixes and the 15-byte limit, LOCK, REX placement.
 */
import { test } from "node:test";
import assert from "node:assert/strict";
import { CpuMode } from "./cpu-mode.js";
import { Seg } from "./cpu-state.js";
import { ArrayByteSource, DecodeStatus, DecodedInstruction, Op, decodeInstruction } from "./decoder.js";
import { bytes } from "../test-support/harness.js";

function dec(mode: CpuMode, hex: string): DecodedInstruction {
  const d = new DecodedInstruction();
  decodeInstruction(new ArrayByteSource(bytes(hex)), mode, d);
  return d;
}

const { REAL, VM86, PROTECTED16, PROTECTED32, COMPAT32, LONG64 } = CpuMode;

test("operand size in real and vm86 mode defaults to 16 bits; 66 selects 32", () => {
  for (const mode of [REAL, VM86, PROTECTED16]) {
    assert.equal(dec(mode, "ed").size, 2, "ED = in ax,dx");
    assert.equal(dec(mode, "66 ed").size, 4, "66 ED = in eax,dx");
    assert.equal(dec(mode, "ec").size, 1, "EC = in al,dx");
    assert.equal(dec(mode, "66 ec").size, 1, "66 EC = in al,dx (byte op ignores 66)");
  }
});

test("operand size in 32-bit and compatibility mode defaults to 32; 66 selects 16", () => {
  for (const mode of [PROTECTED32, COMPAT32]) {
    assert.equal(dec(mode, "ed").size, 4); // in eax,dx
    assert.equal(dec(mode, "66 ed").size, 2); // in ax,dx
  }
});

test("64-bit mode: 66 selects 16 bits, REX.W cancels 66, I/O never exceeds 32 bits", () => {
  assert.equal(dec(LONG64, "ed").size, 4); // in eax,dx
  assert.equal(dec(LONG64, "66 ed").size, 2); // in ax,dx
  assert.equal(dec(LONG64, "66 48 ed").size, 4); // REX.W after 66: in eax,dx
  assert.equal(dec(LONG64, "48 ed").size, 4); // REX.W: still in eax,dx
  assert.equal(dec(LONG64, "48 6d").size, 4); // insd, there is no insq
});

test("REX counts only immediately before the opcode", () => {
  const d = dec(LONG64, "48 66 ed"); // REX.W then 66: the 66 cancels the REX → in ax,dx
  assert.equal(d.size, 2);
  assert.equal(d.length, 3);
  assert.equal(dec(LONG64, "41 48 ed").size, 4); // two REX, the last one counts
});

test("0x40–0x4F are INC/DEC outside 64-bit mode", () => {
  for (const mode of [REAL, VM86, PROTECTED16, PROTECTED32, COMPAT32]) {
    const d = dec(mode, "48 ed"); // dec eax / dec ax
    assert.equal(d.status, DecodeStatus.NOT_IO);
    assert.equal(d.op, Op.NONE);
  }
});

test("repeated prefixes count toward the length; 15 bytes decode, 16 raise #GP", () => {
  const ok = dec(LONG64, "66 ".repeat(14) + "ed"); // 14 × 66 + in ax,dx = 15 bytes
  assert.equal(ok.status, DecodeStatus.OK);
  assert.equal(ok.length, 15);
  assert.equal(ok.size, 2);
  const long = dec(LONG64, "66 ".repeat(15) + "ed"); // 16 bytes
  assert.equal(long.status, DecodeStatus.TOO_LONG);
  assert.equal(long.op, Op.NONE);
  // The limit also counts the immediate: 13 prefixes + E5 58 = 15 is fine, 14 + E5 58 = 16 is not.
  assert.equal(dec(PROTECTED32, "3e ".repeat(13) + "e5 58").status, DecodeStatus.OK);
  assert.equal(dec(PROTECTED32, "3e ".repeat(14) + "e5 58").status, DecodeStatus.TOO_LONG);
  // And the second opcode byte of RDPMC: 13 prefixes + 0F 33 = 15.
  assert.equal(dec(LONG64, "f3 ".repeat(13) + "0f 33").status, DecodeStatus.OK);
  assert.equal(dec(LONG64, "f3 ".repeat(14) + "0f 33").status, DecodeStatus.TOO_LONG);
});

test("LOCK on IN/OUT/INS/OUTS/RDPMC raises #UD; the length is known", () => {
  for (const hex of ["f0 ed", "f0 e6 80", "66 f0 6d", "f0 0f 33"]) {
    const d = dec(LONG64, hex);
    assert.equal(d.status, DecodeStatus.LOCK, hex);
    assert.equal(d.length, bytes(hex).length);
  }
  // Too long wins over LOCK: the CPU stops at byte 16 before it knows the opcode.
  assert.equal(dec(LONG64, "f0 " + "66 ".repeat(14) + "ed").status, DecodeStatus.TOO_LONG);
});

test("immediate ports and DX ports", () => {
  const imm = dec(PROTECTED32, "e5 58"); // in eax, 0x58
  assert.equal(imm.portImm, 0x58);
  assert.equal(imm.length, 2);
  assert.equal(dec(PROTECTED32, "ef").portImm, -1); // out dx, eax
  const out8 = dec(REAL, "e6 80"); // out 0x80, al
  assert.equal(out8.op, Op.OUT);
  assert.equal(out8.size, 1);
});

test("REP on string I/O: F3 or F2; address size from mode and 67", () => {
  const d = dec(LONG64, "f3 6c"); // rep insb
  assert.equal(d.op, Op.INS);
  assert.equal(d.rep, true);
  assert.equal(d.addressSize, 8);
  assert.equal(dec(LONG64, "f2 6e").rep, true); // repne outsb repeats too
  assert.equal(dec(LONG64, "67 f3 6e").addressSize, 4); // 67: ESI/ECX
  assert.equal(dec(PROTECTED16, "67 6e").addressSize, 4);
  assert.equal(dec(PROTECTED32, "67 6e").addressSize, 2);
  assert.equal(dec(REAL, "6e").addressSize, 2);
  assert.equal(dec(LONG64, "f3 ed").rep, false); // REP does not repeat a plain IN
});

test("OUTS segment override: last one wins; in 64-bit mode ES/CS/SS/DS do not displace FS/GS", () => {
  assert.equal(dec(PROTECTED32, "64 2e 6e").segment, Seg.CS);
  assert.equal(dec(PROTECTED32, "26 6e").segment, Seg.ES);
  assert.equal(dec(LONG64, "64 2e 6e").segment, Seg.FS);
  assert.equal(dec(LONG64, "65 6f").segment, Seg.GS);
  assert.equal(dec(LONG64, "6f").segment, Seg.DS);
});

test("RDPMC is 0F 33; other 0F opcodes and other instructions are not ours", () => {
  assert.equal(dec(LONG64, "0f 33").op, Op.RDPMC);
  assert.equal(dec(LONG64, "48 0f 33").length, 3);
  assert.equal(dec(LONG64, "0f 31").status, DecodeStatus.NOT_IO); // rdtsc
  assert.equal(dec(LONG64, "90").status, DecodeStatus.NOT_IO); // nop
});

test("a byte string that ends early is TRUNCATED at the missing offset", () => {
  const d = dec(LONG64, "66 66");
  assert.equal(d.status, DecodeStatus.TRUNCATED);
  assert.equal(d.missingAt, 2);
  assert.equal(dec(LONG64, "e4").missingAt, 1); // in al, imm8 without its immediate
  assert.equal(dec(LONG64, "0f").missingAt, 1);
});
