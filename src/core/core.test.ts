/** Core helpers: hex parsing and formatting, all-ones, the virtual clock, typed errors. */
import { test } from "node:test";
import assert from "node:assert/strict";
import { allOnes, hex, parseHexBytes, toBigInt64 } from "./bits.js";
import { DateClock, VirtualClock } from "./clock.js";
import { VmportError, isVmportError } from "./errors.js";
import { lookupOwn, ownValue, unknownOwnKey } from "./own-keys.js";

test("parseHexBytes accepts pairs with or without spaces and rejects the rest", () => {
  assert.deepEqual([...parseHexBytes("66 ed")!], [0x66, 0xed]);
  assert.deepEqual([...parseHexBytes("66ED")!], [0x66, 0xed]);
  for (const bad of ["", "6", "6 6e", "zz", "0x66"]) assert.equal(parseHexBytes(bad), null, bad);
});

test("hex pads, allOnes follows the access size, toBigInt64 joins halves", () => {
  assert.equal(hex(6, 16), "0x0000000000000006");
  assert.equal(hex(0xffffffff_00000000n, 16), "0xffffffff00000000");
  assert.deepEqual([1, 2, 4].map(allOnes), [0xff, 0xffff, 0xffffffff]);
  assert.equal(toBigInt64(0x564d5868, 0xa5a5a5a5), 0xa5a5a5a5564d5868n);
});

test("VirtualClock moves only when told; stepping the wall clock leaves monotonic time alone", () => {
  const c = new VirtualClock(10n, 20n);
  assert.equal(c.realtimeNs(), 10n);
  c.advance(5n);
  assert.deepEqual([c.realtimeNs(), c.monotonicNs()], [15n, 25n]);
  c.setRealtime(1n);
  assert.deepEqual([c.realtimeNs(), c.monotonicNs()], [1n, 25n]);
  assert.throws(() => c.advance(-1n), RangeError);
  const d = new DateClock();
  const m1 = d.monotonicNs();
  assert.ok(d.monotonicNs() >= m1);
});

test("VmportError carries a code and is recognised by brand", () => {
  const e = new VmportError("VMPORT_BAD_PROFILE", 'profile key "x": bad', { cause: 1 });
  assert.ok(isVmportError(e));
  assert.equal(e.code, "VMPORT_BAD_PROFILE");
  assert.equal(e.cause, 1);
  assert.ok(!isVmportError(new Error("x")));
  assert.ok(isVmportError({ name: "VmportError", code: "VMPORT_BAD_ARGUMENT" })); // another realm's instance
});

test("escapeText: control characters, C1, bidi overrides and backslashes become visible escapes on one line", async () => {
  const { escapeText } = await import("./text.js");
  assert.equal(escapeText("OK \x1b]0;t\x07\x1b[2J\nvmport: x\r\x9b31m"), "OK \\x1b]0;t\\x07\\x1b[2J\\x0avmport: x\\x0d\\x9b31m");
  assert.equal(escapeText("a\\b \u202eevil\u2028"), "a\\\\b \\u{202e}evil\\u{2028}");
  assert.equal(escapeText("héllo wörld ✓"), "héllo wörld ✓");
});

test("own keys only: inherited names are not keys, __proto__ from JSON is an unknown own key", () => {
  const table = { rax: 0, rbx: 3 };
  assert.equal(lookupOwn(table, "rbx"), 3);
  for (const k of ["constructor", "toString", "__proto__", "hasOwnProperty"]) assert.equal(lookupOwn(table, k), undefined);
  assert.equal(ownValue(Object.create({ a: 1 }), "a"), undefined);
  assert.equal(ownValue({ a: 1 }, "a"), 1);
  assert.equal(unknownOwnKey(JSON.parse('{"a": 1, "__proto__": {}}'), ["a"]), "__proto__");
  assert.equal(unknownOwnKey({ a: 1 }, ["a", "b"]), null);
});

test("packLe32/unpackLe32: little-endian, short tails in the low bytes, never past the end", async () => {
  const { packLe32, unpackLe32 } = await import("./bytes.js");
  assert.equal(packLe32(Uint8Array.of(0x68, 0x58, 0x4d, 0x56), 0), 0x564d5868); // "hXMV" = the magic
  assert.equal(packLe32(Uint8Array.of(1, 2, 3), 0), 0x030201);
  assert.equal(packLe32(Uint8Array.of(1, 2, 3, 4, 5), 4), 5);
  assert.equal(packLe32(Uint8Array.of(0xff, 0xff, 0xff, 0xff), 0), 0xffffffff);
  const d = new Uint8Array(6);
  unpackLe32(0x564d5868, d, 3);
  assert.deepEqual([...d], [0, 0, 0, 0x68, 0x58, 0x4d]);
  unpackLe32(0xaabbccdd, d, 0, 2);
  assert.deepEqual([...d.subarray(0, 3)], [0xdd, 0xcc, 0]);
});

test("le32Bytes: a 32-bit value as four little-endian bytes (negative values as their 32-bit pattern)", async () => {
  const { le32Bytes } = await import("./bytes.js");
  assert.deepEqual(le32Bytes(0x564d5868), [0x68, 0x58, 0x4d, 0x56]); // "hXMV": the backdoor magic in memory order
  assert.deepEqual(le32Bytes(-1 >>> 0), [0xff, 0xff, 0xff, 0xff]);
  assert.deepEqual(le32Bytes(-2), [0xfe, 0xff, 0xff, 0xff]);
});
