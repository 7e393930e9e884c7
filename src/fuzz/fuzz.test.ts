/**
 * The fuzzer's parts without a traced program: the generator, the mutations (the safe TCLO grammar never makes a
 * command that acts on the machine), the answer record, the hooks' record and exact replay on a real VM's engine,
 * and what counts as a finding.
 */
import { test } from "node:test";
import assert from "node:assert/strict";
import fc from "fast-check";
import { Prng } from "./prng.js";
import { mutateRpciReply, mutateWord, RPCI_MUTATIONS, safeTcloCommand } from "./mutations.js";
import { fromB64, toB64, validateRecord } from "./answers.js";
import { Answerer } from "./answerer.js";
import { judge, sanitizerLine } from "./campaign.js";
import { tcloDanger } from "../channels/tclo-safety.js";
import { VirtualMachine } from "../vm/virtual-machine.js";
import { RegisterPatch } from "../devices/backdoor/command-registry.js";
import { Guest, LB, rpcOne } from "../test-support/backdoor-client.js";
import type { FuzzRunResult } from "./worker-protocol.js";
import type { CrashInfo } from "./crash-probe.js";

test("Prng: one stream per (seed, run), repeatable", () => {
  const take = (p: Prng) => Array.from({ length: 8 }, () => p.next());
  assert.deepEqual(take(new Prng(42, 3)), take(new Prng(42, 3)));
  assert.notDeepEqual(take(new Prng(42, 3)), take(new Prng(42, 4)));
  assert.notDeepEqual(take(new Prng(42, 3)), take(new Prng(43, 3)));
  const p = new Prng(1, 0);
  const seen = new Set<number>();
  for (let i = 0; i < 1000; i++) {
    const v = p.below(7);
    assert.ok(Number.isInteger(v) && v >= 0 && v < 7);
    seen.add(v);
  }
  assert.equal(seen.size, 7);
});

test("safe TCLO grammar: no command that acts on the machine, for any seed and run", () => {
  fc.assert(
    fc.property(fc.integer({ min: 0, max: 0xffffffff }), fc.nat(1_000_000), (seed, run) => {
      const rng = new Prng(seed, run);
      for (let k = 0; k < 20; k++) {
        const c = safeTcloCommand(rng, 4096);
        assert.equal(tcloDanger(c), null, c);
        assert.ok(c.length <= 4096);
        const name = c.trimStart().split(/[ \t\0]/, 1)[0]!;
        assert.ok(!/^(OS_|Time_Synchronize|TimeInfo_Update|vmbackup\.|deployPkg\.|Vix_|vmsupport)/.test(name) && name !== "f", c);
        const words = c.split(/[\s\0]+/).filter((w) => w !== "");
        if (words[0] === "Set_Option" && words[1] === "synctime") assert.equal(words.at(-1), "0", c);
      }
    }),
    { numRuns: 300 },
  );
});

test("RPCI reply mutations: every kind, bounded by the channel limit, repeatable", () => {
  const reply = new TextEncoder().encode("1 alice 42");
  for (const m of RPCI_MUTATIONS) {
    const a = mutateRpciReply(new Prng(5, 1), reply, 300, m);
    const b = mutateRpciReply(new Prng(5, 1), reply, 300, m);
    assert.equal(a.mutation, m);
    assert.deepEqual(a.reply, b.reply);
    assert.ok(a.reply.length <= 300, m);
  }
  fc.assert(
    fc.property(fc.uint8Array({ maxLength: 64 }), fc.nat(), fc.integer({ min: 0, max: 2000 }), (r, seed, max) => {
      assert.ok(mutateRpciReply(new Prng(seed, 0), r, max).reply.length <= max);
    }),
  );
  assert.equal(new TextDecoder().decode(mutateRpciReply(new Prng(1, 0), reply, 100, "status-flip").reply), "0 alice 42");
  const w = mutateWord(new Prng(3, 3), 1000);
  assert.ok(Number.isInteger(w) && w >= 0 && w <= 0xffffffff);
});

test("answer records: base64 round trip, validation names the problem", () => {
  const b = Uint8Array.of(0, 0xff, 0x31, 0x20);
  assert.deepEqual(fromB64(toB64(b)), b);
  assert.equal(validateRecord({ points: 3, mutated: [{ i: 0, kind: "hb", direction: "in", mutation: "fail" }] }), null);
  assert.match(
    validateRecord({
      points: 3,
      mutated: [
        { i: 1, kind: "hb", direction: "in", mutation: "fail" },
        { i: 1, kind: "hb", direction: "in", mutation: "fail" },
      ],
    })!,
    /increasing/,
  );
  assert.match(validateRecord({ points: 3, mutated: [{ i: 0, kind: "rpci", command: "x" }] })!, /malformed/);
  assert.match(validateRecord({ points: -1, mutated: [] })!, /points/);
  assert.match(
    validateRecord({ points: 1, mutated: [{ i: 0, kind: "rpci", command: "x", mutation: "empty", reply: { base64: "not base64!" } }] })!,
    /malformed/,
  );
  assert.match(validateRecord({ points: 1, mutated: [{ i: 0, kind: "lb", command: 1, mutation: "eax", regs: { rip: 1 } }] })!, /malformed/);
  assert.match(
    validateRecord({ points: 1, mutated: [{ i: 0, kind: "lb", command: 1, mutation: "eax", regs: { eax: 2 ** 32 } }] })!,
    /malformed/,
  );
  assert.equal(
    validateRecord({ points: 1, mutated: [{ i: 0, kind: "lb", command: 1, mutation: "eax", regs: { eax: 0xffffffff } }] }),
    null,
  );
  assert.match(validateRecord(null)!, /object/);
});

/** Drive the hooks as the engine would: an LB result, an RPCI reply and an HB transfer, `n` times. */
function drive(a: Answerer, n: number): unknown[] {
  const out: unknown[] = [];
  const req = new TextEncoder().encode("info-get guestinfo.x");
  for (let k = 0; k < n; k++) {
    const p = new RegisterPatch().clear().eax(2400);
    a.lbResult(1, 0, p);
    out.push(p.toJSON());
    const s = new RegisterPatch().clear().ecx(0x10000);
    a.lbResult(30, 3, s);
    out.push(s.toJSON());
    out.push(Array.from(a.rpciReply("info-get", req, new TextEncoder().encode("1 value"))));
    out.push(a.hbFail("in", 8));
  }
  return out;
}

test("Answerer: a run's recorded answers replay exactly with no randomness; a different question gets the honest answer", () => {
  const fresh = new Answerer({ base: [], rng: new Prng(9, 2), rate: 0.5 });
  const first = drive(fresh, 30);
  const rec = fresh.record();
  assert.equal(rec.points, 120);
  assert.ok(rec.mutated.length > 5, "mutations were made");
  assert.ok(
    rec.mutated.filter((m) => m.kind === "step" || m.kind === "hb" || (m.kind === "lb" && m.command === 30)).length <= 1,
    "at most one channel mutation per run",
  );
  assert.equal(validateRecord(JSON.parse(JSON.stringify(rec))), null);
  assert.ok(
    ["lb:1", "lb:30.3", "rpc:info-get", "hb:in", "seq:start>lb:1", "seq:lb:1>lb:30.3"].every((k) => fresh.keys.has(k)),
    [...fresh.keys].join(),
  );
  const again = new Answerer({ base: JSON.parse(JSON.stringify(rec.mutated)), rng: null, rate: 0 });
  assert.deepEqual(drive(again, 30), first);
  assert.deepEqual(again.record(), rec);
  // A recorded RPCI reply is given only to the same command.
  const rpci = rec.mutated.find((m) => m.kind === "rpci")!;
  const other = new Answerer({ base: [rpci], rng: null, rate: 0 });
  for (let i = 0; i < rpci.i; i++) other.lbResult(1, 0, new RegisterPatch().clear().eax(1));
  const honest = new TextEncoder().encode("1 honest");
  assert.deepEqual(other.rpciReply("info-set", new Uint8Array(0), honest), honest);
  assert.equal(other.mismatches, 1);
  assert.equal(other.record().mutated.length, 0);
});

test("Answerer on a VM: the guest gets the mutated answers, a replay gives them again, no hooks = honest host", () => {
  const session = (a: Answerer | null) => {
    const vm = new VirtualMachine({});
    vm.messaging.guestinfo.set("x", "honest");
    if (a !== null) {
      vm.backdoor!.hooks = a;
      vm.messaging.channels.hooks = a;
      vm.messaging.rpci.hooks = a;
    }
    const g = new Guest(vm);
    const out: unknown[] = [];
    for (let k = 0; k < 20; k++) {
      out.push(g.call("in", { ecx: 1, edx: LB }).eax); // GETMHZ
      out.push(rpcOne(g, "info-get guestinfo.x"));
    }
    return out;
  };
  const honest = session(null);
  assert.ok(honest.every((v, k) => (k % 2 === 0 ? typeof v === "number" : v === "1 honest")));
  const a = new Answerer({ base: [], rng: new Prng(3, 1), rate: 0.5 });
  const hostile = session(a);
  assert.notDeepEqual(hostile, honest);
  assert.ok(a.record().mutated.some((m) => m.kind === "rpci") && a.record().mutated.some((m) => m.kind === "lb" && m.command === 1));
  const replay = new Answerer({ base: a.record().mutated, rng: null, rate: 0 });
  assert.deepEqual(session(replay), hostile);
  assert.equal(replay.mismatches, 0);
});

test("engine hook sites: an HB transfer made to fail fails (EBX = 0) in both directions, counted as no sequence error", () => {
  for (const dir of ["in", "out"] as const) {
    const vm = new VirtualMachine({});
    vm.messaging.guestinfo.set("x", "over HB");
    const seen: string[] = [];
    vm.messaging.channels.hooks = {
      lbResult: () => {},
      rpciReply: (_n, _q, r) => r,
      hbFail: (d, size) => {
        seen.push(`${d}:${size}`);
        return d === dir;
      },
    };
    const g = new Guest(vm);
    assert.equal(rpcOne(g, "info-get guestinfo.x", { hb: "always" }), null, dir);
    assert.ok(seen[0]?.startsWith("out:"), seen.join());
    assert.equal(vm.messaging.channels.counters.sequenceErrors, 0);
    vm.messaging.channels.hooks = null;
    assert.equal(rpcOne(g, "info-get guestinfo.x", { hb: "always" }), "1 over HB");
  }
});

const crash = (o: Partial<CrashInfo>): CrashInfo => ({
  signal: 11,
  code: 0x80,
  addr: "0x0",
  rip: "0x401000",
  mapping: "/usr/bin/tool",
  offset: "0x1000",
  ioGp: false,
  ...o,
});
const runOf = (signal: number | null, crashes: CrashInfo[]): FuzzRunResult => ({
  result: { exitStatus: signal === null ? 0 : 128 + signal, signal, traps: 1, passedSegv: 0, execErrno: null },
  record: { points: 1, mutated: [] },
  keys: [],
  mismatches: 0,
  crashes,
});

test("judge: crashes keyed by signal, mapping and offset; an I/O #GP, a clean exit and SIGTERM are not findings", () => {
  const none = { hang: false, rssExceeded: false, stderr: "" };
  assert.equal(judge(runOf(11, [crash({})]), none).verdict!.key, "SIGSEGV@tool+0x1000");
  assert.equal(judge(runOf(8, [crash({ signal: 8, code: 1 })]), none).verdict!.key, "SIGFPE@tool+0x1000");
  assert.deepEqual(judge(runOf(11, [crash({ ioGp: true })]), none), { verdict: null, ioGp: true });
  assert.equal(judge(runOf(null, []), none).verdict, null);
  // A parent re-raising its child's SIGSEGV (si_code SI_TKILL) does not hide the child's fault.
  const child = crash({ code: 1, mapping: "/usr/lib/libvmtools.so.0", offset: "0x42" });
  assert.equal(
    judge(runOf(11, [child, crash({ code: -6, mapping: "/usr/lib/libc.so.6", offset: "0x99" })]), none).verdict!.key,
    "SIGSEGV@libvmtools.so.0+0x42",
  );
  assert.equal(judge(runOf(15, []), none).verdict, null);
  assert.equal(judge(runOf(9, []), { ...none, hang: true }).verdict!.key, "hang");
  assert.equal(judge(runOf(9, []), { ...none, rssExceeded: true }).verdict!.key, "rss");
  const asan =
    "==1234==ERROR: AddressSanitizer: stack-buffer-overflow on address 0x7ffd1 at pc 0x55 bp 0x7f\nSUMMARY: AddressSanitizer: stack-buffer-overflow /src/tool.c:42 in greet\n";
  assert.equal(sanitizerLine(asan), "SUMMARY: AddressSanitizer: stack-buffer-overflow /src/tool.c:42 in greet");
  assert.equal(
    judge(runOf(null, []), { ...none, stderr: asan }).verdict!.key,
    "sanitizer:SUMMARY: AddressSanitizer: stack-buffer-overflow /src/tool.c:42 in greet",
  );
  assert.equal(sanitizerLine("tool.c:7:12: runtime error: division by zero\n"), "tool.c:7:12: runtime error: division by zero");
  assert.equal(sanitizerLine("an ordinary error\n"), null);
});
