/**
 * Removable devices: GETDEVICELISTELEMENT (11), TOGGLEDEVICE (12).
 *
 * Source of truth: open-vm-tools `toolbox/toolboxcmd-devices.c` (walks ids 0..49, offsets 0..36 step 4; EAX = 0
 * must mean "no such device"), `lib/include/removable_device.h` (`RD_Info` layout); `docs/protocol.md` §3.
 * Does not: connect anything real; `enabled` is state.
 */
import { BdoorCmd, RD_INFO_NAME_SIZE, RD_INFO_SIZE } from "../constants.js";
import type { CommandHandler, CommandRegistry } from "../command-registry.js";
import type { RemovableDevice } from "../../removable-devices.js";

/** Build the 40-byte `RD_Info` of device `id`: name (NUL-padded), uid = id at 32, enabled at 36. */
export function rdInfo(dev: Readonly<RemovableDevice>, id: number): Uint8Array {
  const b = new Uint8Array(RD_INFO_SIZE);
  for (let i = 0; i < dev.name.length && i < RD_INFO_NAME_SIZE - 1; i++) b[i] = dev.name.charCodeAt(i) & 0x7f;
  new DataView(b.buffer).setUint32(32, id, true);
  b[36] = dev.enabled ? 1 : 0;
  return b;
}

/** GETDEVICELISTELEMENT: EBX = id << 16 | offset; EAX = 1 and EBX = 4 bytes of `RD_Info`, or EAX = 0. */
export const getDeviceListElement: CommandHandler = (f, ctx, out) => {
  const id = f.ebx >>> 16;
  const offset = f.ebx & 0xffff;
  const dev = ctx.state.devices[id];
  if (dev === undefined || offset > RD_INFO_SIZE - 4) return out.eax(0);
  const info = rdInfo(dev, id);
  return out.eax(1).ebx(new DataView(info.buffer).getUint32(offset, true));
};

/** TOGGLEDEVICE: EBX = connect << 31 | id; EAX = 1 on success, 0 for no such device. */
export const toggleDevice: CommandHandler = (f, ctx, out) => {
  return out.eax(ctx.state.setDeviceEnabled(f.ebx & 0x7fffffff, f.ebx >>> 31 === 1) ? 1 : 0);
};

/** Register this family. */
export function registerDeviceCommands(r: CommandRegistry): void {
  r.register(BdoorCmd.GETDEVICELISTELEMENT, "GETDEVICELISTELEMENT", getDeviceListElement);
  r.register(BdoorCmd.TOGGLEDEVICE, "TOGGLEDEVICE", toggleDevice);
}
