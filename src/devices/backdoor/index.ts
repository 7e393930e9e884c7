/** The VMware backdoor devices: LB command dispatcher on 0x5658, HB string port on 0x5659, standard commands. */
import type { Clock } from "../../core/clock.js";
import type { VmProfile } from "../profile.js";
import { BackdoorDevice } from "./backdoor-device.js";
import { BackdoorState } from "./backdoor-state.js";
import { CommandRegistry } from "./command-registry.js";
import { registerClipboardCommands } from "./commands/clipboard.js";
import { registerDeviceCommands } from "./commands/devices.js";
import { registerGuiCommands } from "./commands/gui.js";
import { registerIdentityCommands } from "./commands/identity.js";
import { registerTimeCommands } from "./commands/time.js";

export * from "./constants.js";
export * from "./command-registry.js";
export * from "./backdoor-state.js";
export * from "./backdoor-device.js";
export * from "./hb-device.js";
export { uuidBytes } from "./commands/identity.js";
export { rdInfo } from "./commands/devices.js";

/** Register every standard LB command this module implements. */
export function registerStandardCommands(r: CommandRegistry): void {
  registerIdentityCommands(r);
  registerTimeCommands(r);
  registerGuiCommands(r);
  registerDeviceCommands(r);
  registerClipboardCommands(r);
}

/** A backdoor device with the standard commands, fresh state from `profile`, reading `clock`. */
export function createBackdoorDevice(profile: VmProfile, clock: Clock): BackdoorDevice {
  const registry = new CommandRegistry();
  registerStandardCommands(registry);
  return new BackdoorDevice(registry, { profile, clock, state: new BackdoorState(profile) });
}
