/**
 * Host-side operations on a running VM, by name: what a VMware host's management API does to a powered-on VM —
 * read and change guestinfo, feed the absolute pointer, stage clipboard text, connect and disconnect removable
 * devices. The tracer worker runs them on its VM when the main thread asks (`vmport/host` sessions, the control
 * socket); anything that holds a VM in-process can run them too.
 *
 * Emulates: the host half of `guestinfo.*` (a vSphere `VirtualMachine.reconfigure` of `extraConfig`), the pointer
 * and clipboard a VMX forwards from its console, and the removable-device connect/disconnect of the VMX's UI.
 * Source of truth: the engine modules each call uses (`channels/guestinfo-store.ts`, `devices/vmmouse/vmmouse.ts`,
 * `devices/backdoor/backdoor-state.ts`, `commands/clipboard.ts`, `commands/devices.ts`).
 * Errors are `VmportError`s with a code: `VMPORT_GUESTINFO_LIMIT` (a guestinfo bound), `VMPORT_BAD_ARGUMENT` (a
 * value out of range), `VMPORT_NO_DEVICE` (no removable device of that name), `VMPORT_NO_BACKDOOR` (the profile
 * disables the backdoor, so there is no clipboard or device state).
 * Does not: validate argument types (callers do: the session's TypeScript types, the control socket's schema).
 */
import { VmportError } from "../core/errors.js";
import { fromUtf8, utf8 } from "../core/text.js";
import { MAX_SELECTION_BUFFER_LENGTH } from "../devices/backdoor/constants.js";
import type { VirtualMachine } from "../vm/virtual-machine.js";
import { GuestinfoStore } from "../channels/guestinfo-store.js";

/** A removable device as the host lists it. */
export interface HostDevice {
  /** Its name (`RD_Info` name, ≤ 31 bytes). */
  name: string;
  /** Connected (the guest's `vmware-toolbox-cmd device list` shows `Enabled`). */
  connected: boolean;
}

/** One host call. */
export type HostCall =
  | { name: "guestinfo-get"; key: string }
  | { name: "guestinfo-set"; key: string; value: string }
  | { name: "guestinfo-delete"; key: string }
  | { name: "guestinfo-list" }
  | { name: "mouse"; x: number; y: number; buttons: number; wheel: number }
  | { name: "clipboard-get" }
  | { name: "clipboard-set"; text: string | null }
  | { name: "device-list" }
  | { name: "device-set"; device: string; connected: boolean };

/** What each call returns. */
export interface HostCallResults {
  /** The value, or null when the key is not set. */
  "guestinfo-get": string | null;
  /** Nothing: the value is set. */
  "guestinfo-set": null;
  /** Whether the key existed. */
  "guestinfo-delete": boolean;
  /** Every guestinfo value as text, by key. */
  "guestinfo-list": Record<string, string>;
  /** Whether the event reached the vmmouse queue (false: not enabled by the guest, or queue full). */
  mouse: boolean;
  /** The text the guest last put on the legacy clipboard (SETSELLENGTH/SETNEXTPIECE), or null. */
  "clipboard-get": string | null;
  /** Nothing: the text is staged for the guest. */
  "clipboard-set": null;
  /** The profile's removable devices and their connection state. */
  "device-list": HostDevice[];
  /** Nothing: the device's state changed. */
  "device-set": null;
}

function noBackdoor(): never {
  throw new VmportError("VMPORT_NO_BACKDOOR", "the profile disables the backdoor (backdoor: false): no clipboard or removable devices");
}

/**
 * Run `call` on `vm`. guestinfo keys take the `guestinfo.` prefix or not; values are text (stored as UTF-8; a value
 * the guest stored as other bytes reads back decoded lossily).
 * @throws VmportError as listed in the module comment.
 */
export function runHostCall(vm: VirtualMachine, call: HostCall): unknown {
  const g = vm.messaging.guestinfo;
  const st = vm.backdoor?.ctx.state ?? null;
  switch (call.name) {
    case "guestinfo-get": {
      const v = g.getText(GuestinfoStore.withPrefix(call.key));
      return v === undefined ? null : v;
    }
    case "guestinfo-set":
      g.set(call.key, call.value);
      return null;
    case "guestinfo-delete":
      return g.delete(call.key);
    case "guestinfo-list": {
      const out: Record<string, string> = {};
      for (const [k, v] of g.entries()) out[k] = fromUtf8(v);
      return out;
    }
    case "mouse":
      for (const [n, v] of [
        ["x", call.x],
        ["y", call.y],
        ["buttons", call.buttons],
        ["wheel", call.wheel],
      ] as const) {
        if (!Number.isFinite(v)) throw new VmportError("VMPORT_BAD_ARGUMENT", `mouse ${n}: expected a finite number`);
      }
      return vm.mouse.event(call.x, call.y, call.buttons, call.wheel);
    case "clipboard-get":
      if (st === null) noBackdoor();
      return st.guestClipboard === null ? null : fromUtf8(st.guestClipboard);
    case "clipboard-set": {
      if (st === null) noBackdoor();
      const b = call.text === null ? null : utf8(call.text);
      if (b !== null && b.length > MAX_SELECTION_BUFFER_LENGTH) {
        throw new VmportError(
          "VMPORT_BAD_ARGUMENT",
          `clipboard text of ${b.length} bytes is longer than the ${MAX_SELECTION_BUFFER_LENGTH} a guest accepts`,
        );
      }
      st.setHostClipboard(b);
      return null;
    }
    case "device-list":
      return (st?.devices ?? vm.profile.devices).map((d) => ({ name: d.name, connected: d.enabled }));
    case "device-set": {
      if (st === null) noBackdoor();
      const id = st.devices.findIndex((x) => x.name === call.device);
      if (id < 0)
        throw new VmportError(
          "VMPORT_NO_DEVICE",
          `no removable device named "${call.device}" (the profile's devices: ${st.devices.map((x) => x.name).join(", ") || "none"})`,
        );
      st.setDeviceEnabled(id, call.connected);
      return null;
    }
  }
}
