/**
 * The I/O port bus: sorted, non-overlapping ranges of ports mapped to devices.
 *
 * Emulates: the 64 KiB x86 I/O space. A port nobody claims reads all-ones for the access size and swallows writes
 * (what an ISA bus with pull-ups does); an access whose size the device does not decode is answered the same way
 * and counted. Devices get an offset inside their range, never the absolute address or a global CPU.
 * Source of truth: rust-vmm `vm-device` `src/bus/mod.rs` (ranges, overlap errors); Firecracker's counted missed
 * accesses; v86 `src/io.js` (narrow widths answered as an empty port).
 * Does not: split an access across devices: a 2- or 4-byte access goes to the device that owns its first port
 * (x86 I/O cycles are addressed by their start port).
 */
import { allOnes } from "../core/bits.js";
import { VmportError } from "../core/errors.js";
import type { PortAccess, PortDevice } from "./port-device.js";
import { packLe32, unpackLe32 } from "../core/bytes.js";

/** Number of I/O ports. */
export const PORT_COUNT = 0x10000;

/** One registered range. */
export interface PortRange {
  /** First port. */
  readonly base: number;
  /** Number of ports (≥ 1). */
  readonly length: number;
  /** The device. */
  readonly device: PortDevice;
}

/** Guest-visible accesses the bus answered itself; each one is also what real hardware would have done. */
export interface PortBusCounters {
  /** IN/INS on a port nobody claims (answered all-ones). */
  unclaimedReads: number;
  /** OUT/OUTS on a port nobody claims (dropped). */
  unclaimedWrites: number;
  /** Accesses whose size the owning device does not decode (answered as an empty port). */
  widthMisses: number;
}

/** The port bus. */
export class PortBus {
  private readonly ranges: PortRange[] = [];
  /** Port → index into `ranges`, or -1. A flat table makes dispatch one load. */
  private readonly owner = new Int16Array(PORT_COUNT).fill(-1);
  /** Counters of accesses the bus answered itself. */
  readonly counters: PortBusCounters = { unclaimedReads: 0, unclaimedWrites: 0, widthMisses: 0 };

  /**
   * Claim `length` ports from `base` for `device`.
   * @throws VmportError VMPORT_INVALID_RANGE if the range leaves 0…0xFFFF or is empty;
   *   VMPORT_OVERLAPPING_RANGE if it overlaps a registered one; VMPORT_INVALID_ACCESS_WIDTH if `widths` is not a
   *   non-empty subset of 1|2|4.
   */
  register(base: number, length: number, device: PortDevice): void {
    if (!Number.isInteger(base) || !Number.isInteger(length) || base < 0 || length < 1 || base + length > PORT_COUNT) {
      throw new VmportError("VMPORT_INVALID_RANGE", `port range base=${base} length=${length} is outside 0..0xffff`);
    }
    if (!Number.isInteger(device.widths) || device.widths < 1 || device.widths > 7) {
      throw new VmportError("VMPORT_INVALID_ACCESS_WIDTH", `device "${device.label}" declares widths mask ${device.widths}; expected 1..7`);
    }
    for (const r of this.ranges) {
      if (base < r.base + r.length && r.base < base + length) {
        throw new VmportError(
          "VMPORT_OVERLAPPING_RANGE",
          `"${device.label}" at 0x${base.toString(16)}+${length} overlaps "${r.device.label}" at 0x${r.base.toString(16)}+${r.length}`,
        );
      }
    }
    this.ranges.push({ base, length, device });
    this.ranges.sort((a, b) => a.base - b.base);
    this.rebuild();
  }

  /** Release the range starting at `base`. Returns false if no range starts there. */
  unregister(base: number): boolean {
    const i = this.ranges.findIndex((r) => r.base === base);
    if (i < 0) return false;
    this.ranges.splice(i, 1);
    this.rebuild();
    return true;
  }

  /** The registered ranges, sorted by base. */
  list(): readonly PortRange[] {
    return this.ranges.slice();
  }

  /** The range owning `port`, or undefined. */
  find(port: number): PortRange | undefined {
    const i = this.owner[port & 0xffff]!;
    return i < 0 ? undefined : this.ranges[i];
  }

  private rebuild(): void {
    this.owner.fill(-1);
    for (const [i, r] of this.ranges.entries()) this.owner.fill(i, r.base, r.base + r.length);
  }

  /** The device for `access`, with `access.offset` set; null (and counted) when the port is empty or the width is not decoded. */
  private route(access: PortAccess, isRead: boolean): PortDevice | null {
    const i = this.owner[access.port]!;
    if (i < 0) {
      if (isRead) this.counters.unclaimedReads++;
      else this.counters.unclaimedWrites++;
      return null;
    }
    const r = this.ranges[i]!;
    if ((r.device.widths & access.size) === 0) {
      this.counters.widthMisses++;
      return null;
    }
    access.offset = access.port - r.base;
    return r.device;
  }

  /** IN: the value read, masked to `access.size`. */
  read(access: PortAccess): number {
    const d = this.route(access, true);
    const ones = allOnes(access.size);
    if (d === null || d.read === undefined) return ones;
    return (d.read(access) & ones) >>> 0;
  }

  /** OUT of `value` (masked to `access.size` before the device sees it). */
  write(access: PortAccess, value: number): void {
    const d = this.route(access, false);
    if (d === null || d.write === undefined) return;
    d.write(access, (value & allOnes(access.size)) >>> 0);
  }

  /** INS of `dst.length / access.size` elements into `dst`. */
  readBlock(access: PortAccess, dst: Uint8Array): void {
    const d = this.route(access, true);
    if (d === null || (d.readBlock === undefined && d.read === undefined)) {
      dst.fill(0xff);
      return;
    }
    if (d.readBlock !== undefined) {
      d.readBlock(access, dst);
      return;
    }
    const ones = allOnes(access.size);
    for (let off = 0; off < dst.length; off += access.size) {
      const v = (d.read!(access) & ones) >>> 0;
      unpackLe32(v, dst, off, access.size);
    }
  }

  /** OUTS of the elements in `src`. */
  writeBlock(access: PortAccess, src: Uint8Array): void {
    const d = this.route(access, false);
    if (d === null) return;
    if (d.writeBlock !== undefined) {
      d.writeBlock(access, src);
      return;
    }
    if (d.write === undefined) return;
    for (let off = 0; off < src.length; off += access.size) {
      d.write(access, packLe32(src, off, access.size));
    }
  }
}

/** A fresh access record (callers reuse it across accesses). */
export function newPortAccess(): PortAccess {
  return { port: 0, offset: 0, size: 4, regs: null, cpl: 0, vcpu: 0 };
}
