/**
 * The LB backdoor port 0x5658 on v86's I/O bus.
 *
 * Emulates: every LB command of the engine (including the message channel and vmmouse) for a v86 guest: each `in`
 * or `out` of 1, 2 or 4 bytes copies v86's registers in, runs the access on the engine's port bus, and copies the
 * registers the device wrote back; the returned value is v86's to merge into AL/AX/EAX.
 * Source of truth: `docs/architecture.md` "The v86 path"; `docs/protocol.md` §2 (the register rules, applied by the
 * engine's device, not here).
 * Does not: apply any backdoor rule itself (magic, command, merges: `src/devices/backdoor/backdoor-device.ts`).
 */
import { BDOOR_PORT } from "../devices/backdoor/constants.js";
import type { VirtualMachine } from "../vm/virtual-machine.js";
import type { V86RegisterBridge } from "./register-bridge.js";
import type { V86Io } from "./v86-types.js";

/** Serve port 0x5658 of `io` with `vm`'s port bus, registers through `bridge`. */
export function claimLbPort(io: V86Io, device: object, bridge: V86RegisterBridge, vm: VirtualMachine): void {
  const begin = (size: number): void => {
    bridge.begin();
    bridge.access.port = BDOOR_PORT;
    bridge.access.size = size;
  };
  const read = (size: number) => (): number => {
    begin(size);
    const v = vm.bus.read(bridge.access);
    bridge.store();
    return v;
  };
  const write =
    (size: number) =>
    (value: number): void => {
      begin(size);
      vm.bus.write(bridge.access, value);
      bridge.store();
    };
  io.register_read(BDOOR_PORT, device, read(1), read(2), read(4));
  io.register_write(BDOOR_PORT, device, write(1), write(2), write(4));
}
