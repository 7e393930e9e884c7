/** Register views: 8/16/32/64-bit reads and the write rules (merge vs zero-extend). */
import { test } from "node:test";
import assert from "node:assert/strict";
import { Reg, RegisterFile } from "./registers.js";

test("8- and 16-bit writes merge into the low bits and keep everything above", () => {
  const r = new RegisterFile();
  r.set64(Reg.RAX, 0x1122334455667788n);
  r.set8(Reg.RAX, 0xaa); // mov al, 0xaa
  assert.equal(r.get64(Reg.RAX), 0x11223344556677aan);
  r.set16(Reg.RAX, 0xbbcc); // mov ax, 0xbbcc
  assert.equal(r.get64(Reg.RAX), 0x112233445566bbccn);
  assert.equal(r.get8(Reg.RAX), 0xcc);
  assert.equal(r.get16(Reg.RAX), 0xbbcc);
});

test("a 32-bit write either keeps the upper half (VMware's rule for non-EAX) or zero-extends (mov eax)", () => {
  const r = new RegisterFile();
  r.set64(Reg.RBX, 0xdeadbeef00000000n);
  r.setLo(Reg.RBX, 0x564d5868);
  assert.equal(r.get64(Reg.RBX), 0xdeadbeef564d5868n);
  r.set32ZeroExtend(Reg.RBX, 0x12345678);
  assert.equal(r.get64(Reg.RBX), 0x12345678n);
});

test("set64 takes values modulo 2^64; getNumber is exact for lower-half addresses", () => {
  const r = new RegisterFile();
  r.set64(Reg.RCX, -1n);
  assert.equal(r.get64(Reg.RCX), 0xffffffffffffffffn);
  r.set64(Reg.RSI, 0x7fffffffe000n);
  assert.equal(r.getNumber(Reg.RSI), 0x7fffffffe000);
});

test("writeSized follows the operand size", () => {
  const r = new RegisterFile();
  r.set64(Reg.RDI, 0xffffffffffffffffn);
  r.writeSized(Reg.RDI, 2, 0x1234, true);
  assert.equal(r.get64(Reg.RDI), 0xffffffffffff1234n);
  r.writeSized(Reg.RDI, 4, 0x89abcdef, true);
  assert.equal(r.get64(Reg.RDI), 0x89abcdefn);
  r.writeSized(Reg.RDI, 8, 0x1_0000_0004, true);
  assert.equal(r.get64(Reg.RDI), 0x100000004n);
  const c = r.clone();
  assert.ok(c.equals(r));
  c.set8(Reg.RDI, 0);
  assert.ok(!c.equals(r));
});
