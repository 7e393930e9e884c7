/**
 * The buffered CSPRNG: every byte it serves comes from the OS generator once, across block boundaries, and is not
 * kept in its buffer afterwards.
 */
import { test } from "node:test";
import assert from "node:assert/strict";
import { BufferedRandom, RANDOM_BLOCK_BYTES } from "./buffered-random.js";

test("fills any length, across block boundaries, with bytes that look random", () => {
  const r = new BufferedRandom();
  const total = new Uint8Array(RANDOM_BLOCK_BYTES * 64 + 5); // ≈ 1 024 of each byte value expected
  for (let o = 0; o < total.length; ) {
    const n = Math.min(7 + (o % 13), total.length - o); // odd sizes straddle the block ends
    const piece = new Uint8Array(n);
    r.fill(piece);
    total.set(piece, o);
    o += n;
  }
  const counts = new Array<number>(256).fill(0);
  for (const b of total) counts[b]!++;
  const expected = total.length / 256;
  // Every byte value within ±20 % of its expected count (±6 standard deviations: a random source never fails this;
  // a stuck, zeroed or repeating one does).
  assert.ok(
    Math.min(...counts) > expected * 0.8 && Math.max(...counts) < expected * 1.2,
    `byte histogram ${Math.min(...counts)}..${Math.max(...counts)}`,
  );
  const a = new Uint8Array(8);
  const b = new Uint8Array(8);
  r.fill(a);
  r.fill(b);
  assert.notDeepEqual(a, b, "two cookies in a row differ");
  const buffer = (r as unknown as { block: Uint8Array; pos: number }).block.subarray(0, (r as unknown as { pos: number }).pos);
  assert.ok(
    buffer.every((x) => x === 0),
    "served bytes are wiped from the block",
  );
});
