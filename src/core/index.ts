/** Core: errors, integer helpers, clocks. No I/O, no Node. */
export * from "./errors.js";
export * from "./bits.js";
export * from "./clock.js";
export * from "./random.js";
export * from "./text.js";
export * from "./own-keys.js";
export * from "./events.js";
export * from "./saved-state.js";
