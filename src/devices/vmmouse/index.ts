/** vmmouse: the VMware absolute pointer (backdoor commands 39–41, 86). Pure. */
export * from "./vmmouse.js";
