/**
 * v86's register file ↔ the engine's, for one port access at a time.
 *
 * Emulates: the register half of a VM exit for an emulator without one: before each backdoor access v86's eight
 * 32-bit registers are copied into a {@link RegisterFile} (upper halves zero: v86 is a 32-bit CPU), and after it
 * the registers the device may have written are copied back — all but EAX, which v86 merges from the handler's
 * return value itself.
 * Source of truth: `docs/architecture.md` "The v86 path" (`reg32` order, the Proxy cost); v86 `v86/src/cpu.js`.
 * Does not: touch any other v86 state (segments, flags, EIP): v86 advances EIP itself.
 */
import { newPortAccess } from "../bus/port-bus.js";
import type { PortAccess } from "../bus/port-device.js";
import { RegisterFile } from "../x86/registers.js";
import type { V86Cpu } from "./v86-types.js";

/** Byte offset of `reg32` in v86 0.5.x's wasm memory. */
const REG32_OFFSET = 64;
/** General registers v86 keeps. */
const REG_COUNT = 8;

/** One emulator's registers as the engine sees them, and the access record reused for every port access. */
export class V86RegisterBridge {
  /** The engine's copy of v86's registers, valid between {@link begin} and {@link store}. */
  readonly regs = new RegisterFile();
  /** The access record handed to the port bus (its `regs` is {@link regs}). */
  readonly access: PortAccess = newPortAccess();
  /** Backdoor accesses begun so far (an HB string counts once). */
  accesses = 0;
  private buffer: ArrayBuffer | null;
  private view: Int32Array | null;

  /**
   * v86's `reg32` is a Proxy that builds a new Int32Array on every element access (its wasm memory may grow): far
   * too slow per backdoor call (measured 3 µs instead of 0.3). The bridge uses a view of the same bytes instead,
   * re-made only when the memory grew, after checking here that it really aliases `reg32`; otherwise the Proxy.
   */
  constructor(private readonly cpu: V86Cpu) {
    this.access.regs = this.regs;
    this.buffer = cpu.wasm_memory?.buffer ?? null;
    this.view = this.buffer !== null ? new Int32Array(this.buffer, REG32_OFFSET, REG_COUNT) : null;
    for (let i = 0; this.view !== null && i < REG_COUNT; i++) if (this.view[i] !== cpu.reg32[i]) this.view = null;
  }

  /** v86's live registers (EAX, ECX, EDX, EBX, ESP, EBP, ESI, EDI). */
  reg32(): Int32Array {
    const mem = this.cpu.wasm_memory;
    if (this.view === null || mem === undefined) return this.cpu.reg32;
    if (mem.buffer !== this.buffer) {
      this.buffer = mem.buffer;
      this.view = new Int32Array(this.buffer, REG32_OFFSET, REG_COUNT);
    }
    return this.view;
  }

  /** Count an access and copy v86's registers into {@link regs}. */
  begin(): void {
    this.accesses++;
    const r = this.reg32();
    for (let i = 0; i < REG_COUNT; i++) {
      this.regs.words[i * 2] = r[i]! >>> 0;
      this.regs.words[i * 2 + 1] = 0;
    }
  }

  /** Copy ECX…EDI back to v86 (EAX is v86's to merge from the return value). */
  store(): void {
    const r = this.reg32();
    for (let i = 1; i < REG_COUNT; i++) r[i] = this.regs.words[i * 2]! | 0;
  }

  /** Copy one register back to v86. */
  storeOne(reg: number): void {
    this.reg32()[reg] = this.regs.words[reg * 2]! | 0;
  }
}
