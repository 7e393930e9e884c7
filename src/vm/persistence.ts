/**
 * Durable VM state: what survives a restart of the guest or of vmport — guestinfo, removable devices, GUI
 * options, clipboard, the namespace database — as versioned JSON-ready data, and its validated restore.
 *
 * Emulates: the VMX keeping `guestinfo.*`, device state and the namespace DB in the `.vmx`/`.nvram` across power
 * cycles.
 * Versions: 1 (guestinfo, devices, GUI options, clipboard) still loads; 2 adds `namespaces`. Saves write 2.
 * Does not: touch files (front ends write it atomically: temp file, fsync, rename). Restore validates everything
 * first and applies nothing if any field is bad; it reads own keys only, so an unknown key — `__proto__`,
 * `constructor`, `toString` included — is refused by name at every level.
 */
import { VmportError } from "../core/errors.js";
import { ownValue, unknownOwnKey } from "../core/own-keys.js";
import { fromBase64, fromUtf8Strict, toBase64, utf8 } from "../core/text.js";
import { GuestinfoStore } from "../channels/guestinfo-store.js";
import { NamespaceDb } from "../channels/namespace-db.js";
import { MAX_REMOVABLE_DEVICES, MAX_SELECTION_BUFFER_LENGTH, RD_INFO_NAME_SIZE } from "../devices/backdoor/constants.js";
import type { VirtualMachine } from "./virtual-machine.js";

/** Current format version (what saves write). */
export const STATE_VERSION = 2;
/** Versions restore accepts. */
export const STATE_VERSIONS_READ: readonly number[] = [1, 2];

/** Bytes as text when they are valid UTF-8, else `{ base64 }`. */
export type StoredBytes = string | { base64: string };

/** The durable state, version 2 (version 1 is the same without `namespaces`). */
export interface DurableState {
  /** The format version: 2 (a version-1 file, without `namespaces`, still loads). */
  version: 2;
  /** guestinfo variables by key (keys keep their `guestinfo.` prefix). */
  guestinfo: Record<string, StoredBytes>;
  /** Removable devices and whether each is connected. */
  devices: { name: string; enabled: boolean }[];
  /** GUI option bits (GETGUIOPTIONS). */
  guiOptions: number;
  /** Legacy clipboard: host text staged for the guest, and the last text the guest sent. */
  clipboard: { host: StoredBytes | null; guest: StoredBytes | null };
  /** The namespace database: namespace → key → value. */
  namespaces: Record<string, Record<string, StoredBytes>>;
}

/** `b` as text when it is valid UTF-8, else `{ base64 }`. */
export function toStoredBytes(b: Uint8Array): StoredBytes {
  const t = fromUtf8Strict(b);
  return t !== null ? t : { base64: toBase64(b) };
}

function bad(field: string, why: string): never {
  throw new VmportError("VMPORT_BAD_STATE", `state field "${field}": ${why}`);
}

/** `v` as a plain object whose own keys are all in `known`, else refused naming the field or the key. */
function record(field: string, v: unknown, known: readonly string[], expected: string): object {
  if (typeof v !== "object" || v === null || Array.isArray(v)) bad(field, `expected ${expected}`);
  const extra = unknownOwnKey(v, known);
  if (extra !== null) bad(`${field}.${extra}`, `unknown key (known: ${known.join(", ")})`);
  return v;
}

function load(field: string, v: unknown): Uint8Array {
  if (typeof v === "string") return utf8(v);
  const b64 = ownValue(record(field, v, ["base64"], "a string or {base64}"), "base64");
  if (typeof b64 !== "string") bad(field, "expected a string or {base64}");
  const b = fromBase64(b64);
  if (b === null) bad(field, "base64 is malformed");
  return b;
}

/** Snapshot the durable state of `vm`. */
export function saveDurableState(vm: VirtualMachine): DurableState {
  const guestinfo: Record<string, StoredBytes> = {};
  for (const [k, v] of vm.messaging.guestinfo.entries()) guestinfo[k] = toStoredBytes(v);
  const namespaces: Record<string, Record<string, StoredBytes>> = {};
  for (const [ns, entries] of vm.messaging.namespaces.entries()) {
    namespaces[ns] = Object.fromEntries(entries.map(([k, v]) => [k, toStoredBytes(v)]));
  }
  const s = vm.backdoor?.ctx.state ?? null;
  return {
    version: STATE_VERSION,
    guestinfo,
    devices: (s?.devices ?? vm.profile.devices).map((d) => ({ name: d.name, enabled: d.enabled })),
    guiOptions: s?.guiOptions ?? vm.profile.guiOptions,
    clipboard: {
      host: s?.hostClipboard ? toStoredBytes(s.hostClipboard) : null,
      guest: s?.guestClipboard ? toStoredBytes(s.guestClipboard) : null,
    },
    namespaces,
  };
}

/**
 * Validate `input` and apply it to `vm` (replacing guestinfo, devices, GUI options and clipboard).
 * @throws VmportError VMPORT_BAD_STATE naming the first bad field; nothing is applied then.
 */
export function restoreDurableState(vm: VirtualMachine, input: unknown): void {
  if (typeof input !== "object" || input === null || Array.isArray(input)) bad("(root)", "expected an object");
  const o = (k: string): unknown => ownValue(input, k);
  const version = o("version");
  if (typeof version !== "number" || !STATE_VERSIONS_READ.includes(version)) {
    bad("version", `expected ${STATE_VERSIONS_READ.join(" or ")}, got ${JSON.stringify(version)}`);
  }
  const extra = unknownOwnKey(input, ["version", "guestinfo", "devices", "guiOptions", "clipboard", ...(version >= 2 ? ["namespaces"] : [])]);
  if (extra !== null) bad(extra, "unknown field");
  // guestinfo: validate every entry against the store's bounds in a scratch store first.
  const gi = o("guestinfo") ?? {};
  if (typeof gi !== "object" || gi === null || Array.isArray(gi)) bad("guestinfo", "expected an object");
  const scratch = new GuestinfoStore();
  const entries: [string, Uint8Array][] = [];
  for (const [k, v] of Object.entries(gi)) {
    const bytes = load(`guestinfo["${k}"]`, v);
    const refusal = scratch.trySet(k, bytes, "host");
    if (refusal !== null) bad(`guestinfo["${k}"]`, refusal);
    entries.push([k, bytes]);
  }
  const devs = o("devices") ?? [];
  if (!Array.isArray(devs) || devs.length > MAX_REMOVABLE_DEVICES) bad("devices", `expected an array of at most ${MAX_REMOVABLE_DEVICES}`);
  const devices = devs.map((d: unknown, i) => {
    const dev = record(`devices[${i}]`, d, ["name", "enabled"], "{name, enabled}");
    const name = ownValue(dev, "name");
    const enabled = ownValue(dev, "enabled");
    if (typeof name !== "string" || name.length === 0 || name.length > RD_INFO_NAME_SIZE - 1 || !/^[\x20-\x7e]*$/.test(name)) {
      bad(`devices[${i}].name`, `expected printable ASCII of 1..${RD_INFO_NAME_SIZE - 1} bytes`);
    }
    if (typeof enabled !== "boolean") bad(`devices[${i}].enabled`, "expected true or false");
    return { name, enabled };
  });
  const gui = o("guiOptions") ?? 0;
  if (typeof gui !== "number" || !Number.isInteger(gui) || gui < 0 || gui > 0xffffffff) bad("guiOptions", "expected an integer 0..0xffffffff");
  const cb = record("clipboard", o("clipboard") ?? {}, ["host", "guest"], "{host, guest}");
  const hostIn = ownValue(cb, "host");
  const guestIn = ownValue(cb, "guest");
  const host = hostIn === null || hostIn === undefined ? null : load("clipboard.host", hostIn);
  const guest = guestIn === null || guestIn === undefined ? null : load("clipboard.guest", guestIn);
  for (const [f, b] of [["clipboard.host", host], ["clipboard.guest", guest]] as const) {
    if (b !== null && b.length > MAX_SELECTION_BUFFER_LENGTH) bad(f, `longer than ${MAX_SELECTION_BUFFER_LENGTH} bytes`);
  }
  // namespaces: built in a scratch database, so every bound is checked the way a guest write is.
  const nsIn = o("namespaces") ?? {};
  if (typeof nsIn !== "object" || nsIn === null || Array.isArray(nsIn)) bad("namespaces", "expected an object");
  const nsDb = new NamespaceDb();
  for (const [ns, entries] of Object.entries(nsIn)) {
    if (typeof entries !== "object" || entries === null || Array.isArray(entries)) bad(`namespaces["${ns}"]`, "expected an object");
    try {
      nsDb.create(ns);
    } catch (e) {
      bad(`namespaces["${ns}"]`, (e as Error).message);
    }
    for (const [k, v] of Object.entries(entries)) {
      const field = `namespaces["${ns}"]["${k}"]`;
      const bytes = load(field, v);
      if (bytes.length === 0) bad(field, "empty values are deletions and are not stored");
      try {
        nsDb.set(ns, k, bytes);
      } catch (e) {
        bad(field, (e as Error).message);
      }
    }
  }
  // Everything is valid: apply.
  const g = vm.messaging.guestinfo;
  for (const [k] of g.entries()) g.delete(k);
  for (const [k, b] of entries) g.trySet(k, b, "host");
  vm.messaging.namespaces.replaceWith(nsDb);
  const s = vm.backdoor?.ctx.state;
  if (s) {
    s.devices.splice(0, s.devices.length, ...devices);
    s.guiOptions = gui;
    s.setHostClipboard(host);
    s.guestClipboard = guest;
    s.durableGeneration++;
  }
}

/**
 * A number that changes whenever any durable state of `vm` changes (guestinfo, namespace DB, devices, GUI options,
 * clipboard):
 * compare it after each access to know whether a save is due, without building a snapshot.
 */
export function durableGeneration(vm: VirtualMachine): number {
  return vm.messaging.guestinfo.generation + vm.messaging.namespaces.generation + (vm.backdoor?.ctx.state.durableGeneration ?? 0);
}
