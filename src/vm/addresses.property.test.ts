/**
 * Property: addresses are exact over the whole 64-bit range. On random addresses biased to the upper canonical
 * half (above 2^53, where a JavaScript number is no longer exact), to canonical boundaries, to page and 4 GiB
 * boundaries and to the 2^64 wrap, the instruction fetch + decoder, string I/O (INS/OUTS with RSI/RDI, FS/GS
 * bases, 67h, DF, REP) and `vmport step` agree with a reference written on BigInt, one byte address at a time.
 * The engine runs against a byte map (independent of the engine's memories) and against `PagedMemory`.
 */
import { test } from "node:test";
import assert from "node:assert/strict";
import fc from "fast-check";
import { VirtualClock } from "../core/clock.js";
import { Width, type PortAccess } from "../bus/port-device.js";
import { CpuMode } from "../x86/cpu-mode.js";
import { CpuState } from "../x86/cpu-state.js";
import { DecodeStatus, DecodedInstruction, Op, decodeInstruction, type ByteSource } from "../x86/decoder.js";
import { PAGE_SIZE, PagedMemory, type GuestMemory } from "../x86/guest-memory.js";
import { FetchFault, InstructionFetcher } from "../x86/instruction-fetch.js";
import { AddressSpace } from "../x86/linear-address.js";
import { Reg, RegisterFile } from "../x86/registers.js";
import { stepJson } from "../cli/step-command.js";
import { Fault, Outcome } from "./exit-result.js";
import { STRING_IO_MAX_BYTES, VirtualMachine } from "./virtual-machine.js";

const RUNS = Number(process.env["VMPORT_PROPERTY_RUNS"] ?? 10_000);
const SEED = Number(process.env["VMPORT_SEED"] ?? Date.now() % 2 ** 31);
const TWO64 = 1n << 64n;
const PAGE = BigInt(PAGE_SIZE);
const u64 = (v: bigint): bigint => BigInt.asUintN(64, v);
const hex16 = (v: bigint): string => "0x" + u64(v).toString(16).padStart(16, "0");

/** Canonical in the reference's own words: bits 63…(w−1) all equal, w = 48 or 57. */
function canonical(a: bigint, la57: boolean): boolean {
  const w = la57 ? 57n : 48n;
  const top = a >> (w - 1n);
  return top === 0n || top === (1n << (65n - w)) - 1n;
}

/**
 * The reference memory: whole pages and single bytes, looked up one byte address at a time in BigInt. Implements
 * GuestMemory with nothing from the engine.
 */
class ByteMap implements GuestMemory {
  readonly bytes = new Map<bigint, number>();
  readonly pages = new Map<bigint, Uint8Array>();
  get(a: bigint): number | undefined {
    return this.bytes.get(a) ?? this.pages.get(a - (a % PAGE))?.[Number(a % PAGE)];
  }
  set(a: bigint, v: number): void {
    const p = this.pages.get(a - (a % PAGE));
    if (p !== undefined) p[Number(a % PAGE)] = v;
    else this.bytes.set(a, v);
  }
  at(lo: number, hi: number, k: number): bigint {
    return u64((BigInt(hi) << 32n) + BigInt(lo) + BigInt(k));
  }
  read(lo: number, hi: number, dst: Uint8Array, start: number, length: number): number {
    for (let k = 0; k < length; k++) {
      const v = this.get(this.at(lo, hi, k));
      if (v === undefined) return k;
      dst[start + k] = v;
    }
    return length;
  }
  checkWritable(lo: number, hi: number, length: number): number {
    for (let k = 0; k < length; k++) if (this.get(this.at(lo, hi, k)) === undefined) return k;
    return length;
  }
  write(lo: number, hi: number, src: Uint8Array, start: number, length: number): number {
    const ok = this.checkWritable(lo, hi, length);
    if (ok !== length) return ok;
    for (let k = 0; k < length; k++) this.set(this.at(lo, hi, k), src[start + k]!);
    return length;
  }
}

/** Both memories with the same present pages and contents. */
function memories(pages: Map<bigint, Uint8Array>): { ref: ByteMap; paged: PagedMemory } {
  const ref = new ByteMap();
  const paged = new PagedMemory();
  for (const [p, data] of pages) {
    paged.load(p, data);
    ref.pages.set(p, data.slice());
  }
  return { ref, paged };
}

/** Random page contents from a seed (cheap to generate, different per page). */
function pageBytes(seed: number): Uint8Array {
  const b = new Uint8Array(PAGE_SIZE);
  let x = seed | 1;
  for (let i = 0; i < PAGE_SIZE; i++) {
    x ^= x << 13;
    x ^= x >>> 17;
    x ^= x << 5;
    b[i] = x & 0xff;
  }
  return b;
}

// Addresses: anchors where exactness matters, plus a delta; and anywhere in the upper half (48- and 57-bit).
const ANCHORS = [
  0n, // the 2^64 wrap
  0xffff_8000_0000_0000n, // start of the upper half (48-bit); just below is non-canonical
  0x0000_8000_0000_0000n, // end of the lower half (48-bit)
  0xff00_0000_0000_0000n, // start of the upper half with LA57
  0x0100_0000_0000_0000n, // end of the lower half with LA57
  0xffff_ffff_8000_0000n, // where 64-bit kernels link
  0x0020_0000_0000_0000n, // 2^53 itself (non-canonical with 48 bits, canonical with LA57)
];
const anchored = fc.tuple(fc.constantFrom(...ANCHORS), fc.integer({ min: -64, max: 64 })).map(([a, d]) => u64(a + BigInt(d)));
const blockEdge = fc
  .tuple(fc.bigInt({ min: 0xffff_8000n, max: 0xffff_ffffn }), fc.integer({ min: -64, max: 64 }))
  .map(([h, d]) => u64((h << 32n) + BigInt(d)));
const pageEdge = fc
  .tuple(fc.bigInt({ min: 0xf_fff8_0000_0000n, max: 0xf_ffff_ffff_ffffn }), fc.integer({ min: -32, max: 32 }))
  .map(([p, d]) => u64((p << 12n) + BigInt(d)));
const upper48 = fc.bigInt({ min: 0xffff_8000_0000_0000n, max: TWO64 - 1n });
const upper57 = fc.bigInt({ min: 0xff00_0000_0000_0000n, max: TWO64 - 1n });
const addrArb = fc.oneof(anchored, blockEdge, pageEdge, upper48, upper57);

// ---------------------------------------------------------------------------------------------------------------
// Fetch + decode.

const PREFIXES = [0x66, 0x67, 0xf2, 0xf3, 0xf0, 0x2e, 0x36, 0x3e, 0x26, 0x64, 0x65, 0x40, 0x48, 0x4f];
const IO_OPCODES = [0xe4, 0xe5, 0xe6, 0xe7, 0xec, 0xed, 0xee, 0xef];
const codeArb = fc
  .tuple(
    fc.array(fc.constantFrom(...PREFIXES), { maxLength: 15 }),
    fc.oneof({ weight: 5, arbitrary: fc.constantFrom(...IO_OPCODES) }, { weight: 1, arbitrary: fc.nat({ max: 255 }) }),
    fc.nat({ max: 255 }),
  )
  .map(([p, op, imm]) => [...p, op, imm]);

/** The reference fetch: byte i is at (rip + i) mod 2^64; the first byte the decoder cannot have says why. */
class RefFetch implements ByteSource {
  fault: { gp: boolean; addr: bigint } | null = null;
  constructor(
    readonly rip: bigint,
    readonly la57: boolean,
    readonly mem: ByteMap,
  ) {}
  byteAt(i: number): number {
    const a = u64(this.rip + BigInt(i));
    if (!canonical(a, this.la57)) {
      this.fault = { gp: true, addr: a };
      return -1;
    }
    const v = this.mem.get(a);
    if (v === undefined) {
      this.fault = { gp: false, addr: a };
      return -1;
    }
    return v;
  }
}

test(`property: fetch + decode at random upper-half RIPs agree with a BigInt reference (${RUNS} runs)`, () => {
  fc.assert(
    fc.property(
      addrArb,
      fc.boolean(),
      codeArb,
      fc.array(fc.boolean(), { minLength: 3, maxLength: 3 }),
      fc.nat(),
      (rip, la57, code, present, seed) => {
        const ripPage = rip & ~(PAGE - 1n);
        const pages = new Map<bigint, Uint8Array>();
        // Pages around RIP, present or not; a non-canonical page may be "present": the engine must not read it.
        present.forEach((on, d) => {
          if (on) pages.set(u64(ripPage + BigInt(d - 1) * PAGE), pageBytes(seed + d));
        });
        for (const [p, data] of pages) {
          code.forEach((b, i) => {
            const off = u64(rip + BigInt(i) - p);
            if (off < PAGE) data[Number(off)] = b;
          });
        }
        const { ref, paged } = memories(pages);
        const refSrc = new RefFetch(rip, la57, ref);
        const want = new DecodedInstruction();
        const wantStatus = decodeInstruction(refSrc, CpuMode.LONG64, want);
        for (const mem of [ref, paged] as GuestMemory[]) {
          // The fetcher and decoder alone.
          const f = new InstructionFetcher();
          f.begin(mem, Number(rip & 0xffff_ffffn), Number(rip >> 32n), 0, la57 ? AddressSpace.CANONICAL57 : AddressSpace.CANONICAL48);
          const got = new DecodedInstruction();
          assert.equal(decodeInstruction(f, CpuMode.LONG64, got), wantStatus);
          assert.deepEqual([got.op, got.size, got.length, got.rep, got.portImm], [want.op, want.size, want.length, want.rep, want.portImm]);
          if (wantStatus === DecodeStatus.TRUNCATED) {
            assert.equal(f.fault, refSrc.fault!.gp ? FetchFault.GP : FetchFault.PF);
            assert.equal(f.faultAddress(), refSrc.fault!.addr);
          }
          // Through step at CPL 0 (I/O allowed): RIP advances by the length, exactly, modulo 2^64.
          const cpu = new CpuState({ mode: CpuMode.LONG64, cpl: 0, la57, regs: regs({ rip, rdx: 0x80n }) });
          const vm = new VirtualMachine({ clock: new VirtualClock() });
          const res = vm.step(cpu, mem);
          switch (wantStatus) {
            case DecodeStatus.OK:
              if (want.op !== Op.IN && want.op !== Op.OUT) break; // string I/O and RDPMC: the other properties
              assert.equal(res.outcome, Outcome.COMPLETED);
              assert.equal(cpu.regs.get64(Reg.RIP), u64(rip + BigInt(want.length)));
              break;
            case DecodeStatus.NOT_IO:
              assert.equal(res.outcome, Outcome.UNSUPPORTED);
              break;
            case DecodeStatus.LOCK:
              assert.equal(res.fault, Fault.UD);
              break;
            case DecodeStatus.TOO_LONG:
              assert.equal(res.fault, Fault.GP);
              break;
            case DecodeStatus.TRUNCATED:
              assert.equal(res.fault, refSrc.fault!.gp ? Fault.GP : Fault.PF);
              assert.equal(res.faultAddress, refSrc.fault!.gp ? null : refSrc.fault!.addr);
              break;
          }
          if (res.outcome !== Outcome.COMPLETED && res.outcome !== Outcome.PARTIAL) assert.equal(cpu.regs.get64(Reg.RIP), rip);
        }
      },
    ),
    { numRuns: RUNS, seed: SEED },
  );
});

// ---------------------------------------------------------------------------------------------------------------
// String I/O.

/** One INS/OUTS as the reference sees it. */
interface StringCase {
  la57: boolean;
  isIn: boolean;
  rep: boolean;
  down: boolean;
  /** Address size: 8, or 4 with 67h. */
  as: 4 | 8;
  size: 1 | 2 | 4;
  /** Segment base used (FS/GS with an override; 0 otherwise, as 64-bit mode has no other bases). */
  base: bigint;
  rcx: bigint;
  /** RSI (OUTS) or RDI (INS), all 64 bits. */
  ptr: bigint;
  present: (a: bigint) => boolean;
}

/** What the reference expects: a fault, or the elements moved (byte addresses of each) and the new registers. */
type StringResult =
  | { kind: "gp" }
  | { kind: "pf"; addr: bigint }
  | { kind: "done"; elements: bigint[][]; ptr: bigint; rcx: bigint; completed: boolean };

/**
 * The reference: elements one at a time, each address computed on its own in BigInt. One step moves the elements
 * from the first up to the count, the chunk bound (2 MiB + 4 KiB), the wrap of a 32-bit offset, or the end of the
 * first element's 4 GiB block (an element that itself straddles a block boundary moves alone); a non-canonical
 * byte in the first element is #GP; the first byte not present, in address order, is #PF and nothing moves.
 */
function referenceString(c: StringCase): StringResult {
  const mod = 1n << BigInt(8 * c.as);
  const size = BigInt(c.size);
  const count = c.rep ? c.rcx % mod : 1n;
  const ptr0 = c.ptr % mod;
  const maxN = BigInt(Math.floor(STRING_IO_MAX_BYTES / c.size));
  const elements: bigint[][] = [];
  let block0 = -1n;
  let straddle = false;
  for (let i = 0n; i < count && i < maxN && !straddle; i++) {
    const ea = c.down ? ptr0 - i * size : ptr0 + i * size;
    if (c.as === 4 && (ea < 0n || ea + size > mod)) {
      if (i === 0n) return { kind: "gp" };
      break;
    }
    const bytes = [...Array(c.size).keys()].map((j) => u64(c.base + (ea % TWO64) + BigInt(j)));
    const blocks = new Set(bytes.map((b) => b >> 32n));
    if (i === 0n) {
      block0 = bytes[0]! >> 32n;
      straddle = blocks.size > 1;
    } else if (blocks.size > 1 || !blocks.has(block0)) break;
    if (!bytes.every((b) => canonical(b, c.la57))) {
      if (i === 0n) return { kind: "gp" };
      break;
    }
    elements.push(bytes);
  }
  const n = BigInt(elements.length);
  if (count === 0n) return { kind: "done", elements, ptr: c.ptr, rcx: c.rcx, completed: true }; // nothing touched
  {
    // Fault scan in address order: the one straddling element byte by byte, else every byte of the chunk ascending.
    const scan = straddle ? elements[0]! : elements.flat().sort((a, b) => (a < b ? -1 : a > b ? 1 : 0));
    const missing = scan.find((a) => !c.present(a));
    if (missing !== undefined) return { kind: "pf", addr: missing };
  }
  return {
    kind: "done",
    elements,
    ptr: (((c.down ? ptr0 - n * size : ptr0 + n * size) % mod) + mod) % mod,
    rcx: c.rep ? count - n : c.rcx,
    completed: n === count,
  };
}

/** A port-0x300 device that records OUTS data and answers INS with a counter. */
class Recorder {
  readonly label = "recorder";
  readonly widths = Width.ALL;
  out: number[] = [];
  next = 1;
  readBlock(_a: PortAccess, dst: Uint8Array): void {
    for (let i = 0; i < dst.length; i++) dst[i] = this.next++ & 0xff;
  }
  writeBlock(_a: PortAccess, src: Uint8Array): void {
    this.out.push(...src);
  }
}

const stringArb = fc.record({
  la57: fc.boolean(),
  opcode: fc.constantFrom(0x6c, 0x6d, 0x6e, 0x6f),
  opsize: fc.boolean(),
  adsize: fc.boolean(),
  rep: fc.boolean(),
  seg: fc.constantFrom(null, 0x64, 0x65, 0x2e),
  down: fc.boolean(),
  ptr: addrArb,
  other: addrArb,
  fsBase: addrArb,
  gsBase: addrArb,
  rcx: fc.oneof(fc.bigInt({ min: 0n, max: 40n }), fc.bigInt({ min: 0n, max: TWO64 - 1n })),
  present: fc.array(fc.oneof({ weight: 4, arbitrary: fc.constant(true) }, { weight: 1, arbitrary: fc.constant(false) }), {
    minLength: 5,
    maxLength: 5,
  }),
  seed: fc.nat(),
});

test(`property: INS/OUTS at random upper-half RSI/RDI and FS/GS bases agree with a BigInt reference (${RUNS} runs)`, () => {
  fc.assert(
    fc.property(stringArb, (s) => {
      const isIn = s.opcode === 0x6c || s.opcode === 0x6d;
      const size: 1 | 2 | 4 = s.opcode === 0x6c || s.opcode === 0x6e ? 1 : s.opsize ? 2 : 4;
      const as: 4 | 8 = s.adsize ? 4 : 8;
      // INS always writes ES (no base in 64-bit mode); OUTS honours FS/GS overrides.
      const base = isIn || s.seg === null || s.seg === 0x2e ? 0n : s.seg === 0x64 ? s.fsBase : s.gsBase;
      let ptr = s.ptr;
      let rcx = s.rcx;
      if (!s.rep || rcx > 40n) {
        // A long REP would move up to 2 MiB: start near the end of the first element's block in the direction of
        // travel so the reference stays short, and keep the count's low half small when 67h takes ECX.
        const lin = u64(base + (as === 4 ? ptr & 0xffff_ffffn : ptr));
        const inBlock = lin & 0xffff_ffffn;
        const want = s.down ? BigInt(s.seed % 48) : 0x1_0000_0000n - BigInt(s.seed % 48) - 1n;
        ptr = u64(ptr + want - inBlock);
        if (as === 4) rcx = (rcx & ~0xffff_ffffn) | (rcx & 0x3fn);
      }
      const code = [
        ...(s.adsize ? [0x67] : []),
        ...(s.seg !== null ? [s.seg] : []),
        ...(s.opsize ? [0x66] : []),
        ...(s.rep ? [0xf3] : []),
        s.opcode,
      ];
      // Pages around the first element (two below, two above), mostly present; they may be non-canonical.
      const lin0 = u64(base + (as === 4 ? ptr & 0xffff_ffffn : ptr));
      const page0 = lin0 & ~(PAGE - 1n);
      const pages = new Map<bigint, Uint8Array>();
      s.present.forEach((on, d) => {
        if (on) pages.set(u64(page0 + BigInt(d - 2) * PAGE), pageBytes(s.seed + d));
      });
      pages.set(0x1000n, new Uint8Array(PAGE_SIZE));
      pages.get(0x1000n)!.set(code);
      const c: StringCase = {
        la57: s.la57,
        isIn,
        rep: s.rep,
        down: s.down,
        as,
        size,
        base,
        rcx,
        ptr,
        present: (a) => pages.has(a & ~(PAGE - 1n)),
      };
      const want = referenceString(c);
      const ptrReg = isIn ? Reg.RDI : Reg.RSI;
      for (const which of ["ref", "paged"] as const) {
        const { ref, paged } = memories(pages);
        const mem: GuestMemory = which === "ref" ? ref : paged;
        const vm = new VirtualMachine({ clock: new VirtualClock() });
        const dev = new Recorder();
        vm.bus.register(0x300, 1, dev);
        const r = regs({ rip: 0x1000n, rdx: 0x300n, rcx, rflags: s.down ? 0x402n : 0x2n });
        r.set64(ptrReg, ptr);
        r.set64(isIn ? Reg.RSI : Reg.RDI, s.other);
        const cpu = new CpuState({ mode: CpuMode.LONG64, cpl: 0, la57: s.la57, regs: r, segBase: [0, 0, 0, 0, s.fsBase, s.gsBase] });
        const before = r.clone();
        const res = vm.step(cpu, mem);
        const what = `${which}: ${code.map((b) => b.toString(16)).join(" ")} ptr ${hex16(ptr)} base ${hex16(base)} rcx ${hex16(rcx)} df ${s.down}`;
        if (want.kind === "gp" || want.kind === "pf") {
          assert.equal(res.outcome, Outcome.FAULT, what);
          assert.equal(res.fault, want.kind === "gp" ? Fault.GP : Fault.PF, what);
          if (want.kind === "pf") assert.equal(res.faultAddress, want.addr, what);
          assert.ok(cpu.regs.equals(before), `${what}: a fault changed a register`);
          assert.deepEqual(dev.out, [], what);
          continue;
        }
        assert.equal(res.outcome, want.completed ? Outcome.COMPLETED : Outcome.PARTIAL, what);
        const after = before.clone();
        after.set64(ptrReg, want.ptr); // a 32-bit address size writes ESI/EDI, zero-extended in 64-bit mode
        if (s.rep) after.set64(Reg.RCX, as === 4 && want.elements.length > 0 ? want.rcx & 0xffff_ffffn : want.rcx);
        if (want.completed) after.set64(Reg.RIP, 0x1000n + BigInt(code.length));
        assert.ok(cpu.regs.equals(after), `${what}: registers ${diff(cpu.regs, after)}`);
        if (isIn) {
          // Element i holds the device's element i.
          let v = 1;
          for (const el of want.elements) for (const a of el) assert.equal(byteAt(mem, a), v++ & 0xff, `${what}: byte at ${hex16(a)}`);
        } else {
          const data = want.elements.flatMap((el) => el.map((a) => ref.get(a)!));
          assert.deepEqual(dev.out, data, what);
        }
      }
    }),
    { numRuns: RUNS, seed: SEED },
  );
});

// ---------------------------------------------------------------------------------------------------------------
// vmport step.

const stepArb = fc.record({
  rip: addrArb,
  la57: fc.boolean(),
  code: fc.constantFrom("ec", "ed", "e4 80", "66 ed", "48 ed", "6e", "f3 6e", "f3 6c", "67 f3 6e", "64 f3 6e"),
  buf: addrArb,
  rcx: fc.bigInt({ min: 0n, max: 12n }),
  memLength: fc.nat({ max: 16 }),
  down: fc.boolean(),
});

test(`property: vmport step at random upper-half RIP/RSI/RDI agrees with a BigInt reference (${Math.ceil(RUNS / 3)} runs)`, () => {
  fc.assert(
    fc.property(stepArb, (s) => {
      const code = Uint8Array.from(s.code.split(" ").map((h) => parseInt(h, 16)));
      const memHex = "00".repeat(s.memLength);
      const args = {
        mode: CpuMode.LONG64,
        cpl: 0,
        iopl: 0,
        la57: s.la57,
        regs: [
          `rip=${s.rip.toString(16)}`,
          "rdx=80",
          `rcx=${s.rcx.toString(16)}`,
          `rsi=${s.buf.toString(16)}`,
          `rdi=${s.buf.toString(16)}`,
          `rflags=${s.down ? 402 : 2}`,
        ],
        mem: s.memLength > 0 ? [`${s.buf.toString(16)}=${memHex}`] : [],
      };
      // Reference: bytes present are exactly the code at RIP and the --mem range (both modulo 2^64; --mem wins).
      const present = new Map<bigint, number>();
      code.forEach((b, i) => {
        present.set(u64(s.rip + BigInt(i)), b);
      });
      for (let i = 0; i < s.memLength; i++) present.set(u64(s.buf + BigInt(i)), 0);
      const refMem = new ByteMap();
      for (const [a, v] of present) refMem.bytes.set(a, v);
      const refSrc = new RefFetch(s.rip, s.la57, refMem);
      const insn = new DecodedInstruction();
      const st = decodeInstruction(refSrc, CpuMode.LONG64, insn);
      if (st === DecodeStatus.NOT_IO) {
        // --mem overwrote the code with zeros (add [rax],al): step executes only I/O and says so.
        assert.throws(() => stepJson(s.code, args), /step executes only those/);
        return;
      }
      const out = stepJson(s.code, args) as { outcome: string; fault: string | null; faultAddress?: string; regs: Record<string, string> };
      const expect = (outcome: string, fault: string | null, regs: Partial<Record<string, bigint>>, faultAddress?: bigint) => {
        assert.equal(out.outcome, outcome, JSON.stringify(out));
        assert.equal(out.fault, fault);
        assert.equal(out.faultAddress, faultAddress === undefined ? undefined : hex16(faultAddress));
        const base: Record<string, bigint> = { rip: s.rip, rcx: s.rcx, rsi: s.buf, rdi: s.buf, rdx: 0x80n, rax: 0n };
        for (const [k, v] of Object.entries({ ...base, ...regs })) assert.equal(out.regs[k], hex16(v!), `${k} in ${JSON.stringify(out)}`);
      };
      if (st === DecodeStatus.TRUNCATED) {
        return refSrc.fault!.gp ? expect("fault", "GP", {}) : expect("fault", "PF", {}, refSrc.fault!.addr);
      }
      assert.equal(st, DecodeStatus.OK);
      const next = u64(s.rip + BigInt(insn.length));
      if (insn.op === Op.IN)
        return expect("completed", null, { rip: next, rax: insn.size === 4 ? 0xffff_ffffn : insn.size === 2 ? 0xffffn : 0xffn });
      const isIn = insn.op === Op.INS;
      const want = referenceString({
        la57: s.la57,
        isIn,
        rep: insn.rep,
        down: s.down,
        as: insn.addressSize as 4 | 8,
        size: insn.size as 1 | 2 | 4,
        base: 0n,
        rcx: s.rcx,
        ptr: s.buf,
        present: (a) => present.has(a),
      });
      if (want.kind === "gp") return expect("fault", "GP", {});
      if (want.kind === "pf") return expect("fault", "PF", {}, want.addr);
      const ptrName = isIn ? "rdi" : "rsi";
      const ptr = insn.addressSize === 4 && want.elements.length > 0 ? want.ptr & 0xffff_ffffn : want.ptr;
      const rcx = insn.rep && want.elements.length > 0 && insn.addressSize === 4 ? want.rcx & 0xffff_ffffn : want.rcx;
      return expect(want.completed ? "completed" : "partial", null, { rip: want.completed ? next : s.rip, [ptrName]: ptr, rcx });
    }),
    { numRuns: Math.ceil(RUNS / 3), seed: SEED },
  );
});

test("row 18 of issue 9: in al,dx at 0xffffffff80001001 (above 2^53) runs the bytes at RIP, RIP advances exactly", () => {
  const out = stepJson("ec", { mode: CpuMode.LONG64, cpl: 0, iopl: 0, regs: ["rip=ffffffff80001001", "rdx=80"], mem: [] }) as {
    outcome: string;
    regs: Record<string, string>;
  };
  assert.equal(out.outcome, "completed");
  assert.equal(out.regs["rip"], "0xffffffff80001002");
  assert.equal(out.regs["rax"], "0x00000000000000ff");
  // An FS base in the upper half with rep outsb from the backdoor's HB port view: the bytes come from base + RSI.
  const vm = new VirtualMachine({ clock: new VirtualClock() });
  const seen: number[][] = [];
  vm.hb!.setTransferHandler({
    transferIn: (_a, _d, out) => out,
    transferOut: (_a, src, out) => {
      seen.push([...src]);
      return out;
    },
  });
  const mem = new PagedMemory();
  mem.load(0x1000, Uint8Array.of(0x64, 0xf3, 0x6e)); // rep outsb fs:[rsi]
  mem.load(0xffff_ffff_ffff_fffen, Uint8Array.of(0x68, 0x69, 0x21)); // "hi!" across the 2^64 wrap
  const r = regs({ rip: 0x1000n, rdx: 0x5659n, rcx: 3n, rsi: 0xfffen });
  const cpu = new CpuState({ mode: CpuMode.LONG64, cpl: 3, regs: r, segBase: [0, 0, 0, 0, 0xffff_ffff_ffff_0000n, 0] });
  // A step stays inside one 4 GiB block: the two bytes below 2^64, then (resuming like an interrupted REP) the one
  // at 0.
  assert.equal(vm.handleGp(cpu, mem).outcome, Outcome.PARTIAL);
  assert.equal(vm.handleGp(cpu, mem).outcome, Outcome.COMPLETED);
  assert.deepEqual(seen, [[0x68, 0x69], [0x21]]);
  assert.equal(cpu.regs.get64(Reg.RSI), 0x1_0001n);
  assert.equal(cpu.regs.get64(Reg.RIP), 0x1003n);
});

function regs(init: Partial<Record<"rip" | "rdx" | "rcx" | "rsi" | "rdi" | "rflags", bigint>>): RegisterFile {
  const r = new RegisterFile();
  r.set64(Reg.RFLAGS, 2n);
  const map = { rip: Reg.RIP, rdx: Reg.RDX, rcx: Reg.RCX, rsi: Reg.RSI, rdi: Reg.RDI, rflags: Reg.RFLAGS };
  for (const [k, v] of Object.entries(init)) r.set64(map[k as keyof typeof map], v);
  return r;
}

function byteAt(mem: GuestMemory, a: bigint): number {
  const b = new Uint8Array(1);
  assert.equal(mem.read(Number(a & 0xffff_ffffn), Number(a >> 32n), b, 0, 1), 1);
  return b[0]!;
}

function diff(a: RegisterFile, b: RegisterFile): string {
  const out: string[] = [];
  for (let r = 0; r < 18; r++) if (a.get64(r) !== b.get64(r)) out.push(`r${r}: got ${hex16(a.get64(r))} want ${hex16(b.get64(r))}`);
  return out.join(", ");
}
