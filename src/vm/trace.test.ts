/** Trace records: one per access, with instruction, port, command, registers in and out, and outcome. */
import { test } from "node:test";
import assert from "node:assert/strict";
import { MAGIC, setup, vmWith } from "../test-support/harness.js";
import type { TraceRecord } from "./trace.js";

test("a GETVERSION through the intercept yields one complete record", () => {
  const vm = vmWith();
  const recs: TraceRecord[] = [];
  vm.traceSink = (r) => void recs.push(r);
  const { cpu, mem } = setup("66 ed", { rax: MAGIC, rcx: 0xffff000an, rdx: 0x5658n }, { vcpu: 3 });
  vm.handleGp(cpu, mem);
  assert.equal(recs.length, 1);
  const r = recs[0]!;
  assert.equal(r.via, "gp");
  assert.equal(r.vcpu, 3);
  assert.equal(r.bytes, "66ed");
  assert.equal(r.op, "in");
  assert.equal(r.size, 2);
  assert.equal(r.port, 0x5658);
  assert.equal(r.command, 10);
  assert.equal(r.subcommand, 0xffff);
  assert.equal(r.regsIn["rax"], "0x00000000564d5868");
  assert.equal(r.regsOut["rax"], "0x00000000564d0006");
  assert.equal(r.regsOut["rbx"], "0x00000000564d5868");
  assert.equal(r.regsOut["rip"], "0x0000000000001002");
  assert.equal(r.outcome, "completed");
  assert.equal(r.fault, null);
  assert.match(r.timeNs, /^\d+$/);
  assert.doesNotThrow(() => JSON.stringify(r));
});

test("a reflected #GP is recorded with its fault; a step that takes the intercept is recorded once", () => {
  const vm = vmWith();
  const recs: TraceRecord[] = [];
  vm.traceSink = (r) => void recs.push(r);
  const a = setup("ed", { rax: MAGIC, rcx: 10n, rdx: 0x1234n });
  vm.handleGp(a.cpu, a.mem);
  assert.equal(recs[0]!.fault, "GP");
  assert.equal(recs[0]!.command, null);
  assert.equal(recs[0]!.port, 0x1234);
  const b = setup("ed", { rax: MAGIC, rcx: 10n, rdx: 0x5658n });
  vm.step(b.cpu, b.mem);
  assert.equal(recs.length, 2);
  assert.equal(recs[1]!.via, "step");
  assert.equal(recs[1]!.command, 10);
  vm.traceSink = null;
  vm.handleGp(setup("ed", { rax: MAGIC, rcx: 10n, rdx: 0x5658n }).cpu, b.mem);
  assert.equal(recs.length, 2, "no sink, no record");
});
