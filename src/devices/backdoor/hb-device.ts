/**
 * The high-bandwidth backdoor port 0x5659.
 *
 * Emulates: the string-transfer port. A plain IN reads all-ones and a plain OUT is dropped (commands run only on
 * 0x5658); `rep insb`/`rep outsb` are handed in bulk to the transfer handler that the message channel installs.
 * Without a handler INS reads 0xFF bytes and OUTS data is dropped — what QEMU and v86 do with the port.
 * Source of truth: `docs/protocol.md` §2 (`rep insb` on 0x5659 reads 0xFF bytes on QEMU and v86, measured), §4 (HB
 * transfers).
 * The handler returns its status as a register patch, which the device commits like the LB dispatcher does.
 * Does not: decode the HB message protocol itself (that is the message-channel module's handler).
 */
import type { PortAccess, PortDevice } from "../../bus/port-device.js";
import { Width } from "../../bus/port-device.js";
import { RegisterPatch, commitPatch } from "./command-registry.js";

/**
 * Bulk transfer callbacks for the HB port. Both see the caller's registers in `access.regs` (read only) and
 * return the registers they set (the status in EBX) on the patch `out` they are given, empty on entry, as an LB
 * command handler does; the device commits it with the same rule ({@link commitPatch}).
 */
export interface HbTransferHandler {
  /** `rep ins` from 0x5659: fill `dst`, return `out` with the status. */
  transferIn(access: PortAccess, dst: Uint8Array, out: RegisterPatch): RegisterPatch;
  /** `rep outs` to 0x5659: consume `src`, return `out` with the status. */
  transferOut(access: PortAccess, src: Uint8Array, out: RegisterPatch): RegisterPatch;
}

/** Counters of HB-port accesses. */
export interface HbCounters {
  /** Plain IN/OUT on 0x5659 (answered as an empty port). */
  plainAccesses: number;
  /** Bytes moved by INS/OUTS. */
  stringBytes: number;
  /** String transfers with no handler installed. */
  unhandledTransfers: number;
}

/** The HB port device. */
export class BackdoorHbDevice implements PortDevice {
  readonly label = "vmware-backdoor-hb";
  readonly widths = Width.ALL;
  /** Counters. */
  readonly counters: HbCounters = { plainAccesses: 0, stringBytes: 0, unhandledTransfers: 0 };
  private handler: HbTransferHandler | null = null;
  private readonly patch = new RegisterPatch();

  /** Install (or remove, with null) the bulk transfer handler. */
  setTransferHandler(h: HbTransferHandler | null): void {
    this.handler = h;
  }

  read(): number {
    this.counters.plainAccesses++;
    return 0xffffffff;
  }

  write(): void {
    this.counters.plainAccesses++;
  }

  readBlock(access: PortAccess, dst: Uint8Array): void {
    this.counters.stringBytes += dst.length;
    if (this.handler === null) {
      this.counters.unhandledTransfers++;
      dst.fill(0xff);
      return;
    }
    this.commit(access, this.handler.transferIn(access, dst, this.patch.clear()));
  }

  writeBlock(access: PortAccess, src: Uint8Array): void {
    this.counters.stringBytes += src.length;
    if (this.handler === null) {
      this.counters.unhandledTransfers++;
      return;
    }
    this.commit(access, this.handler.transferOut(access, src, this.patch.clear()));
  }

  /** The handler's status registers, merged by the backdoor's rule (low 32 bits; a host access has none). */
  private commit(access: PortAccess, patch: RegisterPatch): void {
    if (access.regs !== null) commitPatch(access.regs, patch);
  }
}
