/**
 * State behind the LB commands, in three separate parts: the durable state a VMX keeps across power cycles (GUI
 * options, removable devices, the legacy clipboard texts), the volatile state of one run (pointer position, the
 * clipboard transfers in progress), and the guest-misbehaviour counters; plus one change notification (a
 * generation number) and the guest-selection event.
 *
 * Emulates: what a VMX remembers between backdoor calls for commands 4–9 and 11–14.
 * Source of truth: `docs/protocol.md` §3; v86 `v86/src/vmware.js` (clipboard staging).
 * Does not: know the file format. {@link BackdoorState.saveState} returns the durable part as plain data and
 * {@link BackdoorState.restoreState} validates it whole before applying any of it; `src/vm/persistence.ts`
 * composes the components into the state file.
 */
import { MAX_SELECTION_BUFFER_LENGTH } from "./constants.js";
import type { VmProfile } from "../profile.js";
import { parseRemovableDevices, type RemovableDevice } from "../removable-devices.js";
import { EventSet } from "../../core/events.js";
import { ownValue } from "../../core/own-keys.js";
import { badState, stateBytes, stateRecord } from "../../core/saved-state.js";

/** The durable part of the backdoor's state, as {@link BackdoorState.saveState} returns it (fresh copies). */
export interface BackdoorSavedState {
  /** Removable devices, by id, and whether each is connected. */
  devices: RemovableDevice[];
  /** GUI option bits (GETGUIOPTIONS), 0..0xffffffff. */
  guiOptions: number;
  /**
   * Legacy clipboard: host text staged for the guest, and the last selection the guest completed; each at most
   * `MAX_SELECTION_BUFFER_LENGTH` (65 436) bytes, or null.
   */
  clipboard: { host: Uint8Array | null; guest: Uint8Array | null };
}

/** Guest misbehaviour the clipboard commands answered and counted. */
export interface ClipboardCounters {
  /** SETSELLENGTH calls refused for announcing more than 65 436 bytes. */
  clipboardRefused: number;
  /** SETNEXTPIECE calls with no selection in progress (ignored). */
  clipboardStrayPieces: number;
}

/**
 * Validate `v` as a {@link BackdoorSavedState} and return a fresh copy of it.
 * @throws VmportError VMPORT_BAD_STATE naming the first bad field (`devices[1].name`, `guiOptions`,
 * `clipboard.host`, …).
 */
export function checkBackdoorSavedState(v: unknown): BackdoorSavedState {
  const o = stateRecord("(backdoor)", v, ["devices", "guiOptions", "clipboard"], "{devices, guiOptions, clipboard}");
  const devices = parseRemovableDevices(ownValue(o, "devices"), "devices", badState);
  const gui = ownValue(o, "guiOptions");
  if (typeof gui !== "number" || !Number.isInteger(gui) || gui < 0 || gui > 0xffffffff)
    badState("guiOptions", "expected an integer 0..0xffffffff");
  const cb = stateRecord("clipboard", ownValue(o, "clipboard"), ["host", "guest"], "{host, guest}");
  const text = (side: "host" | "guest"): Uint8Array | null => {
    const x = ownValue(cb, side);
    if (x === null) return null;
    const b = stateBytes(`clipboard.${side}`, x);
    if (b.length > MAX_SELECTION_BUFFER_LENGTH) badState(`clipboard.${side}`, `longer than ${MAX_SELECTION_BUFFER_LENGTH} bytes`);
    return b.slice();
  };
  return { devices, guiOptions: gui, clipboard: { host: text("host"), guest: text("guest") } };
}

/** State of the backdoor device. */
export class BackdoorState {
  // Durable: saved and restored.
  private gui: number;
  private readonly deviceList: RemovableDevice[];
  private hostText: Uint8Array | null = null;
  private guestText: Uint8Array | null = null;
  private gen = 0;

  /**
   * Volatile state of this run (never saved): the host pointer position and the clipboard transfers in
   * progress. The clipboard handlers own the transfer fields.
   */
  readonly volatile = {
    /** Host pointer position, in guest screen pixels (SETPTRLOCATION / GETPTRLOCATION). */
    pointerX: 0,
    pointerY: 0,
    /** Read cursor into the staged host text (GETNEXTPIECE). */
    hostClipboardPos: 0,
    /** Selection being received from the guest: announced length, bytes so far, the buffer (null = none). */
    guestExpected: 0,
    guestPendingLength: 0,
    guestPending: null as Uint8Array | null,
  };

  /** Guest misbehaviour, counted. */
  readonly counters: ClipboardCounters = { clipboardRefused: 0, clipboardStrayPieces: 0 };

  /** Every selection the guest completes. */
  readonly guestSelections = new EventSet<Uint8Array>();

  constructor(profile: VmProfile) {
    this.gui = profile.guiOptions >>> 0;
    this.deviceList = profile.devices.map((d) => ({ ...d }));
  }

  /**
   * Changes whenever the durable state changes (GUI options, a device toggled, a clipboard text, a restore): a
   * cheap "is a save due" for state saving.
   */
  get generation(): number {
    return this.gen;
  }

  /** Current GUI option bits. */
  get guiOptions(): number {
    return this.gui;
  }

  /** Set the GUI option bits (SETGUIOPTIONS, `vmx.set_option synctime`). */
  setGuiOptions(bits: number): void {
    const v = bits >>> 0;
    if (v !== this.gui) this.gen++;
    this.gui = v;
  }

  /** The removable devices, by id (read-only views; change them with {@link setDeviceEnabled}). */
  get devices(): readonly Readonly<RemovableDevice>[] {
    return this.deviceList;
  }

  /** Connect or disconnect device `id`. Returns false when there is no such device. */
  setDeviceEnabled(id: number, enabled: boolean): boolean {
    const d = this.deviceList[id];
    if (d === undefined) return false;
    if (d.enabled !== enabled) this.gen++;
    d.enabled = enabled;
    return true;
  }

  /** Host text offered to the guest (GETSELLENGTH/GETNEXTPIECE), or null when none is staged. */
  get hostClipboard(): Uint8Array | null {
    return this.hostText;
  }

  /**
   * Stage host text for the guest, read from its start. Longer text is cut to `MAX_SELECTION_BUFFER_LENGTH`
   * (65 436) bytes, the most a guest accepts.
   */
  setHostClipboard(text: Uint8Array | null): void {
    this.hostText = text === null ? null : text.slice(0, MAX_SELECTION_BUFFER_LENGTH);
    this.volatile.hostClipboardPos = 0;
    this.gen++;
  }

  /** Text the guest finished sending with SETSELLENGTH/SETNEXTPIECE (last complete selection), or null. */
  get guestClipboard(): Uint8Array | null {
    return this.guestText;
  }

  /** The guest completed a selection: keep it and tell the listeners. */
  publishGuestSelection(text: Uint8Array): void {
    this.guestText = text;
    this.gen++;
    if (this.guestSelections.size > 0) this.guestSelections.emit(text);
  }

  /** The durable state, as fresh plain data. */
  saveState(): BackdoorSavedState {
    return {
      devices: this.deviceList.map((d) => ({ name: d.name, enabled: d.enabled })),
      guiOptions: this.gui,
      clipboard: { host: this.hostText?.slice() ?? null, guest: this.guestText?.slice() ?? null },
    };
  }

  /**
   * Replace the durable state with `v`; a restored host text is read from its start and any guest transfer in
   * progress is dropped.
   * @throws VmportError VMPORT_BAD_STATE naming the first bad field; nothing is applied then.
   */
  restoreState(v: unknown): void {
    const s = checkBackdoorSavedState(v);
    this.deviceList.splice(0, this.deviceList.length, ...s.devices);
    this.gui = s.guiOptions;
    this.hostText = s.clipboard.host;
    this.guestText = s.clipboard.guest;
    const t = this.volatile;
    t.hostClipboardPos = 0;
    t.guestExpected = 0;
    t.guestPendingLength = 0;
    t.guestPending = null;
    this.gen++;
  }
}
