/** x86 model: registers, modes, vCPU state, I/O permission, decoder, instruction fetch, guest memory. Pure. */
export * from "./registers.js";
export * from "./cpu-mode.js";
export * from "./cpu-state.js";
export * from "./io-permission.js";
export * from "./decoder.js";
export * from "./guest-memory.js";
export * from "./instruction-fetch.js";
export * from "./linear-address.js";
