/** Page-split fetch: read to the page end first, the next page only when needed, each byte once; #PF address. */
import { test } from "node:test";
import assert from "node:assert/strict";
import { CpuMode } from "./cpu-mode.js";
import { DecodeStatus, DecodedInstruction, decodeInstruction } from "./decoder.js";
import { PAGE_SIZE, PagedMemory } from "./guest-memory.js";
import { FetchFault, InstructionFetcher } from "./instruction-fetch.js";
import { AddressSpace } from "./linear-address.js";
import { bytes } from "../test-support/harness.js";

function fetchDecode(mem: PagedMemory, ip: number, hint = 0) {
  const f = new InstructionFetcher();
  f.begin(mem, ip, 0, hint);
  const d = new DecodedInstruction();
  const st = decodeInstruction(f, CpuMode.LONG64, d);
  return { f, d, st };
}

test("an instruction inside one page is read with one read of at most 15 bytes", () => {
  const mem = new PagedMemory();
  mem.load(0x1000, bytes("ed")); // in eax,dx
  const { f, d } = fetchDecode(mem, 0x1000);
  assert.equal(d.length, 1);
  assert.equal(f.reads, 1);
  assert.equal(f.filled, 15);
});

test("an instruction straddling a page boundary: each page read exactly once", () => {
  const mem = new PagedMemory();
  const ip = 2 * PAGE_SIZE - 3; // 66 66 66 | ed  (three prefixes end page 1, the opcode starts page 2)
  mem.load(ip, bytes("66 66 66 ed"));
  const { f, d, st } = fetchDecode(mem, ip);
  assert.equal(st, DecodeStatus.OK);
  assert.equal(d.length, 4);
  assert.equal(d.size, 2);
  assert.equal(f.reads, 2);
  assert.equal(mem.readsPerPage.get(1), 1);
  assert.equal(mem.readsPerPage.get(2), 1);
});

test("the next page is not touched when the instruction ends on this one", () => {
  const mem = new PagedMemory();
  const ip = 2 * PAGE_SIZE - 1; // ed is the last byte of page 1; page 2 is not mapped
  mem.load(ip, bytes("ed"));
  const { f, st } = fetchDecode(mem, ip);
  assert.equal(st, DecodeStatus.OK);
  assert.equal(f.reads, 1);
  assert.equal(mem.readsPerPage.get(2), undefined);
});

test("a fetch that needs an unmapped page reports #PF at the first byte of that page", () => {
  const mem = new PagedMemory();
  const ip = 2 * PAGE_SIZE - 2; // 66 66 | <unmapped>
  mem.load(ip, bytes("66 66"));
  const { f, st } = fetchDecode(mem, ip);
  assert.equal(st, DecodeStatus.TRUNCATED);
  assert.equal(f.faultAddress(), BigInt(2 * PAGE_SIZE));
  const none = fetchDecode(new PagedMemory(), 0x5000);
  assert.equal(none.f.faultAddress(), 0x5000n);
});

test("memory changed after the fetch does not change the decode (bytes are read once)", () => {
  const mem = new PagedMemory();
  const ip = 2 * PAGE_SIZE - 1;
  mem.load(ip, bytes("66 ed"));
  const f = new InstructionFetcher();
  f.begin(mem, ip, 0);
  assert.equal(f.byteAt(0), 0x66);
  mem.load(ip, bytes("f0")); // another vCPU rewrites the prefix
  const d = new DecodedInstruction();
  decodeInstruction(f, CpuMode.LONG64, d);
  assert.equal(d.status, DecodeStatus.OK); // still sees 66, not the LOCK
  assert.equal(d.size, 2);
});

test("an exit length hint bounds the first read; the decoder may still read on", () => {
  const mem = new PagedMemory();
  mem.load(0x1000, bytes("66 66 ed"));
  const exact = fetchDecode(mem, 0x1000, 3);
  assert.equal(exact.f.reads, 1);
  assert.equal(exact.f.filled, 3);
  assert.equal(exact.d.length, 3);
  const short = fetchDecode(mem, 0x1000, 1); // a wrong hint: the decoder needs more
  assert.equal(short.st, DecodeStatus.OK);
  assert.equal(short.d.length, 3);
  assert.equal(short.f.reads, 2);
});

test("64-bit addresses above 2^53: a fetch across a 4 GiB boundary and across 2^64 carries into the high half", () => {
  const mem = new PagedMemory();
  const ip = 0xffff_ffff_ffff_fffen; // 66 ed across the 2^64 wrap: ...fffe, ...ffff, 0
  mem.load(ip, bytes("66 66 ed"));
  const f = new InstructionFetcher();
  f.begin(mem, 0xffff_fffe, 0xffff_ffff);
  const d = new DecodedInstruction();
  assert.equal(decodeInstruction(f, CpuMode.LONG64, d), DecodeStatus.OK);
  assert.equal(d.length, 3);
  assert.equal(f.reads, 2);
  const block = new PagedMemory(); // across lo = 2^32 at hi = 0xffff8000
  block.load(0xffff_8000_ffff_ffffn, bytes("66 ed"));
  f.begin(block, 0xffff_ffff, 0xffff_8000);
  assert.equal(decodeInstruction(f, CpuMode.LONG64, d), DecodeStatus.OK);
  assert.equal(d.length, 2);
});

test("a byte at a non-canonical address is a #GP fault, not a #PF; LA57 widens the canonical range", () => {
  const mem = new PagedMemory();
  mem.load(0x7fff_ffff_fffen, bytes("66 66")); // the last two bytes of the lower half
  mem.map(0x8000_0000_0000n); // "present", but non-canonical: must not be read
  const f = new InstructionFetcher();
  f.begin(mem, 0xffff_fffe, 0x7fff);
  assert.equal(decodeInstruction(f, CpuMode.LONG64, new DecodedInstruction()), DecodeStatus.TRUNCATED);
  assert.equal(f.fault, FetchFault.GP);
  assert.equal(f.faultAddress(), 0x8000_0000_0000n);
  assert.equal(mem.readsPerPage.get(0x8000_0000_0000 / PAGE_SIZE), undefined);
  f.begin(mem, 0xffff_fffe, 0x7fff, 0, AddressSpace.CANONICAL57);
  assert.equal(decodeInstruction(f, CpuMode.LONG64, new DecodedInstruction()), DecodeStatus.NOT_IO); // 66 66 00
  assert.equal(f.fault, FetchFault.NONE);
  // Outside 64-bit mode the fetch wraps at 2^32.
  const m32 = new PagedMemory();
  m32.load(0xffff_ffff, bytes("66"));
  m32.load(0, bytes("ed"));
  f.begin(m32, 0xffff_ffff, 0, 0, AddressSpace.FLAT32);
  const d = new DecodedInstruction();
  assert.equal(decodeInstruction(f, CpuMode.PROTECTED32, d), DecodeStatus.OK);
  assert.equal(d.size, 2);
});
