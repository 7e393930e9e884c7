/** Guest memories at any 64-bit address: pages and byte ranges above 2^53 and across 2^64; counts as results. */
import { test } from "node:test";
import assert from "node:assert/strict";
import { FlatMemory, PAGE_SIZE, PagedMemory, RangeMemory } from "./guest-memory.js";

test("PagedMemory: pages in the upper half are distinct and exact; a load across 2^64 wraps to page 0", () => {
  const m = new PagedMemory();
  m.load(0xffff_ffff_ffff_fffen, Uint8Array.of(1, 2, 3, 4));
  m.load(0xffff_ffff_ffff_e000n, Uint8Array.of(9)); // the page below the last one
  assert.deepEqual([...m.peek(0xffff_ffff_ffff_fffen, 4)], [1, 2, 3, 4]);
  assert.deepEqual([...m.peek(0, 2)], [3, 4]);
  const dst = new Uint8Array(PAGE_SIZE);
  assert.equal(m.read(0xffff_fffe, 0xffff_ffff, dst, 0, 2), 2);
  assert.equal(m.read(0xffff_e000, 0xffff_ffff, dst, 0, 1), 1);
  assert.equal(dst[0], 9);
  assert.equal(m.read(0xffff_f000, 0xffff_fffe, dst, 0, 1), 0, "…fffe_ffff_f000 is another page, not mapped");
  assert.equal(m.read(2, 0, dst, 0, PAGE_SIZE), PAGE_SIZE - 2, "read stops at the first byte not present");
  assert.throws(() => m.peek(0x1000, 1), /0x1000 is not mapped/);
});

test("RangeMemory: exact bytes anywhere, later ranges win, a range may wrap past 2^64", () => {
  const m = new RangeMemory();
  m.add(0xffff_ffff_ffff_ffffn, Uint8Array.of(0xaa, 0xbb)); // …ffff and 0
  m.add(0n, Uint8Array.of(0xcc));
  const dst = new Uint8Array(2);
  assert.equal(m.read(0xffff_ffff, 0xffff_ffff, dst, 0, 1), 1);
  assert.equal(dst[0], 0xaa);
  assert.equal(m.read(0, 0, dst, 0, 2), 1, "byte 1 is not present");
  assert.equal(dst[0], 0xcc, "the later range wins");
  assert.equal(m.write(0, 0, Uint8Array.of(1, 2), 0, 2), 1, "all or nothing: the offset of the first unwritable byte");
  assert.equal(m.read(0, 0, dst, 0, 1), 1);
  assert.equal(dst[0], 0xcc, "nothing was written");
  assert.equal(m.checkWritable(0xffff_fffe, 0xffff_ffff, 2), 0);
});

test("FlatMemory: RAM at linear 0; anything at or above its end, or above 4 GiB, is not present", () => {
  const m = new FlatMemory(new Uint8Array(0x2000));
  const dst = new Uint8Array(16);
  assert.equal(m.read(0x1ff8, 0, dst, 0, 16), 8);
  assert.equal(m.read(0, 1, dst, 0, 4), 0);
  assert.equal(m.checkWritable(0x3000, 0, 4), 0);
  assert.equal(m.write(0x1ffe, 0, dst, 0, 4), 2);
  assert.equal(m.write(0x10, 0, Uint8Array.of(7), 0, 1), 1);
  assert.equal(m.ram[0x10], 7);
});
