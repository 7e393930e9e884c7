/**
 * The low-bandwidth backdoor device on port 0x5658: magic check, command dispatch, register merge.
 *
 * Emulates: a VMware VMX answering `in`/`out` on 0x5658. The rules, owned here once:
 * - it acts only when the low 32 bits of RAX equal the magic, for any access size (narrow sizes are a profile
 *   switch, `narrowAccess`);
 * - the command is CX (`BDOOR_CMD(ecx)` = ecx & 0xFFFF); the rest of ECX is the handler's sub-command;
 * - every register a command writes other than RAX keeps its upper 32 bits ("VMware changes the other (non eax)
 *   registers ignoring dir (IN vs OUT). It also changes only the 32-bit part leaving the high 32-bits unchanged",
 *   Xen vmware_port v14);
 * - EAX is returned to the CPU, which merges it by access size for IN and discards it for OUT;
 * - bad magic or an unknown command: EAX = 0xFFFFFFFF and nothing else (kvm-unit-tests CMD_ILLEGAL).
 * Source of truth: `docs/protocol.md` §2 (the rules and where peers differ) and §12.
 * Does not: run commands for string I/O (INS/OUTS on 0x5658 read all-ones and drop data; commands need
 * registers, and 0x5659 is the string port), or for host-side accesses without registers.
 */
import { Reg } from "../../x86/registers.js";
import type { PortAccess, PortDevice } from "../../bus/port-device.js";
import { Width } from "../../bus/port-device.js";
import { BDOOR_CMD_MASK, BDOOR_FAIL, BDOOR_MAGIC } from "./constants.js";
import { BackdoorFrame, PatchBit, RegisterPatch, commitPatch, type CommandContext, type CommandRegistry } from "./command-registry.js";
import type { AnswerHooks } from "../answer-hooks.js";

/** Guest-visible events the device answered without running a command; each is counted. */
export interface BackdoorCounters {
  /** Commands that ran. */
  commands: number;
  /** Accesses with EAX ≠ magic. */
  badMagic: number;
  /** Unknown commands (including handlers that declined, e.g. CPL0-only from ring 3). */
  unknownCommand: number;
  /** 1/2-byte accesses answered as an empty port (`narrowAccess: "empty"`). */
  narrowIgnored: number;
  /** INS/OUTS elements on the LB port. */
  stringElements: number;
}

/** The LB backdoor device. */
export class BackdoorDevice implements PortDevice {
  readonly label = "vmware-backdoor-lb";
  readonly widths = Width.ALL;
  /** Counters. */
  readonly counters: BackdoorCounters = { commands: 0, badMagic: 0, unknownCommand: 0, narrowIgnored: 0, stringElements: 0 };
  /** Last command number dispatched (−1 if the last access ran none), for traces. */
  lastCommand = -1;
  /** Answer hooks (`vmport fuzz`), or null. */
  hooks: AnswerHooks | null = null;
  private readonly frame = new BackdoorFrame();
  private readonly patch = new RegisterPatch();

  /**
   * @param registry - command table
   * @param ctx - profile, clock and state handed to handlers
   */
  constructor(
    readonly registry: CommandRegistry,
    readonly ctx: CommandContext,
  ) {}

  read(access: PortAccess): number {
    return this.dispatch(access, false);
  }

  write(access: PortAccess): void {
    this.dispatch(access, true);
  }

  readBlock(access: PortAccess, dst: Uint8Array): void {
    this.counters.stringElements += dst.length / access.size;
    dst.fill(0xff);
  }

  writeBlock(access: PortAccess, src: Uint8Array): void {
    this.counters.stringElements += src.length / access.size;
  }

  /** Run the command in the caller's registers. Returns the EAX result (IN) — the CPU merges it by size. */
  private dispatch(access: PortAccess, isWrite: boolean): number {
    this.lastCommand = -1;
    const regs = access.regs;
    if (regs === null) return BDOOR_FAIL;
    const eax = regs.lo(Reg.RAX);
    if (eax !== BDOOR_MAGIC) {
      this.counters.badMagic++;
      return BDOOR_FAIL;
    }
    if (access.size !== 4 && this.ctx.profile.narrowAccess === "empty") {
      this.counters.narrowIgnored++;
      return BDOOR_FAIL;
    }
    const f = this.frame;
    f.regs = regs;
    f.size = access.size;
    f.isWrite = isWrite;
    f.cpl = access.cpl;
    f.vcpu = access.vcpu;
    const cmd = regs.lo(Reg.RCX) & BDOOR_CMD_MASK;
    const handler = this.registry.get(cmd);
    const patch = handler === undefined ? null : handler(f, this.ctx, this.patch.clear());
    if (patch === null) {
      this.counters.unknownCommand++;
      return BDOOR_FAIL;
    }
    this.counters.commands++;
    this.lastCommand = cmd;
    this.hooks?.lbResult(cmd, regs.lo(Reg.RCX) >>> 16, patch);
    commitPatch(regs, patch);
    return patch.mask & PatchBit.EAX ? patch.eaxValue : eax;
  }
}
