/**
 * When the HB collector collects: a scavenge per MiB of HB traffic, nothing in between, and a full collection only
 * once retained memory has grown by more than its threshold.
 */
import { test } from "node:test";
import assert from "node:assert/strict";
import { GROWTH_FOR_FULL_GC, HB_BYTES_PER_SCAVENGE, HbCollector } from "./hb-gc.js";

test("a scavenge per MiB of traffic; a full collection only after the heap grew", () => {
  const calls: string[] = [];
  const c = new HbCollector((o) => calls.push(o?.type ?? "full"));
  c.onTraffic(HB_BYTES_PER_SCAVENGE); // not past the first threshold
  assert.deepEqual(calls, []);
  c.onTraffic(HB_BYTES_PER_SCAVENGE + 1);
  assert.deepEqual(calls, ["minor"]);
  c.onTraffic(HB_BYTES_PER_SCAVENGE + 2); // the next one is a MiB later
  assert.deepEqual(calls, ["minor"]);
  const kept = new Uint8Array(GROWTH_FOR_FULL_GC * 2).fill(1); // retained memory grows beyond the threshold
  c.onTraffic(3 * HB_BYTES_PER_SCAVENGE);
  assert.deepEqual(calls, ["minor", "minor", "full"]);
  assert.equal(c.counters.fullCollections, 1);
  c.onTraffic(5 * HB_BYTES_PER_SCAVENGE); // no further growth since that full collection
  assert.deepEqual(calls, ["minor", "minor", "full", "minor"]);
  assert.equal(kept[0], 1);
});
