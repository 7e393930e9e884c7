/**
 * A VM as the backdoor sees it: the composition root that builds the profile, clock, port bus, backdoor devices,
 * message channels and vmmouse, wires them together, and owns the #GP intercept (`intercept.ts`) and the trace.
 *
 * Emulates: the VMX process of one VMware VM, as far as the backdoor reaches. {@link VirtualMachine.handleGp} is
 * the #GP exit and {@link VirtualMachine.step} executes one instruction (both run by the {@link Intercept}); this
 * file adds the trace record around them.
 * Source of truth: `docs/architecture.md` §1–§2 (layers, the life of one trapped instruction).
 * Does not: decode or emulate an instruction itself (the intercept does), touch the host, or read the OS clock
 * (the clock is injected).
 */
import type { Clock } from "../core/clock.js";
import { DateClock } from "../core/clock.js";
import { PortBus } from "../bus/port-bus.js";
import type { CpuState } from "../x86/cpu-state.js";
import type { GuestMemory } from "../x86/guest-memory.js";
import { resolveProfile, type VmProfile, type VmProfileInput } from "../devices/profile.js";
import { BDOORHB_PORT, BDOOR_PORT } from "../devices/backdoor/constants.js";
import type { BackdoorDevice } from "../devices/backdoor/backdoor-device.js";
import { BackdoorHbDevice } from "../devices/backdoor/hb-device.js";
import { createBackdoorDevice } from "../devices/backdoor/index.js";
import type { ExitResult } from "./exit-result.js";
import type { RandomSource } from "../core/random.js";
import { BdoorCmd } from "../devices/backdoor/constants.js";
import { Messaging } from "../channels/messaging.js";
import { Vmmouse } from "../devices/vmmouse/vmmouse.js";
import { TraceAccess } from "./trace.js";
import { EventSet } from "../core/events.js";
import { checkNested, type NestedL1 } from "./nested.js";
import { Intercept, type GpExitInfo, type VmCounters } from "./intercept.js";

export { STRING_IO_MAX_BYTES, advanceIp, type GpExitInfo, type VmCounters } from "./intercept.js";

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

  /** The #GP intercept and `step` (its counters are {@link interceptCounters}). */
  readonly intercept: Intercept;
  /** What the intercept counted (one record of {@link counters}). */
  readonly interceptCounters: VmCounters;
  private readonly access1: TraceAccess;

  /** @throws VmportError VMPORT_BAD_PROFILE for a bad profile key, VMPORT_BAD_ARGUMENT for a bad `nested`. */
  constructor(options: VirtualMachineOptions = {}) {
    this.profile = resolveProfile(options.profile ?? {});
    this.nested = checkNested(options.nested);
    this.clock = options.clock ?? new DateClock();
    this.startMonotonicNs = this.clock.monotonicNs();
    this.intercept = new Intercept(this);
    this.interceptCounters = this.intercept.counters;
    this.access1 = new TraceAccess(this, this.intercept.fetcher, this.intercept.insn);
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
      out["clipboard"] = { refused: st.counters.clipboardRefused, strayPieces: st.counters.clipboardStrayPieces };
    }
    if (this.hb !== null) out["hb"] = { ...this.hb.counters };
    out["channels"] = { ...m.channels.counters };
    out["rpci"] = { ...m.rpci.counters };
    out["tclo"] = { ...m.tclo.counters };
    out["guest"] = { ...m.reported.counters };
    out["mouse"] = { ...this.mouse.counters };
    const sets: { readonly errors: number }[] = [
      this.trace,
      this.mouse.packets,
      m.guestinfo.changes,
      m.reported.changes,
      m.tclo.events,
      m.rpci.exchanges,
      m.namespaces.changes,
    ];
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
    if (this.trace.size === 0) return this.intercept.handleGp(cpu, mem, exit);
    const a = this.access1;
    a.before.set(cpu.regs.words);
    return this.traced(a, "gp", cpu, this.intercept.handleGp(cpu, mem, exit));
  }

  /**
   * Execute the instruction at RIP as CPU and hypervisor would: allowed I/O goes to the bus, denied I/O raises #GP
   * and takes the intercept, RDPMC reads a pseudo-counter or faults. Anything else is UNSUPPORTED.
   * The returned object is reused by the next call.
   */
  step(cpu: CpuState, mem: GuestMemory): ExitResult {
    if (this.trace.size === 0) return this.intercept.step(cpu, mem);
    const a = this.access1;
    a.before.set(cpu.regs.words);
    return this.traced(a, "step", cpu, this.intercept.step(cpu, mem));
  }

  /** Emit the trace record of the access that just ran (its registers before are in `a.before`). */
  private traced(a: TraceAccess, via: "gp" | "step", cpu: CpuState, res: ExitResult): ExitResult {
    a.via = via;
    a.cpu = cpu;
    a.res = res;
    this.trace.emit(a);
    return res;
  }
}
