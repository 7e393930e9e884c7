/**
 * The #GP intercept: decode the faulting instruction, check port and magic, run it on the port bus, merge the
 * registers back — and {@link Intercept.step}, which executes one instruction the way CPU and hypervisor do
 * together. `VirtualMachine` (`virtual-machine.ts`) builds the parts and owns one of these.
 *
 * Emulates: the hypervisor half of the VMware backdoor. When a guest's IN/OUT/INS/OUTS on 0x5658/0x5659 or RDPMC
 * of a pseudo-counter faults with #GP (ring 3 without IOPL, or a TSS bitmap that denies the port), the hypervisor
 * fetches and decodes the instruction itself, checks that it targets the backdoor, runs it on the port bus and
 * advances RIP; anything else is reflected unchanged. `step` decodes once: an allowed access goes straight to the
 * bus, a denied one takes the #GP path with the instruction already decoded.
 * Under nested virtualization (`nested.ts`) an L2 guest's #GP goes to its L1 hypervisor instead when L1 intercepts
 * #GP, and every exception the model raises is routed by L1's exception bitmap.
 * Source of truth: KVM `handle_exception_nmi` + `emulator_io_port_access_allowed` (only 0x5658/0x5659 bypass
 * the bitmap; non-zero #GP error codes are re-injected; pseudo-PMCs at any CPL); the Xen vmware_port review
 * (page-split fetch, 15-byte limit, port exactly 0x5658, 32-bit merges); `docs/architecture.md` §2.
 * Addresses are exact over the whole 64-bit range (RIP, RSI/RDI, segment bases and linear addresses are kept as
 * 32-bit halves): in 64-bit mode a fetch or string access that touches a non-canonical address raises #GP(0),
 * everything canonical — the upper half 64-bit kernels run in included — is fetched and transferred.
 * Does not: trace (the VM wraps it), execute any other instruction, check segment limits, or model a real PMU
 * (counters other than the pseudo-counters #GP).
 */
import type { Clock } from "../core/clock.js";
import { newPortAccess, type PortBus } from "../bus/port-bus.js";
import { CpuMode, ipSize } from "../x86/cpu-mode.js";
import { Seg, type CpuState } from "../x86/cpu-state.js";
import { DecodeStatus, DecodedInstruction, Op, decodeInstruction } from "../x86/decoder.js";
import type { GuestMemory } from "../x86/guest-memory.js";
import { AddressSpace, BLOCK_SIZE, addressToBigInt, blockUsable } from "../x86/linear-address.js";
import { FetchFault, InstructionFetcher } from "../x86/instruction-fetch.js";
import { ioAllowed, rdpmcAllowed } from "../x86/io-permission.js";
import { Reg, type RegisterFile } from "../x86/registers.js";
import type { VmProfile } from "../devices/profile.js";
import { BDOORHB_PORT, BDOOR_PORT, BdoorPmc } from "../devices/backdoor/constants.js";
import type { BackdoorDevice } from "../devices/backdoor/backdoor-device.js";
import { ExitResult, Fault, Outcome } from "./exit-result.js";
import { GpLevel, type NestedL1 } from "./nested.js";

/**
 * Most bytes one INS/OUTS step moves: 513 pages, VMware's `BDOOR_HB_MAX_BPNS` (≈ 2 MiB + 1 page). A longer REP
 * runs in chunks of this size, each leaving RIP on the instruction, exactly as an interrupted REP would.
 */
export const STRING_IO_MAX_BYTES = 513 * 4096;

/** What the hypervisor knows from the exit itself. */
export interface GpExitInfo {
  /** #GP error code; non-zero codes (segment-related faults) are always reflected. Default 0. */
  errorCode?: number;
  /** Instruction length reported by the exit (VMX); a hint for the fetch. Default unknown. */
  instructionLength?: number;
  /**
   * Nested virtualization for this exit: the vCPU was running an L2 guest under this L1 (null: it was not).
   * Default: {@link VirtualMachine.nested}.
   */
  nested?: NestedL1 | null;
}

/** Guest-visible events at the intercept, each answered as hardware would and counted. */
export interface VmCounters {
  /** #GP exits handled by {@link VirtualMachine.handleGp}. */
  gpExits: number;
  /** Instructions emulated (completed or partial). */
  emulated: number;
  /** #GP reflected back to the guest. */
  reflectedGp: number;
  /** #UD raised (LOCK prefix). */
  raisedUd: number;
  /** #PF raised (instruction fetch or string buffer not accessible). */
  raisedPf: number;
  /** REP string steps cut at {@link STRING_IO_MAX_BYTES}, at an address wrap or at a 4 GiB boundary. */
  partialStrings: number;
  /** RDPMC pseudo-counter reads. */
  pseudoPmcReads: number;
  /** Exits whose length hint disagreed with the decoded length. */
  lengthHintMismatches: number;
  /** Exceptions that exited to an L1 hypervisor (nested virtualization), #GP or any other vector. */
  nestedExits: number;
}

/** What the intercept reads from the VM that owns it, at each exit (`nested` may change between exits). */
export interface InterceptHost {
  /** The VM's profile (CPUID, pseudo-PMCs, narrow-access behaviour). */
  readonly profile: VmProfile;
  /** The VM clock (pseudo-counters in VM time). */
  readonly clock: Clock;
  /** The port bus backdoor accesses are run on. */
  readonly bus: PortBus;
  /** The LB device (for the command number of a completed access), or null. */
  readonly backdoor: BackdoorDevice | null;
  /** Monotonic time at creation: origin of the elapsed-time pseudo-counters. */
  readonly startMonotonicNs: bigint;
  /** Nested virtualization view for an exit that does not say otherwise. */
  readonly nested: NestedL1 | null;
}

/** The #GP intercept and `step` of one VM. Results are reused: valid until the next call. */
export class Intercept {
  /** What the intercept counted. */
  readonly counters: VmCounters = {
    gpExits: 0,
    emulated: 0,
    reflectedGp: 0,
    raisedUd: 0,
    raisedPf: 0,
    partialStrings: 0,
    pseudoPmcReads: 0,
    lengthHintMismatches: 0,
    nestedExits: 0,
  };
  /** The fetcher that read the last instruction's bytes (traces read it). */
  readonly fetcher = new InstructionFetcher();
  /** The last decoded instruction (traces read it). */
  readonly insn = new DecodedInstruction();
  private readonly access = newPortAccess();
  private readonly result = new ExitResult();
  private scratch = new Uint8Array(4096);
  /** L1's exception bitmap for the exit or step in progress; 0 when the guest is not an L2 guest. */
  private l1Bitmap = 0;

  /** @param vm - the parts the intercept works on, read at each exit. */
  constructor(private readonly vm: InterceptHost) {}

  /** Bytes of the string-I/O staging buffer: grows to the largest chunk moved, at most 2 × {@link STRING_IO_MAX_BYTES}. */
  get scratchBytes(): number {
    return this.scratch.length;
  }

  /**
   * The #GP exit. Call it when `cpu` took #GP; on return `cpu` holds the emulated result, or is unchanged and the
   * result says which fault to reflect. Never throws for any guest state.
   */
  handleGp(cpu: CpuState, mem: GuestMemory, exit?: GpExitInfo): ExitResult {
    const res = this.result;
    res.reset();
    this.counters.gpExits++;
    const nested = exit === undefined || exit.nested === undefined ? this.vm.nested : exit.nested;
    const l1 = nested === null ? 0 : nested.exceptionBitmap;
    this.l1Bitmap = l1;
    const errorCode = exit?.errorCode ?? 0;
    // Nothing to decode: a segment-related #GP, no backdoor, or an L1 that takes every #GP of its L2 guest (KVM
    // nested_vmx_l1_wants_exit: the exit goes to L1 untouched).
    if (errorCode !== 0 || !this.vm.profile.backdoor || (l1 & (1 << Fault.GP)) !== 0) return this.undecoded(res, errorCode);
    res.gpLevel = GpLevel.L0;
    if (!this.fetchAndDecode(cpu, mem, exit?.instructionLength ?? 0, res)) return res;
    return this.decodedGp(cpu, mem, res);
  }

  /**
   * Execute the instruction at RIP as CPU and hypervisor would: allowed I/O goes to the bus, denied I/O raises #GP
   * and takes the intercept (the instruction is fetched and decoded once), RDPMC reads a pseudo-counter or faults.
   * Anything else is UNSUPPORTED.
   */
  step(cpu: CpuState, mem: GuestMemory): ExitResult {
    const res = this.result;
    res.reset();
    this.l1Bitmap = this.vm.nested === null ? 0 : this.vm.nested.exceptionBitmap;
    if (!this.fetchAndDecode(cpu, mem, 0, res)) return res;
    const insn = this.insn;
    if (insn.status === DecodeStatus.NOT_IO) {
      res.outcome = Outcome.UNSUPPORTED;
      return res;
    }
    // RDPMC raises #GP only when not permitted (CPL > 0 without CR4.PCE); permitted, a pseudo-counter is read as
    // L0 answers an RDPMC exit, and any other counter #GPs (the model has no PMU).
    if (insn.op === Op.RDPMC) return rdpmcAllowed(cpu) ? this.rdpmc(cpu, res) : this.stepGp(cpu, mem, res);
    const port = insn.portImm >= 0 ? insn.portImm : cpu.regs.lo(Reg.RDX) & 0xffff;
    if (ioAllowed(cpu, port, insn.size)) {
      res.port = port;
      return this.emulateIo(cpu, mem, port, res);
    }
    return this.stepGp(cpu, mem, res);
  }

  /** A stepped instruction raised #GP: the exit {@link handleGp} would take, on the instruction already decoded. */
  private stepGp(cpu: CpuState, mem: GuestMemory, res: ExitResult): ExitResult {
    this.counters.gpExits++;
    if (!this.vm.profile.backdoor || (this.l1Bitmap & (1 << Fault.GP)) !== 0) {
      res.reset(); // as an undecoded exit: nothing of the decode stays visible
      return this.undecoded(res, 0);
    }
    res.gpLevel = GpLevel.L0;
    return this.decodedGp(cpu, mem, res);
  }

  /** The #GP exit once the instruction is decoded: RDPMC, a backdoor port, or reflect. */
  private decodedGp(cpu: CpuState, mem: GuestMemory, res: ExitResult): ExitResult {
    const insn = this.insn;
    if (insn.status === DecodeStatus.NOT_IO) return this.reflectGp(res, 0);
    if (insn.op === Op.RDPMC) return this.rdpmc(cpu, res);
    const port = insn.portImm >= 0 ? insn.portImm : cpu.regs.lo(Reg.RDX) & 0xffff;
    res.port = port;
    if (port !== BDOOR_PORT && port !== BDOORHB_PORT) return this.reflectGp(res, 0);
    return this.emulateIo(cpu, mem, port, res);
  }

  /** Fetch and decode into `this.insn`. On a fault fills `res` and returns false. */
  private fetchAndDecode(cpu: CpuState, mem: GuestMemory, hint: number, res: ExitResult): boolean {
    const f = this.fetcher;
    // In 64-bit mode (the hot path) the linear IP is RIP itself. One call site keeps `begin` inlined once.
    const long = cpu.mode === CpuMode.LONG64;
    const w = cpu.regs.words;
    const space = !long ? AddressSpace.FLAT32 : cpu.la57 ? AddressSpace.CANONICAL57 : AddressSpace.CANONICAL48;
    f.begin(mem, long ? w[Reg.RIP * 2]! : cpu.linearIpLo(), long ? w[Reg.RIP * 2 + 1]! : 0, hint, space);
    const st = decodeInstruction(f, cpu.mode, this.insn);
    const insn = this.insn;
    res.op = insn.op;
    res.size = insn.size;
    res.length = insn.length;
    if (st !== DecodeStatus.OK && st !== DecodeStatus.NOT_IO) return this.fetchFault(cpu, st, res);
    if (hint > 0 && insn.length > 0 && hint !== insn.length) this.counters.lengthHintMismatches++;
    return true;
  }

  /** A #GP that is reflected (or exits to L1) without being decoded: nothing of an earlier exit stays visible. */
  private undecoded(res: ExitResult, errorCode: number): ExitResult {
    this.fetcher.clear();
    this.insn.reset();
    return this.reflectGp(res, errorCode);
  }

  /** Fill `res` for a decode that ended in a fault (TRUNCATED, TOO_LONG, LOCK); returns false. */
  private fetchFault(cpu: CpuState, st: DecodeStatus, res: ExitResult): false {
    const f = this.fetcher;
    if (st === DecodeStatus.LOCK) {
      if (this.toL1(res, Fault.UD)) return false;
      this.counters.raisedUd++;
      res.outcome = Outcome.FAULT;
      res.fault = Fault.UD;
    } else if (st === DecodeStatus.TOO_LONG || f.fault === FetchFault.GP) {
      this.reflectGp(res, 0); // more than 15 bytes, or a byte at a non-canonical address: #GP(0), not #PF
    } else {
      res.faultAddress = f.faultAddress();
      res.errorCode = pfErrorCode(cpu, false, true);
      if (this.toL1(res, Fault.PF)) return false;
      this.counters.raisedPf++;
      res.outcome = Outcome.FAULT;
      res.fault = Fault.PF;
    }
    return false;
  }

  /** The guest takes #GP: L0 reflects it, or it exits to L1 when L1 intercepts #GP. */
  private reflectGp(res: ExitResult, errorCode: number): ExitResult {
    res.errorCode = errorCode;
    if (this.toL1(res, Fault.GP)) return res;
    this.counters.reflectedGp++;
    res.outcome = Outcome.FAULT;
    res.fault = Fault.GP;
    res.gpLevel = GpLevel.L0;
    return res;
  }

  /**
   * Route exception `fault` (its error code and address already in `res`) to L1 when L1's exception bitmap has
   * its bit: a nested exit, counted. False when the guest is not an L2 guest or L1 does not intercept it.
   */
  private toL1(res: ExitResult, fault: Fault): boolean {
    if ((this.l1Bitmap & (1 << fault)) === 0) return false;
    this.counters.nestedExits++;
    res.outcome = Outcome.NESTED_EXIT;
    res.fault = fault;
    if (fault === Fault.GP) res.gpLevel = GpLevel.L1;
    return true;
  }

  /** RDPMC: pseudo-counters at any CPL when enabled; every other counter #GP (the model has no PMU). */
  private rdpmc(cpu: CpuState, res: ExitResult): ExitResult {
    const regs = cpu.regs;
    const ecx = regs.lo(Reg.RCX);
    if (!this.vm.profile.backdoor || !this.vm.profile.pseudoPmc) return this.reflectGp(res, 0);
    let v: bigint;
    const elapsed = this.vm.clock.monotonicNs() - this.vm.startMonotonicNs;
    switch (ecx) {
      case BdoorPmc.HW_TSC:
        v = (this.vm.clock.monotonicNs() * BigInt(this.vm.profile.tscHz)) / 1_000_000_000n;
        break;
      case BdoorPmc.REAL_NS:
        v = elapsed;
        break;
      case BdoorPmc.APPARENT_NS:
        // Apparent time is the guest's view; vmport never stops a guest's clock, so it equals real time.
        v = elapsed;
        break;
      default:
        return this.reflectGp(res, 0);
    }
    this.counters.pseudoPmcReads++;
    this.counters.emulated++;
    v = BigInt.asUintN(64, v);
    regs.set32ZeroExtend(Reg.RAX, Number(v & 0xffffffffn));
    regs.set32ZeroExtend(Reg.RDX, Number(v >> 32n));
    advanceIp(cpu, this.insn.length);
    res.outcome = Outcome.COMPLETED;
    return res;
  }

  /** IN/OUT/INS/OUTS on `port` through the bus, with the architectural register updates. */
  private emulateIo(cpu: CpuState, mem: GuestMemory, port: number, res: ExitResult): ExitResult {
    const insn = this.insn;
    const regs = cpu.regs;
    const a = this.access;
    a.port = port;
    a.size = insn.size;
    a.regs = regs;
    a.cpl = cpu.cpl;
    a.vcpu = cpu.vcpu;
    if (insn.op === Op.IN) {
      const v = this.vm.bus.read(a);
      if (insn.size === 4) regs.set32ZeroExtend(Reg.RAX, v);
      else if (insn.size === 2) regs.set16(Reg.RAX, v);
      else regs.set8(Reg.RAX, v);
    } else if (insn.op === Op.OUT) {
      this.vm.bus.write(a, regs.lo(Reg.RAX));
    } else {
      if (!this.stringIo(cpu, mem, res)) return res;
      if (res.outcome === Outcome.PARTIAL) {
        this.counters.emulated++;
        return res;
      }
    }
    const bd = this.vm.backdoor;
    res.command = port === BDOOR_PORT && bd !== null ? bd.lastCommand : -1;
    this.counters.emulated++;
    advanceIp(cpu, insn.length);
    return res; // outcome is COMPLETED since reset()
  }

  /**
   * INS/OUTS: count from CX/ECX/RCX (by address size) when REP, direction from DF, OUTS source segment from the
   * override (only FS/GS have a base in 64-bit mode), INS destination ES:rDI. Memory moves in one bulk copy.
   * Every address is computed exactly on 32-bit halves. A chunk stays inside the 4 GiB block of its first element
   * (so each memory access has one `hi`, and every canonical boundary is a block boundary); only a single element
   * that straddles a block boundary is split in two accesses.
   * Returns false after filling `res` with a fault; sets PARTIAL when only a chunk ran.
   */
  private stringIo(cpu: CpuState, mem: GuestMemory, res: ExitResult): boolean {
    const insn = this.insn;
    const regs = cpu.regs;
    const w = regs.words;
    const as = insn.addressSize;
    const size = insn.size;
    const isIn = insn.op === Op.INS;
    const long = cpu.mode === CpuMode.LONG64;
    // Element count: a 64-bit RCX of 2^32 or more is simply "more than one chunk".
    const count = !insn.rep ? 1 : as !== 8 ? regs.readSized(Reg.RCX, as) : w[Reg.RCX * 2 + 1] !== 0 ? Infinity : w[Reg.RCX * 2]!;
    if (count === 0) return true;
    const ptrReg = isIn ? Reg.RDI : Reg.RSI;
    const down = cpu.df;
    let n = Math.min(count, Math.floor(STRING_IO_MAX_BYTES / size));
    // Offset (effective address) of the first element, by address size.
    const eaLo = as === 2 ? regs.get16(ptrReg) : w[ptrReg * 2]!;
    const eaHi = as === 8 ? w[ptrReg * 2 + 1]! : 0;
    const eaSpace = as === 2 ? 0x10000 : BLOCK_SIZE;
    if (as !== 8) {
      // A 16/32-bit offset wraps at its size: the chunk stops there (it resumes like an interrupted REP), and an
      // element that straddles the wrap (a word at offset 0xFFFF in real mode) faults.
      if (eaLo + size > eaSpace) return this.stringGp(res);
      n = Math.min(n, down ? Math.floor(eaLo / size) + 1 : Math.floor((eaSpace - eaLo) / size));
    }
    // Linear address of the first element: base + offset, modulo 2^64 in 64-bit mode, 2^32 outside it.
    const seg = isIn ? Seg.ES : insn.segment;
    const based = !long || seg === Seg.FS || seg === Seg.GS;
    const sum = (based ? cpu.segBaseWords[seg * 2]! : 0) + eaLo;
    const firstLo = sum >>> 0;
    const firstHi = long ? ((based ? cpu.segBaseWords[seg * 2 + 1]! : 0) + eaHi + (sum > 0xffffffff ? 1 : 0)) >>> 0 : 0;
    // The chunk in memory: [lowLo, lowLo + bytes) in block firstHi, or two pieces for one straddling element.
    let lowLo: number;
    let splitAt = 0; // bytes in the first block when one element straddles into the next
    if (firstLo + size > BLOCK_SIZE) {
      n = 1;
      lowLo = firstLo;
      splitAt = BLOCK_SIZE - firstLo;
    } else {
      n = Math.min(n, down ? Math.floor(firstLo / size) + 1 : Math.floor((BLOCK_SIZE - firstLo) / size));
      lowLo = down ? firstLo - (n - 1) * size : firstLo;
    }
    const nextHi = long ? (firstHi + 1) >>> 0 : 0; // the block after: 2^64 wraps to 0, 2^32 too outside 64-bit mode
    const space = cpu.addressSpace();
    if (!blockUsable(firstHi, space) || (splitAt > 0 && !blockUsable(nextHi, space))) return this.stringGp(res);
    const bytes = n * size;
    if (this.scratch.length < bytes) this.scratch = new Uint8Array(Math.max(bytes, this.scratch.length * 2));
    const buf = this.scratch.subarray(0, bytes);
    const len1 = splitAt > 0 ? splitAt : bytes;
    const len2 = bytes - len1;
    const a = this.access;
    if (isIn) {
      // Fault before the port is read when the memory can tell; otherwise undo the device's register writes.
      if (mem.checkWritable !== undefined) {
        const k1 = mem.checkWritable(lowLo, firstHi, len1);
        if (k1 !== len1) return this.pageFault(cpu, res, lowLo + k1, firstHi, true);
        if (len2 > 0) {
          const k2 = mem.checkWritable(0, nextHi, len2);
          if (k2 !== len2) return this.pageFault(cpu, res, k2, nextHi, true);
        }
      }
      const saved = mem.checkWritable === undefined ? regs.words.slice() : null;
      this.vm.bus.readBlock(a, buf);
      if (down) reverseElements(buf, size);
      // Without checkWritable, an element split over two blocks whose second part faults keeps its first part.
      const k1 = mem.write(lowLo, firstHi, buf, 0, len1);
      const k2 = k1 === len1 && len2 > 0 ? mem.write(0, nextHi, buf, len1, len2) : len2;
      if (k1 !== len1 || k2 !== len2) {
        if (saved !== null) regs.words.set(saved);
        return k1 !== len1 ? this.pageFault(cpu, res, lowLo + k1, firstHi, true) : this.pageFault(cpu, res, k2, nextHi, true);
      }
    } else {
      const k1 = mem.read(lowLo, firstHi, buf, 0, len1);
      if (k1 !== len1) return this.pageFault(cpu, res, lowLo + k1, firstHi, false);
      if (len2 > 0) {
        const k2 = mem.read(0, nextHi, buf, len1, len2);
        if (k2 !== len2) return this.pageFault(cpu, res, k2, nextHi, false);
      }
      if (down) reverseElements(buf, size);
      this.vm.bus.writeBlock(a, buf);
    }
    // The pointer moves by the bytes moved and wraps at the address size (a DF=1 run ending at 0 leaves
    // 0xFFFF… minus the element size).
    if (as !== 8) regs.writeSized(ptrReg, as, ((down ? eaLo - bytes : eaLo + bytes) + eaSpace) % eaSpace, long);
    else if (down) {
      const lo = eaLo - bytes;
      w[ptrReg * 2] = lo >>> 0;
      if (lo < 0) w[ptrReg * 2 + 1] = (eaHi - 1) >>> 0;
    } else {
      const lo = eaLo + bytes;
      w[ptrReg * 2] = lo >>> 0;
      if (lo > 0xffffffff) w[ptrReg * 2 + 1] = (eaHi + 1) >>> 0;
    }
    if (insn.rep) {
      if (as !== 8) regs.writeSized(Reg.RCX, as, count - n, long);
      else {
        const lo = w[Reg.RCX * 2]! - n; // n ≤ RCX: at most one borrow
        w[Reg.RCX * 2] = lo >>> 0;
        if (lo < 0) w[Reg.RCX * 2 + 1] = (w[Reg.RCX * 2 + 1]! - 1) >>> 0;
      }
      if (n < count) {
        this.counters.partialStrings++;
        res.outcome = Outcome.PARTIAL;
      }
    }
    return true;
  }

  /** #PF on a string buffer at `hi:lo` (filled into `res`); false, for `stringIo` to return. */
  private pageFault(cpu: CpuState, res: ExitResult, lo: number, hi: number, write: boolean): false {
    res.faultAddress = addressToBigInt(lo, hi);
    res.errorCode = pfErrorCode(cpu, write, false);
    if (this.toL1(res, Fault.PF)) return false;
    this.counters.raisedPf++;
    res.outcome = Outcome.FAULT;
    res.fault = Fault.PF;
    return false;
  }

  /** #GP(0) on a string buffer address (filled into `res`); false, for `stringIo` to return. */
  private stringGp(res: ExitResult): false {
    this.reflectGp(res, 0);
    return false;
  }
}

/** #PF error code: W/R (bit 1), U/S (bit 2, CPL 3), I/D (bit 4, instruction fetch); P is unknown here (0). */
function pfErrorCode(cpu: CpuState, write: boolean, fetch: boolean): number {
  return (write ? 2 : 0) | (cpu.cpl === 3 ? 4 : 0) | (fetch ? 0x10 : 0);
}

/** Advance IP/EIP/RIP by `len`, wrapping at the width of the instruction pointer. */
export function advanceIp(cpu: CpuState, len: number): void {
  const regs: RegisterFile = cpu.regs;
  const lo = regs.lo(Reg.RIP) + len;
  if (cpu.mode === CpuMode.LONG64 && lo <= 0xffffffff) {
    regs.setLo(Reg.RIP, lo);
    return;
  }
  const w = ipSize(cpu.mode);
  if (w === 2) regs.set16(Reg.RIP, lo & 0xffff);
  else if (w === 4) regs.set32ZeroExtend(Reg.RIP, lo >>> 0);
  else {
    regs.setLo(Reg.RIP, lo >>> 0);
    if (lo > 0xffffffff) regs.words[Reg.RIP * 2 + 1] = (regs.hi(Reg.RIP) + 1) >>> 0;
  }
}

/** Reverse the order of `size`-byte elements in `buf` in place (DF = 1 transfers run downwards in memory). */
function reverseElements(buf: Uint8Array, size: number): void {
  const n = buf.length / size;
  for (let i = 0, j = n - 1; i < j; i++, j--) {
    for (let k = 0; k < size; k++) {
      const t = buf[i * size + k]!;
      buf[i * size + k] = buf[j * size + k]!;
      buf[j * size + k] = t;
    }
  }
}
