/**
 * Property test: random sequences of message-channel operations — LB command 30 with every message type, HB
 * transfers, random registers, cookies right and wrong, random payloads including RPCI-shaped ones, host TCLO
 * commands and clock jumps — 100 000 steps per run. Nothing throws, every step completes or faults by name, host
 * memory stays under the named bounds, and the channel invariants hold after every step.
 */
import { test } from "node:test";
import assert from "node:assert/strict";
import fc from "fast-check";
import { VirtualClock } from "../core/clock.js";
import { SeededRandom } from "../core/random.js";
import { CpuMode } from "../x86/cpu-mode.js";
import { CpuState } from "../x86/cpu-state.js";
import { PAGE_SIZE, PagedMemory } from "../x86/guest-memory.js";
import { Reg } from "../x86/registers.js";
import { Fault, Outcome } from "../vm/exit-result.js";
import { VirtualMachine } from "../vm/virtual-machine.js";
import { MAX_MESSAGE_SIZE, MAX_REPLY_SIZE } from "./constants.js";
import { GUESTINFO_MAX_KEYS, GUESTINFO_MAX_TOTAL_BYTES } from "./guestinfo-store.js";
import { TCLO_MAX_QUEUED } from "./tclo.js";

const RUNS = 100;
const STEPS = 1000; // × RUNS = 100 000 steps
const MAGIC = 0x564d5868;
const BUF = 0x20000;
const enc = new TextEncoder();

const sizeArb = fc.oneof(fc.constantFrom(0, 1, 3, 4, 5, 24, MAX_MESSAGE_SIZE, MAX_MESSAGE_SIZE + 1, 0xffffffff), fc.nat({ max: 200 }));
const payloadArb = fc.oneof(
  fc.uint8Array({ maxLength: 64 }),
  fc
    .tuple(
      fc.constantFrom(
        "info-set guestinfo.",
        "info-get guestinfo.",
        "log ",
        "SetGuestInfo  10 ",
        "SetGuestInfo  11 ",
        "tools.capability.x ",
        "guestlib.info.get ",
      ),
      fc.string({ maxLength: 40 }),
    )
    .map(([a, b]) => enc.encode(a + b)),
);
const chanArb = fc.oneof({ weight: 8, arbitrary: fc.nat({ max: 3 }) }, { weight: 1, arbitrary: fc.nat({ max: 200 }) });
const goodArb = fc.oneof({ weight: 5, arbitrary: fc.constant(true) }, { weight: 1, arbitrary: fc.constant(false) });
const typeArb = fc.oneof(
  { weight: 3, arbitrary: fc.constantFrom(0, 1, 2, 2, 2, 3, 4, 4, 5, 6) },
  { weight: 1, arbitrary: fc.nat({ max: 8 }) },
);
const stepArb = fc.oneof(
  {
    weight: 6,
    arbitrary: fc.record({
      kind: fc.constant("lb" as const),
      type: typeArb,
      ebx: fc.oneof(sizeArb, fc.constantFrom(0x49435052, 0xc9435052, 0xcf4c4354, 0x4f4c4354), fc.nat({ max: 0xffffffff })),
      chan: chanArb,
      goodCookie: goodArb,
      out: fc.boolean(),
      size: fc.constantFrom(1, 2, 4),
    }),
  },
  {
    weight: 3,
    arbitrary: fc.record({
      kind: fc.constant("hbout" as const),
      payload: payloadArb,
      extra: fc.nat({ max: 3 }),
      chan: chanArb,
      goodCookie: goodArb,
      hbCmd: fc.constantFrom(0, 0, 0, 1),
    }),
  },
  {
    weight: 2,
    arbitrary: fc.record({
      kind: fc.constant("hbin" as const),
      count: fc.oneof(fc.nat({ max: 80 }), fc.constant(70_000)),
      chan: chanArb,
      goodCookie: goodArb,
    }),
  },
  {
    weight: 1,
    arbitrary: fc.record({
      kind: fc.constant("tclo" as const),
      cmd: fc.constantFrom("ping", "reset", "Capabilities_Register", "Set_Option broadcastIP 1"),
    }),
  },
  { weight: 1, arbitrary: fc.record({ kind: fc.constant("clock" as const), ms: fc.nat({ max: 100_000 }) }) },
);

// biome-ignore lint/complexity/noExcessiveLinesPerFunction: one model step per case of the random program, kept side by side with the invariants it checks
test(`property: ${RUNS * STEPS} random channel steps keep every invariant`, () => {
  let steps = 0;
  const totals = {
    opens: 0,
    messages: 0,
    sequenceErrors: 0,
    badCookie: 0,
    oversize: 0,
    reclaimed: 0,
    hbBytesOut: 0,
    hbBytesIn: 0,
    openFailures: 0,
  };
  const faults = new Map<number, number>();
  fc.assert(
    fc.property(
      fc.array(stepArb, { minLength: STEPS, maxLength: STEPS }),
      fc.constantFrom(4, 128),
      fc.boolean(),
      (ops, maxChannels, highBandwidth) => {
        const clock = new VirtualClock();
        const vm = new VirtualMachine({ profile: { maxChannels, highBandwidth }, clock, random: new SeededRandom(1) });
        const cpu = new CpuState({ mode: CpuMode.LONG64, cpl: 3 });
        const mem = new PagedMemory();
        mem.load(0x1000, Uint8Array.of(0xed, 0xef, 0xf3, 0x6e, 0xf3, 0x6c));
        for (let a = BUF; a < BUF + 72 * 1024; a += PAGE_SIZE) mem.map(a);
        const cookies = (id: number) => vm.messaging.channels.channels().find((c) => c.id === id);
        const regs = cpu.regs;
        const run = (rip: number, r: Record<string, number>) => {
          regs.set64(Reg.RIP, BigInt(rip));
          for (const [k, v] of Object.entries(r)) regs.set32ZeroExtend((Reg as Record<string, number>)[k.toUpperCase()]!, v >>> 0);
          const res = vm.handleGp(cpu, mem);
          if (res.outcome === Outcome.FAULT) {
            assert.ok(res.fault === Fault.GP || res.fault === Fault.PF || res.fault === Fault.UD);
            faults.set(res.fault, (faults.get(res.fault) ?? 0) + 1);
          } else assert.equal(res.outcome, Outcome.COMPLETED);
        };
        for (const op of ops) {
          steps++;
          switch (op.kind) {
            case "lb": {
              const c = cookies(op.chan);
              const rip = op.out ? 0x1001 : 0x1000;
              run(rip, {
                rax: MAGIC,
                rbx: op.ebx,
                rcx: ((op.type << 16) | 30) >>> 0,
                rdx: ((op.chan << 16) | 0x5658) >>> 0,
                rsi: op.goodCookie && c ? c.cookieHigh : 0x1111,
                rdi: op.goodCookie && c ? c.cookieLow : 0x2222,
              });
              // Replies carry only SUCCESS, DORECV and HB in ECX high (vmport never checkpoints or powers off), ECX low 0.
              const ecx = regs.lo(Reg.RCX);
              assert.equal(ecx & 0xffff, 0);
              assert.equal((ecx >>> 16) & ~0x83, 0);
              if (ecx !== 0) assert.equal((ecx >>> 16) & 1, 1, "a status without SUCCESS must be a zero ECX");
              break;
            }
            case "hbout": {
              const c = cookies(op.chan);
              mem.load(BUF, op.payload);
              run(0x1002, {
                rax: MAGIC,
                rbx: (0x10000 | op.hbCmd) >>> 0,
                rcx: op.payload.length + op.extra,
                rdx: ((op.chan << 16) | 0x5659) >>> 0,
                rsi: BUF,
                rdi: op.goodCookie && c ? c.cookieLow : 1,
                rbp: op.goodCookie && c ? c.cookieHigh : 2,
              });
              break;
            }
            case "hbin": {
              const c = cookies(op.chan);
              run(0x1004, {
                rax: MAGIC,
                rbx: 0x10000,
                rcx: op.count,
                rdx: ((op.chan << 16) | 0x5659) >>> 0,
                rsi: op.goodCookie && c ? c.cookieHigh : 1,
                rdi: BUF,
                rbp: op.goodCookie && c ? c.cookieLow : 2,
              });
              break;
            }
            case "tclo":
              if (vm.messaging.tclo.queued < TCLO_MAX_QUEUED) vm.messaging.tclo.send(op.cmd, { timeoutMs: 5000 }).catch(() => {});
              break;
            case "clock":
              clock.advance(BigInt(op.ms) * 1_000_000n);
              vm.runTimers();
              break;
          }
          // Invariants.
          const chans = vm.messaging.channels.channels();
          assert.ok(chans.length <= maxChannels);
          assert.equal(new Set(chans.map((c) => c.id)).size, chans.length);
          for (const c of chans) {
            assert.ok(c.id >= 0 && c.id < maxChannels);
            if (c.send !== null) assert.ok(c.send.length <= MAX_MESSAGE_SIZE && c.sendPos < c.send.length);
            if (c.reply !== null) assert.ok(c.reply.length <= MAX_REPLY_SIZE && c.replyPos <= c.reply.length);
          }
          assert.ok(vm.messaging.channels.bufferedBytes() <= maxChannels * (MAX_MESSAGE_SIZE + MAX_REPLY_SIZE));
          assert.ok(vm.messaging.guestinfo.size <= GUESTINFO_MAX_KEYS && vm.messaging.guestinfo.bytes <= GUESTINFO_MAX_TOTAL_BYTES);
          assert.ok(vm.messaging.tclo.queued <= TCLO_MAX_QUEUED);
        }
        const k = vm.messaging.channels.counters;
        assert.ok(k.opens >= k.closes);
        for (const key of Object.keys(totals) as (keyof typeof totals)[]) totals[key] += k[key];
      },
    ),
    { numRuns: RUNS, seed: Number(process.env["VMPORT_SEED"] ?? Date.now() % 2 ** 31) },
  );
  assert.equal(steps >= RUNS * STEPS, true);
  if (process.env["VMPORT_FUZZ_STATS"]) console.log(JSON.stringify({ totals, faults: [...faults] }));
  // The generator must reach the interesting paths, or the run proves little.
  for (const key of ["opens", "messages", "sequenceErrors", "badCookie", "oversize", "hbBytesOut", "hbBytesIn", "openFailures"] as const) {
    assert.ok(totals[key] > 0, `no step reached ${key}: ${JSON.stringify(totals)}`);
  }
});
