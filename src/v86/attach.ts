/**
 * `vmport/v86`: attach the vmport engine to a running v86 emulator in place of v86's own VMware device.
 *
 * Emulates: the whole backdoor inside a v86 VM — LB commands (all of vmport's, including the message channel and
 * vmmouse) on 0x5658 and the HB port 0x5659 — by claiming both ports on v86's I/O bus. v86's register file
 * (`reg32`: EAX, ECX, EDX, EBX, ESP, EBP, ESI, EDI — the same order as vmport's register numbers) is copied into the
 * engine for each access and the registers the device wrote are copied back; v86 merges the returned value into
 * AL/AX/EAX itself. v86 runs `rep insb`/`rep outsb` as one 8-bit port access per byte, so an HB transfer is
 * assembled here: the first byte of a string (nothing pending) snapshots the registers and the count (ECX), the
 * engine moves the whole message at once, and the bytes are then fed or collected one per access.
 * Source of truth: `docs/architecture.md` "The v86 path" (v86's I/O API: `register_read(port, device, r8, r16, r32)`, registering again
 * replaces the built-in handler; string I/O per byte).
 * Does not: raise IRQ 12 for vmmouse packets (v86 exposes no PS/2 injection API; the driver polls STATUS), or
 * support guests that interleave an HB transfer with other accesses to 0x5659.
 */
import { RegisterFile } from "../x86/registers.js";
import { newPortAccess } from "../bus/port-bus.js";
import type { VirtualMachine } from "../vm/virtual-machine.js";
import { BDOOR_PORT, BDOORHB_PORT } from "../devices/backdoor/constants.js";

/** The parts of v86's internals the embedding uses (not part of v86's public types). */
export interface V86Internals {
  v86: { cpu: { io: V86Io; reg32: Int32Array; wasm_memory?: { buffer: ArrayBuffer } } };
  add_listener?(event: string, fn: (arg: never) => void): void;
}

/** v86's I/O bus registration API. */
export interface V86Io {
  register_read(port: number, device: object, r8?: () => number, r16?: () => number, r32?: () => number): void;
  register_write(port: number, device: object, w8?: (v: number) => void, w16?: (v: number) => void, w32?: (v: number) => void): void;
}

/** What `attachToV86` returns. */
export interface V86Attachment {
  /** Backdoor accesses handled. */
  readonly accesses: () => number;
}

const LB = BDOOR_PORT;
const HB = BDOORHB_PORT;
const ECX = 1;
const EBX = 3;

/**
 * Claim 0x5658/0x5659 on `emulator` (after its `emulator-loaded` event) and serve them with `vm`.
 * Absolute mouse events of v86 (`mouse-absolute`, `mouse-click`, `mouse-wheel`) are fed to `vm.mouse`.
 */
export function attachToV86(emulator: V86Internals, vm: VirtualMachine): V86Attachment {
  const cpu = emulator.v86.cpu;
  const io = cpu.io;
  const regs = new RegisterFile();
  const access = newPortAccess();
  access.regs = regs;
  let count = 0;
  // v86's `reg32` is a Proxy that builds a new Int32Array on every element access (its wasm memory may grow): far
  // too slow per backdoor call (measured 3 µs instead of 0.3). Use a view of the same bytes — offset 64 of the wasm
  // memory in v86 0.5.x — re-made only when the memory grew, after checking at attach time that it really aliases
  // `reg32`; otherwise fall back to the Proxy.
  const mem = cpu.wasm_memory;
  let buffer: ArrayBuffer | null = mem?.buffer ?? null;
  let view: Int32Array | null = buffer !== null ? new Int32Array(buffer, 64, 8) : null;
  if (view !== null) {
    const v = view;
    for (let i = 0; i < 8; i++) if (v[i] !== cpu.reg32[i]) view = null;
  }
  const reg32 = (): Int32Array => {
    if (view === null || mem === undefined) return cpu.reg32;
    if (mem.buffer !== buffer) {
      buffer = mem.buffer;
      view = new Int32Array(buffer, 64, 8);
    }
    return view;
  };
  const load = (): void => {
    const r = reg32();
    for (let i = 0; i < 8; i++) {
      regs.words[i * 2] = r[i]! >>> 0;
      regs.words[i * 2 + 1] = 0;
    }
  };
  const store = (): void => {
    const r = reg32();
    for (let i = 1; i < 8; i++) r[i] = regs.words[i * 2]! | 0; // EAX is v86's to merge from the return value
  };
  const lbRead = (size: number) => (): number => {
    count++;
    load();
    access.port = LB;
    access.size = size;
    const v = vm.bus.read(access);
    store();
    return v;
  };
  const lbWrite = (size: number) => (value: number): void => {
    count++;
    load();
    access.port = LB;
    access.size = size;
    vm.bus.write(access, value);
    store();
  };
  const device = { name: "vmport" };
  io.register_read(LB, device, lbRead(1), lbRead(2), lbRead(4));
  io.register_write(LB, device, lbWrite(1), lbWrite(2), lbWrite(4));

  // HB: one engine transfer per `rep` string, fed or collected a byte per v86 access.
  let inBuf: Uint8Array | null = null;
  let inPos = 0;
  let outBuf: Uint8Array | null = null;
  let outPos = 0;
  let outSnapshot: Uint32Array | null = null;
  const hbRead8 = (): number => {
    if (inBuf === null || inPos >= inBuf.length) {
      count++;
      load();
      const n = Math.max(1, Math.min(reg32()[ECX]! >>> 0, 65536));
      inBuf = new Uint8Array(n);
      inPos = 0;
      access.port = HB;
      access.size = 1;
      vm.bus.readBlock(access, inBuf);
      reg32()[EBX] = regs.words[EBX * 2]! | 0; // the transfer's status
    }
    return inBuf[inPos++]!;
  };
  const hbWrite8 = (v: number): void => {
    if (outBuf === null) {
      count++;
      load();
      outSnapshot = regs.words.slice();
      outBuf = new Uint8Array(Math.max(1, Math.min(reg32()[ECX]! >>> 0, 65536 + 16)));
      outPos = 0;
    }
    outBuf[outPos++] = v & 0xff;
    if (outPos === outBuf.length) {
      regs.words.set(outSnapshot!);
      access.port = HB;
      access.size = 1;
      vm.bus.writeBlock(access, outBuf);
      reg32()[EBX] = regs.words[EBX * 2]! | 0;
      outBuf = null;
    }
  };
  const hbWide = (): number => 0xffffffff; // plain IN on 0x5659 reads all-ones
  io.register_read(HB, device, hbRead8, () => 0xffff, hbWide);
  io.register_write(HB, device, hbWrite8, () => {}, () => {});

  // Absolute mouse: v86 reports [x, y, width, height] in screen pixels.
  let buttons = 0;
  let last: [number, number] = [0, 0];
  emulator.add_listener?.("mouse-absolute", ((d: [number, number, number, number]) => {
    last = [Math.round((d[0] / Math.max(1, d[2] - 1)) * 0xffff), Math.round((d[1] / Math.max(1, d[3] - 1)) * 0xffff)];
    vm.mouse.event(last[0], last[1], buttons);
  }) as (arg: never) => void);
  emulator.add_listener?.("mouse-click", ((b: [boolean, boolean, boolean]) => {
    buttons = (b[0] ? 0x20 : 0) | (b[1] ? 0x08 : 0) | (b[2] ? 0x10 : 0);
    vm.mouse.event(last[0], last[1], buttons);
  }) as (arg: never) => void);
  emulator.add_listener?.("mouse-wheel", ((d: [number, number]) => vm.mouse.event(last[0], last[1], buttons, d[0] | 0)) as (arg: never) => void);
  return { accesses: () => count };
}
