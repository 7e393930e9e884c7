/** `vmport/v86`: the vmport engine inside a v86 emulator. */
export * from "./attach.js";
export * from "./compare.js";
