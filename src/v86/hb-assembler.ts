/**
 * The HB backdoor port 0x5659 on v86's I/O bus: `rep insb`/`rep outsb` assembled into one engine transfer.
 *
 * Emulates: the HB port for a v86 guest. v86 runs a string instruction as one 8-bit port access per byte, while
 * the engine moves a whole message at once. The first byte of a string (nothing pending) counts the access,
 * snapshots the registers and takes the length from ECX; for `rep insb` the engine's transfer runs at once and the
 * bytes are fed one per access; for `rep outsb` the bytes are collected and the transfer runs with the snapshot once
 * the last one arrived. The transfer's status goes back to EBX. A plain 16- or 32-bit IN reads all-ones; a plain
 * 16- or 32-bit OUT is dropped.
 * Source of truth: `docs/architecture.md` "The v86 path"; `docs/protocol.md` §4 (HB transfers).
 * Does not: support guests that interleave an HB transfer with other accesses to 0x5659, or strings longer than
 * {@link HB_IN_MAX_BYTES} / {@link HB_OUT_MAX_BYTES}.
 */
import { BDOORHB_PORT } from "../devices/backdoor/constants.js";
import { Reg } from "../x86/registers.js";
import type { VirtualMachine } from "../vm/virtual-machine.js";
import type { V86RegisterBridge } from "./register-bridge.js";
import type { V86Io } from "./v86-types.js";

/** At most this many bytes are read from the engine for one `rep insb` (64 KiB, the message channel's bound). */
export const HB_IN_MAX_BYTES = 65_536;
/** At most this many bytes of one `rep outsb` are collected before the engine sees them (64 KiB + 16). */
export const HB_OUT_MAX_BYTES = 65_536 + 16;

/** One emulator's pending HB strings, in each direction. */
export class V86HbAssembler {
  private inBuf: Uint8Array | null = null;
  private inPos = 0;
  private outBuf: Uint8Array | null = null;
  private outPos = 0;
  private outSnapshot: Uint32Array | null = null;

  /** An assembler feeding `vm`'s port bus, registers through `bridge`. */
  constructor(
    private readonly bridge: V86RegisterBridge,
    private readonly vm: VirtualMachine,
  ) {}

  /** Serve port 0x5659 of `io` with this assembler. */
  claim(io: V86Io, device: object): void {
    io.register_read(
      BDOORHB_PORT,
      device,
      () => this.read8(),
      () => 0xffff,
      () => 0xffffffff,
    );
    io.register_write(
      BDOORHB_PORT,
      device,
      (v) => this.write8(v),
      () => {},
      () => {},
    );
  }

  /** One byte of a `rep insb`: the first runs the whole transfer, each returns the next byte. */
  read8(): number {
    if (this.inBuf === null || this.inPos >= this.inBuf.length) {
      const b = this.bridge;
      b.begin();
      this.inBuf = new Uint8Array(Math.max(1, Math.min(b.reg32()[Reg.RCX]! >>> 0, HB_IN_MAX_BYTES)));
      this.inPos = 0;
      b.access.port = BDOORHB_PORT;
      b.access.size = 1;
      this.vm.bus.readBlock(b.access, this.inBuf);
      b.storeOne(Reg.RBX); // the transfer's status
    }
    return this.inBuf[this.inPos++]!;
  }

  /** One byte of a `rep outsb`: collected; the last runs the transfer with the registers of the first. */
  write8(v: number): void {
    const b = this.bridge;
    if (this.outBuf === null) {
      b.begin();
      this.outSnapshot = b.regs.words.slice();
      this.outBuf = new Uint8Array(Math.max(1, Math.min(b.reg32()[Reg.RCX]! >>> 0, HB_OUT_MAX_BYTES)));
      this.outPos = 0;
    }
    this.outBuf[this.outPos++] = v & 0xff;
    if (this.outPos === this.outBuf.length) {
      b.regs.words.set(this.outSnapshot!);
      b.access.port = BDOORHB_PORT;
      b.access.size = 1;
      this.vm.bus.writeBlock(b.access, this.outBuf);
      b.storeOne(Reg.RBX);
      this.outBuf = null;
    }
  }
}
