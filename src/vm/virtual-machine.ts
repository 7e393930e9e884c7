/**
 * A VM as the backdoor sees it, and the #GP intercept: decode, check port and magic, emulate, merge registers.
 *
 * Emulates: the hypervisor half of the VMware backdoor. When a guest's IN/OUT/INS/OUTS on 0x5658/0x5659 or RDPMC
 * of a pseudo-counter faults with #GP (ring 3 without IOPL, or a TSS bitmap that denies the port), the hypervisor
 * fetches and decodes the instruction itself, checks that it targets the backdoor, runs it on the port bus and
 * advances RIP; anything else is reflected unchanged. {@link VirtualMachine.step} executes one instruction the way
 * CPU and hypervisor do together: an allowed access goes straight to the bus, a denied one takes the #GP path.
 * Under nested virtualization (`nested.ts`) an L2 guest's #GP goes to its L1 hypervisor instead when L1 intercepts
 * #GP, and every exception the model raises is routed by L1's exception bitmap.
 * Source of truth: KVM `handle_exception_nmi` + `emulator_io_port_access_allowed` (only 0x5658/0x5659 bypass
 * the bitmap; non-zero #GP error codes are re-injected; pseudo-PMCs at any CPL); the Xen vmware_port review
 * (page-split fetch, 15-byte limit, port exactly 0x5658, 32-bit merges); `docs/protocol.md` §2, §11, §12.
 * Addresses are exact over the whole 64-bit range (RIP, RSI/RDI, segment bases and linear addresses are kept as
 * 32-bit halves): in 64-bit mode a fetch or string access that touches a non-canonical address raises #GP(0),
 * everything canonical — the upper half 64-bit kernels run in included — is fetched and transferred.
 * Does not: execute any other instruction, check segment limits, or model a real PMU (counters other than the
 * pseudo-counters #GP).
 */
import type { Clock } from "../core/clock.js";
import { DateClock } from "../core/clock.js";
import { PortBus, newPortAccess } from "../bus/port-bus.js";
import { CpuMode, ipSize } from "../x86/cpu-mode.js";
import { Seg, type CpuState } from "../x86/cpu-state.js";
import { DecodeStatus, DecodedInstruction, Op, decodeInstruction } from "../x86/decoder.js";
import type { GuestMemory } from "../x86/guest-memory.js";
import { AddressSpace, BLOCK_SIZE, addressToBigInt, blockUsable } from "../x86/linear-address.js";
import { FetchFault, InstructionFetcher } from "../x86/instruction-fetch.js";
import { ioAllowed, rdpmcAllowed } from "../x86/io-permission.js";
import { Reg, type RegisterFile } from "../x86/registers.js";
import { resolveProfile, type VmProfile, type VmProfileInput } from "../devices/profile.js";
import { BDOORHB_PORT, BDOOR_PORT, BdoorPmc } from "../devices/backdoor/constants.js";
import type { BackdoorDevice } from "../devices/backdoor/backdoor-device.js";
import { BackdoorHbDevice } from "../devices/backdoor/hb-device.js";
import { createBackdoorDevice } from "../devices/backdoor/index.js";
import { ExitResult, Fault, Outcome } from "./exit-result.js";
import type { RandomSource } from "../core/random.js";
import { BdoorCmd } from "../devices/backdoor/constants.js";
import { Messaging } from "../channels/messaging.js";
import { Vmmouse } from "../devices/vmmouse/vmmouse.js";
import { TraceAccess } from "./trace.js";
import { EventSet } from "../core/events.js";
import { GpLevel, checkNested, type NestedL1 } from "./nested.js";

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

/** Options for {@link VirtualMachine}. */
export interface VirtualMachineOptions {
  /** Profile keys (validated) or a resolved profile. Default: every default. */
  profile?: VmProfileInput;
  /** Host clock. Default: a `Date`-based clock (front ends inject a high-resolution one). */
  clock?: Clock;
  /** Source of message-channel cookies. Default: Web Crypto (a CSPRNG). */
  random?: RandomSource;
  /**
   * Nested virtualization: the guest runs as an L2 guest under an L1 hypervisor with this exception bitmap, e.g.
   * `{ exceptionBitmap: L1_INTERCEPTS_GP }`. Default null: not nested (vmport is the guest's only hypervisor).
   */
  nested?: NestedL1 | null;
}

/** One VM: profile, clock, port bus with the backdoor devices, and the intercept. */
export class VirtualMachine {
  /** The resolved profile. */
  readonly profile: VmProfile;
  /** Host clock. */
  readonly clock: Clock;
  /** The I/O port bus. */
  readonly bus = new PortBus();
  /** LB device, or null when the profile disables the backdoor. */
  readonly backdoor: BackdoorDevice | null;
  /** HB device, or null when the profile disables the backdoor. */
  readonly hb: BackdoorHbDevice | null;
  /** What the intercept counted (one record of {@link counters}). */
  readonly interceptCounters: VmCounters = {
    gpExits: 0, emulated: 0, reflectedGp: 0, raisedUd: 0, raisedPf: 0, partialStrings: 0, pseudoPmcReads: 0, lengthHintMismatches: 0,
    nestedExits: 0,
  };
  /**
   * Nested virtualization view for every exit that does not say otherwise ({@link GpExitInfo.nested}); null: the
   * guest is not an L2 guest. Embedders update it when L1 changes its exception bitmap or leaves L2.
   */
  nested: NestedL1 | null;
  /** Monotonic time at creation: origin of the elapsed-time pseudo-counters. */
  readonly startMonotonicNs: bigint;
  /** Message channel, RPCI, TCLO, guestinfo and the guest model (present even with the backdoor disabled). */
  readonly messaging: Messaging;
  /** The absolute pointer; feed host input with `vm.mouse.event(x, y, buttons, wheel)`. */
  readonly mouse = new Vmmouse();
  /**
   * One event per intercepted or stepped instruction: a {@link TraceAccess} valid during the call (`toRecord()`
   * builds the JSON record). With no listener, tracing costs one comparison per access.
   */
  readonly trace = new EventSet<TraceAccess>();

  private readonly access = newPortAccess();
  private readonly fetcher = new InstructionFetcher();
  private readonly insn = new DecodedInstruction();
  private readonly result = new ExitResult();
  private scratch = new Uint8Array(4096);
  /** L1's exception bitmap for the exit or step in progress; 0 when the guest is not an L2 guest. */
  private l1Bitmap = 0;
  private readonly access1 = new TraceAccess(this, this.fetcher, this.insn);
  /** True inside a traced `step`: a denied access re-enters `handleGp`, and the step is recorded once. */
  private stepping = false;

  /** @throws VmportError VMPORT_BAD_PROFILE for a bad profile key, VMPORT_BAD_ARGUMENT for a bad `nested`. */
  constructor(options: VirtualMachineOptions = {}) {
    this.profile = resolveProfile(options.profile ?? {});
    this.nested = checkNested(options.nested);
    this.clock = options.clock ?? new DateClock();
    this.startMonotonicNs = this.clock.monotonicNs();
    if (this.profile.backdoor) {
      this.backdoor = createBackdoorDevice(this.profile, this.clock);
      this.hb = new BackdoorHbDevice();
      this.bus.register(BDOOR_PORT, 1, this.backdoor);
      this.bus.register(BDOORHB_PORT, 1, this.hb);
    } else {
      this.backdoor = null;
      this.hb = null;
    }
    this.messaging = new Messaging({
      profile: this.profile,
      clock: this.clock,
      ...(options.random !== undefined ? { random: options.random } : {}),
      backdoorState: this.backdoor?.ctx.state ?? null,
      startMonotonicNs: this.startMonotonicNs,
    });
    if (this.backdoor !== null && this.hb !== null) {
      this.backdoor.registry.register(BdoorCmd.MESSAGE, "MESSAGE", this.messaging.channels.handleCommand);
      this.hb.setTransferHandler(this.messaging.channels);
      this.mouse.register(this.backdoor.registry);
    }
  }

  /**
   * Every component's counters, one record each: `intercept` (this VM's #GP intercept), `backdoor` (LB device) and
   * `hb` (HB device) when the backdoor is enabled, `clipboard` (legacy clipboard misuse), `channels` (message
   * channel), `rpci`, `tclo`, `guest` (dropped model entries), `mouse`, and `events` (listener calls that threw,
   * over every listener set of the VM). Copies: reading them changes nothing.
   */
  counters(): Record<string, Record<string, number>> {
    const m = this.messaging;
    const out: Record<string, Record<string, number>> = { intercept: { ...this.interceptCounters } };
    if (this.backdoor !== null) {
      const st = this.backdoor.ctx.state;
      out["backdoor"] = { ...this.backdoor.counters };
      out["clipboard"] = { refused: st.clipboardRefused, strayPieces: st.clipboardStrayPieces };
    }
    if (this.hb !== null) out["hb"] = { ...this.hb.counters };
    out["channels"] = { ...m.channels.counters };
    out["rpci"] = { ...m.rpci.counters };
    out["tclo"] = { ...m.tclo.counters };
    out["guest"] = { ...m.guest.counters };
    out["mouse"] = { ...this.mouse.counters };
    const sets: { readonly errors: number }[] = [this.trace, this.mouse.packets, m.guestinfo.changes, m.guest.changes, m.tclo.events, m.rpci.exchanges, m.namespaces.changes];
    if (this.backdoor !== null) sets.push(this.backdoor.ctx.state.guestSelections);
    out["events"] = { listenerErrors: sets.reduce((n, e) => n + e.errors, 0) };
    return out;
  }

  /** Run time-based work on the VM clock (TCLO command timeouts). Front ends call it periodically. */
  runTimers(): void {
    this.messaging.tclo.expire();
  }

  /**
   * The #GP intercept. Call it when `cpu` took #GP; on return `cpu` holds the emulated result, or is unchanged
   * and the result says which fault to reflect. Never throws for any guest state.
   * The returned object is reused by the next call.
   */
  handleGp(cpu: CpuState, mem: GuestMemory, exit?: GpExitInfo): ExitResult {
    if (this.trace.size === 0 || this.stepping) return this.gpExit(cpu, mem, exit);
    const a = this.access1;
    a.before.set(cpu.regs.words);
    const res = this.gpExit(cpu, mem, exit);
    a.via = "gp";
    a.cpu = cpu;
    a.res = res;
    this.trace.emit(a);
    return res;
  }

  private gpExit(cpu: CpuState, mem: GuestMemory, exit?: GpExitInfo): ExitResult {
    const res = this.result;
    res.reset();
    this.interceptCounters.gpExits++;
    const nested = exit === undefined || exit.nested === undefined ? this.nested : exit.nested;
    const l1 = (this.l1Bitmap = nested === null ? 0 : nested.exceptionBitmap);
    const errorCode = exit?.errorCode ?? 0;
    // Nothing to decode: a segment-related #GP, no backdoor, or an L1 that takes every #GP of its L2 guest (KVM
    // nested_vmx_l1_wants_exit: the exit goes to L1 untouched).
    if (errorCode !== 0 || !this.profile.backdoor || (l1 & (1 << Fault.GP)) !== 0) return this.undecoded(res, errorCode);
    res.gpLevel = GpLevel.L0;
    if (!this.fetchAndDecode(cpu, mem, exit?.instructionLength ?? 0, res)) return res;
    const insn = this.insn;
    if (insn.status === DecodeStatus.NOT_IO) return this.reflectGp(res, 0);
    if (insn.op === Op.RDPMC) return this.rdpmc(cpu, res);
    const port = insn.portImm >= 0 ? insn.portImm : cpu.regs.lo(Reg.RDX) & 0xffff;
    res.port = port;
    if (port !== BDOOR_PORT && port !== BDOORHB_PORT) return this.reflectGp(res, 0);
    return this.emulateIo(cpu, mem, port, res);
  }

  /**
   * Execute the instruction at RIP as CPU and hypervisor would: allowed I/O goes to the bus, denied I/O raises #GP
   * and takes the intercept, RDPMC reads a pseudo-counter or faults. Anything else is UNSUPPORTED.
   * The returned object is reused by the next call.
   */
  step(cpu: CpuState, mem: GuestMemory): ExitResult {
    if (this.trace.size === 0) return this.stepInner(cpu, mem);
    const a = this.access1;
    a.before.set(cpu.regs.words);
    this.stepping = true; // a denied access re-enters handleGp: record the step once
    let res: ExitResult;
    try {
      res = this.stepInner(cpu, mem);
    } finally {
      this.stepping = false;
    }
    a.via = "step";
    a.cpu = cpu;
    a.res = res;
    this.trace.emit(a);
    return res;
  }

  private stepInner(cpu: CpuState, mem: GuestMemory): ExitResult {
    const res = this.result;
    res.reset();
    this.l1Bitmap = this.nested === null ? 0 : this.nested.exceptionBitmap;
    if (!this.fetchAndDecode(cpu, mem, 0, res)) return res;
    const insn = this.insn;
    if (insn.status === DecodeStatus.NOT_IO) {
      res.outcome = Outcome.UNSUPPORTED;
      return res;
    }
    // RDPMC raises #GP only when not permitted (CPL > 0 without CR4.PCE); permitted, a pseudo-counter is read as
    // L0 answers an RDPMC exit, and any other counter #GPs (the model has no PMU).
    if (insn.op === Op.RDPMC) return rdpmcAllowed(cpu) ? this.rdpmc(cpu, res) : this.handleGp(cpu, mem);
    const port = insn.portImm >= 0 ? insn.portImm : cpu.regs.lo(Reg.RDX) & 0xffff;
    if (ioAllowed(cpu, port, insn.size)) {
      res.port = port;
      return this.emulateIo(cpu, mem, port, res);
    }
    return this.handleGp(cpu, mem);
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
    if (hint > 0 && insn.length > 0 && hint !== insn.length) this.interceptCounters.lengthHintMismatches++;
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
      this.interceptCounters.raisedUd++;
      res.outcome = Outcome.FAULT;
      res.fault = Fault.UD;
    } else if (st === DecodeStatus.TOO_LONG || f.fault === FetchFault.GP) {
      this.reflectGp(res, 0); // more than 15 bytes, or a byte at a non-canonical address: #GP(0), not #PF
    } else {
      res.faultAddress = f.faultAddress();
      res.errorCode = pfErrorCode(cpu, false, true);
      if (this.toL1(res, Fault.PF)) return false;
      this.interceptCounters.raisedPf++;
      res.outcome = Outcome.FAULT;
      res.fault = Fault.PF;
    }
    return false;
  }

  /** The guest takes #GP: L0 reflects it, or it exits to L1 when L1 intercepts #GP. */
  private reflectGp(res: ExitResult, errorCode: number): ExitResult {
    res.errorCode = errorCode;
    if (this.toL1(res, Fault.GP)) return res;
    this.interceptCounters.reflectedGp++;
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
    this.interceptCounters.nestedExits++;
    res.outcome = Outcome.NESTED_EXIT;
    res.fault = fault;
    if (fault === Fault.GP) res.gpLevel = GpLevel.L1;
    return true;
  }

  /** RDPMC: pseudo-counters at any CPL when enabled; every other counter #GP (the model has no PMU). */
  private rdpmc(cpu: CpuState, res: ExitResult): ExitResult {
    const regs = cpu.regs;
    const ecx = regs.lo(Reg.RCX);
    if (!this.profile.backdoor || !this.profile.pseudoPmc) return this.reflectGp(res, 0);
    let v: bigint;
    const elapsed = this.clock.monotonicNs() - this.startMonotonicNs;
    switch (ecx) {
      case BdoorPmc.HW_TSC:
        v = (this.clock.monotonicNs() * BigInt(this.profile.tscHz)) / 1_000_000_000n;
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
    this.interceptCounters.pseudoPmcReads++;
    this.interceptCounters.emulated++;
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
      const v = this.bus.read(a);
      if (insn.size === 4) regs.set32ZeroExtend(Reg.RAX, v);
      else if (insn.size === 2) regs.set16(Reg.RAX, v);
      else regs.set8(Reg.RAX, v);
    } else if (insn.op === Op.OUT) {
      this.bus.write(a, regs.lo(Reg.RAX));
    } else {
      if (!this.stringIo(cpu, mem, res)) return res;
      if (res.outcome === Outcome.PARTIAL) {
        this.interceptCounters.emulated++;
        return res;
      }
    }
    const bd = this.backdoor;
    res.command = port === BDOOR_PORT && bd !== null ? bd.lastCommand : -1;
    this.interceptCounters.emulated++;
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
      if (eaLo + size > eaSpace) return this.reflectGp(res, 0), false;
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
    if (!blockUsable(firstHi, space) || (splitAt > 0 && !blockUsable(nextHi, space))) return this.reflectGp(res, 0), false;
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
        if (k1 !== len1) return this.pageFault(cpu, res, lowLo + k1, firstHi, true), false;
        if (len2 > 0) {
          const k2 = mem.checkWritable(0, nextHi, len2);
          if (k2 !== len2) return this.pageFault(cpu, res, k2, nextHi, true), false;
        }
      }
      const saved = mem.checkWritable === undefined ? regs.words.slice() : null;
      this.bus.readBlock(a, buf);
      if (down) reverseElements(buf, size);
      // Without checkWritable, an element split over two blocks whose second part faults keeps its first part.
      const k1 = mem.write(lowLo, firstHi, buf, 0, len1);
      const k2 = k1 === len1 && len2 > 0 ? mem.write(0, nextHi, buf, len1, len2) : len2;
      if (k1 !== len1 || k2 !== len2) {
        if (saved !== null) regs.words.set(saved);
        return k1 !== len1 ? this.pageFault(cpu, res, lowLo + k1, firstHi, true) : this.pageFault(cpu, res, k2, nextHi, true), false;
      }
    } else {
      const k1 = mem.read(lowLo, firstHi, buf, 0, len1);
      if (k1 !== len1) return this.pageFault(cpu, res, lowLo + k1, firstHi, false), false;
      if (len2 > 0) {
        const k2 = mem.read(0, nextHi, buf, len1, len2);
        if (k2 !== len2) return this.pageFault(cpu, res, k2, nextHi, false), false;
      }
      if (down) reverseElements(buf, size);
      this.bus.writeBlock(a, buf);
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
        this.interceptCounters.partialStrings++;
        res.outcome = Outcome.PARTIAL;
      }
    }
    return true;
  }

  private pageFault(cpu: CpuState, res: ExitResult, lo: number, hi: number, write: boolean): void {
    res.faultAddress = addressToBigInt(lo, hi);
    res.errorCode = pfErrorCode(cpu, write, false);
    if (this.toL1(res, Fault.PF)) return;
    this.interceptCounters.raisedPf++;
    res.outcome = Outcome.FAULT;
    res.fault = Fault.PF;
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
