/**
 * The removable-device list: the one place that says what a device entry is and which names are valid, used by
 * the profile (`profile.ts`, the initial list) and by the backdoor's saved state (`backdoor/backdoor-state.ts`).
 *
 * Emulates: the VMX's list of removable devices behind GETDEVICELISTELEMENT / TOGGLEDEVICE.
 * Source of truth: open-vm-tools `lib/include/removable_device.h` (`RD_Info`: a 32-byte NUL-terminated name,
 * so at most 31 bytes); `docs/protocol.md` §3.
 * Does not: choose the error code — the caller passes how to refuse (a bad profile and a bad state file are
 * different errors). Reads own keys only, so `__proto__` and other inherited names are unknown keys.
 */
import { ownValue, unknownOwnKey } from "../core/own-keys.js";
import { MAX_REMOVABLE_DEVICES, RD_INFO_NAME_SIZE } from "./backdoor/constants.js";

/** A removable device listed by GETDEVICELISTELEMENT. */
export interface RemovableDevice {
  /** Name shown by `vmware-toolbox-cmd device list` (printable ASCII, 1 to 31 bytes). */
  name: string;
  /** Connected. */
  enabled: boolean;
}

/** Longest device name in bytes: `RD_Info`'s name field minus its NUL. */
export const MAX_DEVICE_NAME_BYTES = RD_INFO_NAME_SIZE - 1;

/** How a caller refuses input: throws its own typed error naming `field`. */
export type RefuseInput = (field: string, why: string) => never;

/** Why `name` is not a valid device name, or null when it is. */
export function deviceNameProblem(name: unknown): string | null {
  if (typeof name !== "string" || name.length === 0 || !/^[\x20-\x7e]*$/.test(name)) return "expected a non-empty printable ASCII string";
  if (name.length > MAX_DEVICE_NAME_BYTES) return `${name.length} bytes; at most ${MAX_DEVICE_NAME_BYTES}`;
  return null;
}

/**
 * Validate a device list (`[{name, enabled}]`, at most {@link MAX_REMOVABLE_DEVICES}) and return a fresh copy.
 * @throws whatever `refuse` throws, naming `field`, `field[i]`, `field[i].name`, `field[i].enabled` or
 * `field[i].KEY` for an unknown key.
 */
export function parseRemovableDevices(v: unknown, field: string, refuse: RefuseInput): RemovableDevice[] {
  if (!Array.isArray(v)) refuse(field, "expected an array of {name, enabled}");
  if (v.length > MAX_REMOVABLE_DEVICES) refuse(field, `${v.length} devices; at most ${MAX_REMOVABLE_DEVICES}`);
  return v.map((d: unknown, i) => {
    const key = `${field}[${i}]`;
    if (typeof d !== "object" || d === null || Array.isArray(d)) refuse(key, "expected {name, enabled}");
    const extra = unknownOwnKey(d, ["name", "enabled"]);
    if (extra !== null) refuse(`${key}.${extra}`, "unknown key (known: name, enabled)");
    const name = ownValue(d, "name");
    const enabled = ownValue(d, "enabled");
    const problem = deviceNameProblem(name);
    if (problem !== null) refuse(`${key}.name`, problem);
    if (typeof enabled !== "boolean") refuse(`${key}.enabled`, `expected true or false, got ${JSON.stringify(enabled)}`);
    return { name: name as string, enabled };
  });
}
