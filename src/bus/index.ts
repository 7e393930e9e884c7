/** Port bus: ranges → devices, empty ports read all-ones. Pure. */
export * from "./port-device.js";
export * from "./port-bus.js";
