/** Channels: the backdoor message channel, RPCI, TCLO, guestinfo and the reported-state model (what the guest reported). Pure. */
export * from "./constants.js";
export * from "./message-channel.js";
export * from "./rpci-dispatcher.js";
export * from "./rpci-handlers.js";
export * from "./tclo.js";
export * from "./guestinfo-store.js";
export * from "./reported-state.js";
export * from "./setguestinfo-reports.js";
export * from "./xdr-reader.js";
export * from "./messaging.js";
export * from "./namespace-db.js";
export * from "./guest-stats.js";
export * from "./tclo-history.js";
