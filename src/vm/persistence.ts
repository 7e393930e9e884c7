/**
 * Durable VM state: what survives a restart of the guest or of vmport — guestinfo, removable devices, GUI
 * options, clipboard — as versioned JSON-ready data, and its validated restore.
 *
 * Emulates: the VMX keeping `guestinfo.*` and device state in the `.vmx`/`.nvram` across power cycles.
 * Does not: touch files (front ends write it atomically: temp file, fsync, rename). Restore validates everything
 * first and applies nothing if any field is bad; it reads own keys only, so an unknown key — `__proto__`,
 * `constructor`, `toString` included — is refused by name at every level.
 */
import { VmportError } from "../core/errors.js";
import { ownValue, unknownOwnKey } from "../core/own-keys.js";
import { fromBase64, fromUtf8Strict, toBase64, utf8 } from "../core/text.js";
import { GuestinfoStore } from "../channels/guestinfo-store.js";
import { MAX_REMOVABLE_DEVICES, MAX_SELECTION_BUFFER_LENGTH, RD_INFO_NAME_SIZE } from "../devices/backdoor/constants.js";
import type { VirtualMachine } from "./virtual-machine.js";

/** Current format version. */
export const STATE_VERSION = 1;

/** Bytes as text when they are valid UTF-8, else `{ base64 }`. */
export type StoredBytes = string | { base64: string };

/** The durable state, version 1. */
export interface DurableState {
  version: 1;
  /** guestinfo variables by key (keys keep their `guestinfo.` prefix). */
  guestinfo: Record<string, StoredBytes>;
  /** Removable devices and whether each is connected. */
  devices: { name: string; enabled: boolean }[];
  /** GUI option bits (GETGUIOPTIONS). */
  guiOptions: number;
  /** Legacy clipboard: host text staged for the guest, and the last text the guest sent. */
  clipboard: { host: StoredBytes | null; guest: StoredBytes | null };
}

function store(b: Uint8Array): StoredBytes {
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
  for (const [k, v] of vm.messaging.guestinfo.entries()) guestinfo[k] = store(v);
  const s = vm.backdoor?.ctx.state ?? null;
  return {
    version: STATE_VERSION,
    guestinfo,
    devices: (s?.devices ?? vm.profile.devices).map((d) => ({ name: d.name, enabled: d.enabled })),
    guiOptions: s?.guiOptions ?? vm.profile.guiOptions,
    clipboard: {
      host: s?.hostClipboard ? store(s.hostClipboard) : null,
      guest: s?.guestClipboard ? store(s.guestClipboard) : null,
    },
  };
}

/**
 * Validate `input` and apply it to `vm` (replacing guestinfo, devices, GUI options and clipboard).
 * @throws VmportError VMPORT_BAD_STATE naming the first bad field; nothing is applied then.
 */
export function restoreDurableState(vm: VirtualMachine, input: unknown): void {
  if (typeof input !== "object" || input === null || Array.isArray(input)) bad("(root)", "expected an object");
  const extra = unknownOwnKey(input, ["version", "guestinfo", "devices", "guiOptions", "clipboard"]);
  if (extra !== null) bad(extra, "unknown field");
  const o = (k: string): unknown => ownValue(input, k);
  if (o("version") !== STATE_VERSION) bad("version", `expected ${STATE_VERSION}, got ${JSON.stringify(o("version"))}`);
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
  // Everything is valid: apply.
  const g = vm.messaging.guestinfo;
  for (const [k] of g.entries()) g.delete(k);
  for (const [k, b] of entries) g.trySet(k, b, "host");
  const s = vm.backdoor?.ctx.state;
  if (s) {
    s.devices.splice(0, s.devices.length, ...devices);
    s.guiOptions = gui;
    s.setHostClipboard(host);
    s.guestClipboard = guest;
  }
}
