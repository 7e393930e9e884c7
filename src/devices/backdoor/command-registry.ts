/**
 * The backdoor command registry: command number → pure handler returning a register patch.
 *
 * Emulates: the VMX's LB command dispatch table. Other modules (message channel 30, vmmouse 39–41/86) plug in by
 * registering their numbers; the dispatcher in `backdoor-device.ts` owns the cross-cutting register rules once.
 * Source of truth: QEMU `hw/i386/vmport.c` (`vmport_register`), minus its global CPU; `docs/architecture.md` §7.
 * Does not: touch a CPU. Handlers read a {@link BackdoorFrame} and return the registers they set.
 */
import type { Clock } from "../../core/clock.js";
import { VmportError } from "../../core/errors.js";
import { Reg, RegisterFile } from "../../x86/registers.js";
import type { VmProfile } from "../profile.js";
import type { BackdoorState } from "./backdoor-state.js";

/**
 * The caller's registers as a handler sees them: the low 32 bits of each argument register, plus who called and
 * how. A read-only view over the vCPU's register file (no copy); valid only during the handler call.
 */
export class BackdoorFrame {
  /** @internal The register file being viewed. */
  regs: RegisterFile = new RegisterFile();
  /** Access size of the IN/OUT: 1, 2 or 4. */
  size = 4;
  /** True for OUT (the command runs, EAX is not written). */
  isWrite = false;
  /** CPL of the caller. */
  cpl = 0;
  /** vCPU number. */
  vcpu = 0;

  /** EAX at the call (the magic, for any command that runs). */
  get eax(): number {
    return this.regs.words[Reg.RAX * 2]!;
  }
  /** EBX at the call (the command's first argument). */
  get ebx(): number {
    return this.regs.words[Reg.RBX * 2]!;
  }
  /** ECX at the call: the command in bits 0–15, a sub-command or message type in 16–31. */
  get ecx(): number {
    return this.regs.words[Reg.RCX * 2]!;
  }
  /** EDX at the call: the port in bits 0–15, a channel id in 16–31 for the message channel. */
  get edx(): number {
    return this.regs.words[Reg.RDX * 2]!;
  }
  /** ESI at the call. */
  get esi(): number {
    return this.regs.words[Reg.RSI * 2]!;
  }
  /** EDI at the call. */
  get edi(): number {
    return this.regs.words[Reg.RDI * 2]!;
  }
  /** EBP at the call. */
  get ebp(): number {
    return this.regs.words[Reg.RBP * 2]!;
  }
}

/** Bits of {@link RegisterPatch.mask}, one per output register. */
export const PatchBit = { EAX: 1, EBX: 2, ECX: 4, EDX: 8, ESI: 16, EDI: 32, EBP: 64 } as const;

/**
 * The outputs of a command: the low 32 bits of each register it sets. Handlers fill the patch they are given
 * with the chained setters and return it (`return out.eax(6).ebx(BDOOR_MAGIC)`). The dispatcher keeps the upper
 * 32 bits of every register but RAX, and writes EAX only for IN, merged by access size. One patch object is
 * reused per device, so the hot path allocates nothing.
 */
export class RegisterPatch {
  /** Which registers are set ({@link PatchBit}). */
  mask = 0;
  /** EAX to return, when {@link PatchBit.EAX} is in {@link mask}. */
  eaxValue = 0;
  /** EBX to write (low 32 bits), when {@link PatchBit.EBX} is in {@link mask}. */
  ebxValue = 0;
  /** ECX to write (low 32 bits), when {@link PatchBit.ECX} is in {@link mask}. */
  ecxValue = 0;
  /** EDX to write (low 32 bits), when {@link PatchBit.EDX} is in {@link mask}. */
  edxValue = 0;
  /** ESI to write (low 32 bits), when {@link PatchBit.ESI} is in {@link mask}. */
  esiValue = 0;
  /** EDI to write (low 32 bits), when {@link PatchBit.EDI} is in {@link mask}. */
  ediValue = 0;
  /** EBP to write (low 32 bits), when {@link PatchBit.EBP} is in {@link mask}. */
  ebpValue = 0;

  /** Forget every output. */
  clear(): this {
    this.mask = 0;
    return this;
  }
  /** Set EAX to `v` (taken as u32). */
  eax(v: number): this {
    this.eaxValue = v >>> 0;
    this.mask |= PatchBit.EAX;
    return this;
  }
  /** Set EBX to `v` (taken as u32). */
  ebx(v: number): this {
    this.ebxValue = v >>> 0;
    this.mask |= PatchBit.EBX;
    return this;
  }
  /** Set ECX to `v` (taken as u32). */
  ecx(v: number): this {
    this.ecxValue = v >>> 0;
    this.mask |= PatchBit.ECX;
    return this;
  }
  /** Set EDX to `v` (taken as u32). */
  edx(v: number): this {
    this.edxValue = v >>> 0;
    this.mask |= PatchBit.EDX;
    return this;
  }
  /** Set ESI to `v` (taken as u32). */
  esi(v: number): this {
    this.esiValue = v >>> 0;
    this.mask |= PatchBit.ESI;
    return this;
  }
  /** Set EDI to `v` (taken as u32). */
  edi(v: number): this {
    this.ediValue = v >>> 0;
    this.mask |= PatchBit.EDI;
    return this;
  }
  /** Set EBP to `v` (taken as u32). */
  ebp(v: number): this {
    this.ebpValue = v >>> 0;
    this.mask |= PatchBit.EBP;
    return this;
  }

  /** The set outputs as a plain object (traces, tests). */
  toJSON(): Partial<Record<"eax" | "ebx" | "ecx" | "edx" | "esi" | "edi" | "ebp", number>> {
    const o: Partial<Record<"eax" | "ebx" | "ecx" | "edx" | "esi" | "edi" | "ebp", number>> = {};
    if (this.mask & PatchBit.EAX) o.eax = this.eaxValue;
    if (this.mask & PatchBit.EBX) o.ebx = this.ebxValue;
    if (this.mask & PatchBit.ECX) o.ecx = this.ecxValue;
    if (this.mask & PatchBit.EDX) o.edx = this.edxValue;
    if (this.mask & PatchBit.ESI) o.esi = this.esiValue;
    if (this.mask & PatchBit.EDI) o.edi = this.ediValue;
    if (this.mask & PatchBit.EBP) o.ebp = this.ebpValue;
    return o;
  }
}

/**
 * Commit `patch` to `regs` by the backdoor's register rule: every patched register other than EAX gets its low
 * 32 bits written and keeps its upper 32 bits (`setLo`). EAX is not written here: the LB dispatcher returns it to
 * the CPU, which merges it by access size; the HB port never sets it.
 */
export function commitPatch(regs: RegisterFile, patch: RegisterPatch): void {
  const m = patch.mask;
  if (m & PatchBit.EBX) regs.setLo(Reg.RBX, patch.ebxValue);
  if (m & PatchBit.ECX) regs.setLo(Reg.RCX, patch.ecxValue);
  if (m & PatchBit.EDX) regs.setLo(Reg.RDX, patch.edxValue);
  if (m & PatchBit.ESI) regs.setLo(Reg.RSI, patch.esiValue);
  if (m & PatchBit.EDI) regs.setLo(Reg.RDI, patch.ediValue);
  if (m & PatchBit.EBP) regs.setLo(Reg.RBP, patch.ebpValue);
}

/** What handlers may read (and, for stateful commands such as SETGUIOPTIONS, update). */
export interface CommandContext {
  /** The VM profile. */
  readonly profile: VmProfile;
  /** Host clock. */
  readonly clock: Clock;
  /** Mutable guest-visible device state. */
  readonly state: BackdoorState;
}

/**
 * A command handler: reads `frame`, sets its outputs on `out` (empty on entry) and returns it, or returns `null`
 * to answer as an unknown command (EAX = 0xFFFFFFFF, nothing else) — e.g. a CPL0-only command called from ring 3,
 * or an unknown sub-command.
 */
export type CommandHandler = (frame: BackdoorFrame, ctx: CommandContext, out: RegisterPatch) => RegisterPatch | null;

/** Highest command number + 1 (commands are 16 bits). */
export const COMMAND_SPACE = 0x10000;

/** Maps command numbers to handlers. */
export class CommandRegistry {
  private readonly handlers: (CommandHandler | undefined)[] = [];
  private readonly names = new Map<number, string>();

  /**
   * Register `handler` for command `cmd`.
   * @throws VmportError VMPORT_BAD_REGISTRATION if `cmd` is not 0…0xFFFF or already taken.
   */
  register(cmd: number, name: string, handler: CommandHandler): void {
    if (!Number.isInteger(cmd) || cmd < 0 || cmd >= COMMAND_SPACE) {
      throw new VmportError("VMPORT_BAD_REGISTRATION", `backdoor command ${cmd} (${name}) is outside 0..0xffff`);
    }
    const prev = this.names.get(cmd);
    if (prev !== undefined) {
      throw new VmportError("VMPORT_BAD_REGISTRATION", `backdoor command ${cmd} (${name}) is already registered as ${prev}`);
    }
    while (this.handlers.length <= cmd) this.handlers.push(undefined);
    this.handlers[cmd] = handler;
    this.names.set(cmd, name);
  }

  /** The handler for `cmd`, or undefined. */
  get(cmd: number): CommandHandler | undefined {
    return cmd < this.handlers.length ? this.handlers[cmd] : undefined;
  }

  /** The registered name of `cmd`, or undefined. */
  nameOf(cmd: number): string | undefined {
    return this.names.get(cmd);
  }

  /** Registered commands, sorted. */
  commands(): number[] {
    return [...this.names.keys()].sort((a, b) => a - b);
  }
}
