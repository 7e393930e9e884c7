/**
 * Durable VM state: what survives a restart of the guest or of vmport — guestinfo, removable devices, GUI
 * options, clipboard, the namespace database — as versioned JSON-ready data, and its validated restore.
 *
 * Emulates: the VMX keeping `guestinfo.*`, device state and the namespace DB in the `.vmx`/`.nvram` across power
 * cycles.
 * Composes the components' own state: `GuestinfoStore`, `NamespaceDb` and `BackdoorState` each have
 * `saveState` (plain data) and `restoreState` (validated whole); this file maps that data to and from the file
 * format and checks every part before any part is applied. Fixtures written by the code before that split are in
 * `src/vm/fixtures/` (`persistence-fixtures.test.ts`).
 * Versions: 1 (guestinfo, devices, GUI options, clipboard) still loads; 2 adds `namespaces`. Saves write 2.
 * Does not: touch files (front ends write it atomically: temp file, fsync, rename). Restore validates everything
 * first and applies nothing if any field is bad; it reads own keys only, so an unknown key — `__proto__`,
 * `constructor`, `toString` included — is refused by name at every level.
 */
import { ownValue, unknownOwnKey } from "../core/own-keys.js";
import { badState, stateMap, stateRecord } from "../core/saved-state.js";
import { fromBase64, fromUtf8Strict, toBase64, utf8 } from "../core/text.js";
import { checkGuestinfoSavedState } from "../channels/guestinfo-store.js";
import { checkNamespaceSavedState } from "../channels/namespace-db.js";
import { checkBackdoorSavedState, type BackdoorSavedState } from "../devices/backdoor/backdoor-state.js";
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

/** Bytes stored as text or `{ base64 }`, decoded; refused naming `field`. */
function load(field: string, v: unknown): Uint8Array {
  if (typeof v === "string") return utf8(v);
  const b64 = ownValue(stateRecord(field, v, ["base64"], "a string or {base64}"), "base64");
  if (typeof b64 !== "string") badState(field, "expected a string or {base64}");
  const b = fromBase64(b64);
  if (b === null) badState(field, "base64 is malformed");
  return b;
}

/** Snapshot the durable state of `vm`: each component's `saveState`, in the file's format. */
export function saveDurableState(vm: VirtualMachine): DurableState {
  const stored = (entries: [string, Uint8Array][]): Record<string, StoredBytes> =>
    Object.fromEntries(entries.map(([k, v]) => [k, toStoredBytes(v)]));
  const b = vm.backdoor?.ctx.state.saveState() ?? null;
  return {
    version: STATE_VERSION,
    guestinfo: stored(vm.messaging.guestinfo.saveState()),
    devices: (b?.devices ?? vm.profile.devices).map((d) => ({ name: d.name, enabled: d.enabled })),
    guiOptions: b?.guiOptions ?? vm.profile.guiOptions,
    clipboard: {
      host: b?.clipboard.host ? toStoredBytes(b.clipboard.host) : null,
      guest: b?.clipboard.guest ? toStoredBytes(b.clipboard.guest) : null,
    },
    namespaces: Object.fromEntries(vm.messaging.namespaces.saveState().map(([ns, e]) => [ns, stored(e)])),
  };
}

/** The entries of the own-key map `v` (field `field`) with their bytes decoded. */
function loadMap(field: string, v: unknown, name: (k: string) => string): [string, Uint8Array][] {
  return Object.entries(stateMap(field, v)).map(([k, x]) => [k, load(name(k), x)]);
}

/** The file's fields, decoded into each component's saved-state value (not yet validated by the components). */
function decodeFile(input: unknown): { guestinfo: unknown; backdoor: BackdoorSavedState; namespaces: unknown } {
  if (typeof input !== "object" || input === null || Array.isArray(input)) badState("(root)", "expected an object");
  const o = (k: string): unknown => ownValue(input, k);
  const version = o("version");
  if (typeof version !== "number" || !STATE_VERSIONS_READ.includes(version)) {
    badState("version", `expected ${STATE_VERSIONS_READ.join(" or ")}, got ${JSON.stringify(version)}`);
  }
  const extra = unknownOwnKey(input, [
    "version",
    "guestinfo",
    "devices",
    "guiOptions",
    "clipboard",
    ...(version >= 2 ? ["namespaces"] : []),
  ]);
  if (extra !== null) badState(extra, "unknown field");
  const guestinfo = loadMap("guestinfo", o("guestinfo") ?? {}, (k) => `guestinfo["${k}"]`);
  const cb = stateRecord("clipboard", o("clipboard") ?? {}, ["host", "guest"], "{host, guest}");
  const text = (side: "host" | "guest"): Uint8Array | null => {
    const x = ownValue(cb, side);
    return x === null || x === undefined ? null : load(`clipboard.${side}`, x);
  };
  const backdoor = {
    devices: (o("devices") ?? []) as BackdoorSavedState["devices"],
    guiOptions: (o("guiOptions") ?? 0) as number,
    clipboard: { host: text("host"), guest: text("guest") },
  };
  const namespaces = Object.entries(stateMap("namespaces", o("namespaces") ?? {})).map(([ns, e]) => [
    ns,
    loadMap(`namespaces["${ns}"]`, e, (k) => `namespaces["${ns}"]["${k}"]`),
  ]);
  return { guestinfo, backdoor, namespaces };
}

/**
 * Validate `input` and apply it to `vm` (replacing guestinfo, devices, GUI options, clipboard and the namespace
 * database): the file is decoded, every component checks its part, and only then does each restore its part.
 * @throws VmportError VMPORT_BAD_STATE naming the first bad field; nothing is applied then.
 */
export function restoreDurableState(vm: VirtualMachine, input: unknown): void {
  const d = decodeFile(input);
  // Every part is checked before any is applied, so a bad field leaves the whole VM as it was.
  checkGuestinfoSavedState(d.guestinfo);
  checkBackdoorSavedState(d.backdoor);
  checkNamespaceSavedState(d.namespaces);
  vm.messaging.guestinfo.restoreState(d.guestinfo);
  vm.messaging.namespaces.restoreState(d.namespaces);
  vm.backdoor?.ctx.state.restoreState(d.backdoor);
}

/**
 * A number that changes whenever any durable state of `vm` changes (guestinfo, namespace DB, devices, GUI options,
 * clipboard):
 * compare it after each access to know whether a save is due, without building a snapshot.
 */
export function durableGeneration(vm: VirtualMachine): number {
  return vm.messaging.guestinfo.generation + vm.messaging.namespaces.generation + (vm.backdoor?.ctx.state.generation ?? 0);
}
