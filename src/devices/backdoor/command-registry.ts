/**
 * The backdoor command registry: command number → pure handler returning a register patch.
 *
 * Emulates: the VMX's LB command dispatch table. Other modules (message channel 30, vmmouse 39–41/86) plug in by
 * registering their numbers; the dispatcher in `backdoor-device.ts` owns the cross-cutting register rules once.
 * Source of truth: QEMU `hw/i386/vmport.c` (`vmport_register`), minus its global CPU; style.md §2.4.
 * Does not: touch a CPU. Handlers read a {@link BackdoorFrame} and return the registers they set.
 */
import type { Clock } from "../../core/clock.js";
import { VmportError } from "../../core/errors.js";
import type { VmProfile } from "../profile.js";
import type { BackdoorState } from "./backdoor-state.js";

/** The low 32 bits of the argument registers at the call, plus who called and how. Read-only to handlers. */
export interface BackdoorFrame {
  readonly eax: number;
  readonly ebx: number;
  readonly ecx: number;
  readonly edx: number;
  readonly esi: number;
  readonly edi: number;
  readonly ebp: number;
  /** Access size of the IN/OUT: 1, 2 or 4. */
  readonly size: number;
  /** True for OUT (the command runs, EAX is not written). */
  readonly isWrite: boolean;
  /** CPL of the caller. */
  readonly cpl: number;
  /** vCPU number. */
  readonly vcpu: number;
}

/**
 * The outputs of a command: the low 32 bits of each register it sets. The dispatcher keeps the upper 32 bits of
 * every register but RAX, and writes EAX only for IN, merged by access size.
 */
export interface RegisterPatch {
  eax?: number;
  ebx?: number;
  ecx?: number;
  edx?: number;
  esi?: number;
  edi?: number;
  ebp?: number;
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
 * A command handler. Return the registers to set, or `null` to answer as an unknown command
 * (EAX = 0xFFFFFFFF, nothing else) — e.g. a CPL0-only command called from ring 3, or an unknown sub-command.
 */
export type CommandHandler = (frame: BackdoorFrame, ctx: CommandContext) => RegisterPatch | null;

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
