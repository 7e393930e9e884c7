/** Trace records: one per access, with instruction, port, command, registers in and out, and outcome. */
import { test } from "node:test";
import assert from "node:assert/strict";
import { MAGIC, setup, vmWith } from "../test-support/harness.js";
import { TRACED_REGISTERS, TRACE_WORDS, decodeTrace, encodeTrace, type TraceAccess, type TraceRecord } from "./trace.js";
import { REGISTER_NAMES } from "../x86/registers.js";

test("a GETVERSION through the intercept yields one complete record", () => {
  const vm = vmWith();
  const recs: TraceRecord[] = [];
  vm.trace.on((a) => void recs.push(a.toRecord()));
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
  assert.deepEqual(
    Object.keys(r.regsIn),
    TRACED_REGISTERS.map((x) => REGISTER_NAMES[x]),
  );
  assert.deepEqual(
    Object.keys(r.regsOut),
    TRACED_REGISTERS.map((x) => REGISTER_NAMES[x]),
  );
  assert.match(r.timeNs, /^\d+$/);
  assert.doesNotThrow(() => JSON.stringify(r));
});

test("a reflected #GP is recorded with its fault; a step that takes the intercept is recorded once", () => {
  const vm = vmWith();
  const recs: TraceRecord[] = [];
  const listener = (t: TraceAccess) => void recs.push(t.toRecord());
  vm.trace.on(listener);
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
  vm.trace.off(listener);
  vm.handleGp(setup("ed", { rax: MAGIC, rcx: 10n, rdx: 0x5658n }).cpu, b.mem);
  assert.equal(recs.length, 2, "no listener, no record");
});

test("several listeners see the same access; a listener that throws is counted and the access completes", () => {
  const vm = vmWith();
  const a: string[] = [];
  const b: string[] = [];
  vm.trace.on((t) => void a.push(t.toRecord().outcome));
  vm.trace.on(() => {
    throw new Error("listener bug");
  });
  vm.trace.on((t) => void b.push(t.toRecord().regsOut["rbx"]!));
  const { cpu, mem } = setup("ed", { rax: MAGIC, rcx: 10n, rdx: 0x5658n });
  vm.handleGp(cpu, mem);
  assert.deepEqual(a, ["completed"]);
  assert.deepEqual(b, ["0x00000000564d5868"]);
  assert.equal(cpu.regs.lo(0), 6, "the access completed: EAX = version");
  assert.equal(vm.counters()["events"]!["listenerErrors"], 1);
});

test("encodeTrace/decodeTrace give back exactly the record, for random accesses (forms, faults, upper-half registers)", () => {
  const vm = vmWith();
  const words = new Uint32Array(TRACE_WORDS * 2);
  let n = 0;
  vm.trace.on((t) => {
    const rec = t.toRecord();
    const time = BigInt(rec.timeNs);
    encodeTrace(t, Number(time / 1_000_000_000n), Number(time % 1_000_000_000n), words, TRACE_WORDS); // at an offset, to check the slot arithmetic
    assert.deepEqual(decodeTrace(words, TRACE_WORDS), rec);
    n++;
  });
  const forms = [
    "ed",
    "66 ed",
    "ec",
    "ef",
    "66 ef",
    "e5 58",
    "f3 6e",
    "f3 6c",
    "0f 33",
    "f0 ed",
    "66666666666666666666666666666666ed",
    "90",
  ];
  let seed = 7;
  const rnd = () => (seed = (seed * 1103515245 + 12345) >>> 0);
  for (let i = 0; i < 400; i++) {
    const code = forms[i % forms.length]!;
    const big = (): bigint => (BigInt(rnd()) << 32n) | BigInt(rnd());
    const init = {
      rax: i % 3 === 0 ? big() : MAGIC,
      rbx: big(),
      rcx: i % 2 ? 10n : big(),
      rdx: i % 4 ? 0x5658n : 0x5659n,
      rsi: big(),
      rdi: big(),
      rbp: big(),
    };
    const { cpu, mem } = setup(code, init, { vcpu: rnd() & 0x7fffffff });
    if (i % 5 === 0) vm.step(cpu, mem);
    else vm.handleGp(cpu, mem);
  }
  assert.equal(n, 400);
});
