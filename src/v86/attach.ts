/**
 * `vmport/v86`: attach the vmport engine to a running v86 emulator in place of v86's own VMware device.
 *
 * Emulates: the whole backdoor inside a v86 VM — LB commands (all of vmport's, including the message channel and
 * vmmouse) on 0x5658 (`lb-port.ts`) and the HB port 0x5659 (`hb-assembler.ts`) — by claiming both ports on v86's
 * I/O bus, with v86's registers copied in and out around each access (`register-bridge.ts`), and v86's mouse
 * events fed to vmmouse (`mouse-bridge.ts`).
 * Source of truth: `docs/architecture.md` "The v86 path" (v86's I/O API: `register_read(port, device, r8, r16,
 * r32)`, registering again replaces the built-in handler; string I/O per byte).
 * Does not: raise IRQ 12 for vmmouse packets (v86 exposes no PS/2 injection API; the driver polls STATUS), or
 * support guests that interleave an HB transfer with other accesses to 0x5659.
 */
import type { VirtualMachine } from "../vm/virtual-machine.js";
import { V86HbAssembler } from "./hb-assembler.js";
import { claimLbPort } from "./lb-port.js";
import { bridgeMouse } from "./mouse-bridge.js";
import { V86RegisterBridge } from "./register-bridge.js";
import type { V86Internals } from "./v86-types.js";

export type { V86Cpu, V86Internals, V86Io } from "./v86-types.js";

/** What `attachToV86` returns. */
export interface V86Attachment {
  /** Backdoor accesses handled so far (an HB string counts once). */
  readonly accesses: () => number;
}

/**
 * Claim 0x5658/0x5659 on `emulator` (after its `emulator-loaded` event) and serve them with `vm`.
 * Absolute mouse events of v86 (`mouse-absolute`, `mouse-click`, `mouse-wheel`) are fed to `vm.mouse`.
 */
export function attachToV86(emulator: V86Internals, vm: VirtualMachine): V86Attachment {
  const io = emulator.v86.cpu.io;
  const bridge = new V86RegisterBridge(emulator.v86.cpu);
  const device = { name: "vmport" };
  claimLbPort(io, device, bridge, vm);
  new V86HbAssembler(bridge, vm).claim(io, device);
  bridgeMouse(emulator, vm);
  return { accesses: () => bridge.accesses };
}
