/**
 * Mutable guest-visible state behind the LB commands: GUI options, removable devices, pointer, legacy clipboard.
 *
 * Emulates: what a VMX remembers between backdoor calls for commands 4–9 and 11–14.
 * Source of truth: `docs/protocol.md` §3; v86 `v86/src/vmware.js` (clipboard staging).
 * Does not: serialise itself (`vm/persistence.ts` saves and restores it).
 */
import { MAX_SELECTION_BUFFER_LENGTH } from "./constants.js";
import type { RemovableDevice, VmProfile } from "../profile.js";
import { EventSet } from "../../core/events.js";

/** Guest-visible state of the backdoor device. */
export class BackdoorState {
  /** Current GUI option bits. */
  guiOptions: number;
  /** Removable devices, by id. */
  readonly devices: RemovableDevice[];
  /** Host pointer's horizontal position, in guest screen pixels. */
  pointerX = 0;
  /** Host pointer's vertical position, in guest screen pixels. */
  pointerY = 0;
  /** Host text offered to the guest (GETSELLENGTH/GETNEXTPIECE), or null when none is staged. */
  hostClipboard: Uint8Array | null = null;
  /** Read cursor into {@link hostClipboard}. */
  hostClipboardPos = 0;
  /** Text the guest finished sending with SETSELLENGTH/SETNEXTPIECE (last complete selection). */
  guestClipboard: Uint8Array | null = null;
  /** Length of the selection being received, as SETSELLENGTH announced it (bytes). */
  guestExpected = 0;
  /** Bytes received so far of the selection being sent (at most {@link guestExpected} bytes), or null. */
  guestPending: Uint8Array | null = null;
  /** How many bytes of {@link guestPending} are filled. */
  guestPendingLength = 0;
  /** SETSELLENGTH calls refused for announcing more than 65 436 bytes (guest misbehaviour, counted). */
  clipboardRefused = 0;
  /** SETNEXTPIECE calls with no selection in progress (counted, ignored). */
  clipboardStrayPieces = 0;
  /**
   * Incremented whenever durable state here changes (GUI options, a device toggled, a clipboard text): a cheap
   * "did anything change" for state saving.
   */
  durableGeneration = 0;
  /** Every selection the guest completes. */
  readonly guestSelections = new EventSet<Uint8Array>();

  constructor(profile: VmProfile) {
    this.guiOptions = profile.guiOptions >>> 0;
    this.devices = profile.devices.map((d) => ({ ...d }));
  }

  /**
   * Stage host text for the guest. Longer text is cut to `MAX_SELECTION_BUFFER_LENGTH` (65 436) bytes,
   * the most a guest accepts.
   */
  setHostClipboard(text: Uint8Array | null): void {
    this.hostClipboard = text === null ? null : text.slice(0, MAX_SELECTION_BUFFER_LENGTH);
    this.hostClipboardPos = 0;
    this.durableGeneration++;
  }
}
