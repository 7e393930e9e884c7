/** The VM: profile + clock + port bus + backdoor devices, and the #GP intercept. Pure. */
export * from "./exit-result.js";
export * from "./virtual-machine.js";
export { Intercept, type InterceptHost } from "./intercept.js";
export * from "./trace.js";
export * from "./persistence.js";
export * from "./report.js";
export * from "./nested.js";
