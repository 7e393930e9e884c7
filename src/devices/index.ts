/** Devices: the VM profile and the VMware backdoor devices. Pure. */
export * from "./profile.js";
export * from "./backdoor/index.js";
export * from "./vmmouse/index.js";
export * from "./removable-devices.js";
