/**
 * The small assembler against iced-x86: every form, with low and high registers and the bases that need a SIB
 * byte (rsp, r12) or cannot use mod 00 (rbp, r13), decodes to exactly the text `listing()` claims, and every branch
 * lands on its label.
 */
import { test } from "node:test";
import assert from "node:assert/strict";
import { createRequire } from "node:module";
import { Asm, CC, R, hexText, mem, type Reg } from "./x64-asm.js";

const iced = createRequire(import.meta.url)("iced-x86") as typeof import("iced-x86");

/** Decode `code` with iced-x86: offset, text (Intel syntax), and the branch target of near branches. */
function disassemble(code: number[]): { offset: number; text: string; target: number | null }[] {
  const d = new iced.Decoder(64, new Uint8Array(code), iced.DecoderOptions.None);
  d.ip = 0n;
  const f = new iced.Formatter(iced.FormatterSyntax.Intel);
  const out: { offset: number; text: string; target: number | null }[] = [];
  while (d.canDecode) {
    const offset = d.position;
    const insn = d.decode();
    const branch = insn.isJccShortOrNear || insn.isJmpShortOrNear;
    out.push({ offset, text: f.format(insn), target: branch ? Number(insn.nearBranchTarget) : null });
    insn.free();
  }
  d.free();
  f.free();
  return out;
}

const ALL: Reg[] = Object.values(R);

test("every register and memory form decodes to the listed text", () => {
  const a = new Asm();
  for (const r of ALL) {
    a.push(r).pop(r).movImm32(r, 0x1234_5678).movImm64(r, -1).movImm64(r, 0x7fff_ffff);
    a.dec32(r).neg32(r).cmpImm(r, 0xb7f).andImm(r, 0xfff).orImm(r, 1).addImm(r, 16).subImm(r, 0x8000_0000);
    for (const b of [R.rax, R.rbx, R.rsp, R.rbp, R.r12, R.r13, R.r15] as Reg[]) {
      const m = mem(b, r * 8 + 0x40);
      a.load32(r, m).load64(r, m).store32(m, r).store64(m, r).lea(r, m);
      a.movReg32(r, b).movReg64(b, r).testReg32(r, b).xorReg32(b, r);
    }
  }
  for (const b of ALL) {
    a.storeImm32(mem(b, 0), 0xffff_ffff).cmpMemImm(mem(b, -8), 0x80).testMemImm(mem(b, 0x1000), 1);
  }
  a.syscall().rdtsc().rdtscp().pause().ret();
  const code = a.bytes();
  const got = disassemble(code);
  const want = a.listing();
  assert.equal(got.length, want.length);
  for (let i = 0; i < want.length; i++) {
    assert.equal(got[i]!.offset, want[i]!.offset, `offset of ${want[i]!.text}`);
    assert.equal(got[i]!.text, want[i]!.text);
  }
});

test("branches land on their labels, forwards and backwards", () => {
  const a = new Asm();
  a.label("top").xorReg32(R.rax, R.rax);
  for (const [name, cc] of Object.entries(CC)) a.jcc(cc, name === "e" ? "top" : "end");
  a.jmp("top").label("end").ret();
  const code = a.bytes();
  const got = disassemble(code);
  const want = a.listing();
  for (let i = 0; i < want.length; i++) {
    const m = /^(j\w+) (\w+)$/.exec(want[i]!.text);
    if (m === null) {
      assert.equal(got[i]!.text, want[i]!.text);
      continue;
    }
    assert.equal(got[i]!.text.split(" ")[0], m[1]);
    assert.equal(got[i]!.target, a.labelOffset(m[2]!), want[i]!.text);
  }
});

test("misuse: undefined or doubled labels and out-of-range values are refused", () => {
  assert.throws(() => new Asm().jmp("nowhere").bytes(), /not defined/);
  assert.throws(() => new Asm().label("x").label("x"), /twice/);
  assert.throws(() => mem(R.rbx, 0x8000_0000), RangeError);
  assert.throws(() => new Asm().movImm32(R.rax, 2 ** 32), RangeError);
  assert.equal(hexText(0xb7f), "0B7Fh");
  assert.equal(hexText(9), "9");
});
