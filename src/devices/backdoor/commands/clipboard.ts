/**
 * Legacy clipboard (copy/paste protocol version 1): GETSELLENGTH (6), GETNEXTPIECE (7), SETSELLENGTH (8),
 * SETNEXTPIECE (9).
 *
 * Source of truth: open-vm-tools `services/plugins/dndcp/copyPasteCompat.c` (guest rejects lengths < 0 or
 * > 65 436, reads ⌈len/4⌉ pieces); v86 `v86/src/vmware.js`; `docs/protocol.md` §3.
 * Does not: implement the DnD/CP v2+ RPC protocols. SETSELLENGTH/SETNEXTPIECE have no outputs (EAX keeps the
 * magic on IN), as the header documents none.
 */
import { BdoorCmd, MAX_SELECTION_BUFFER_LENGTH, SELECTION_NOT_READY } from "../constants.js";
import type { CommandHandler, CommandRegistry } from "../command-registry.js";
import { packLe32, unpackLe32 } from "../../../core/bytes.js";

/** GETSELLENGTH: EAX = length of the staged host text (and rewind), or −1 when none is staged. */
export const getSelLength: CommandHandler = (_f, ctx, out) => {
  const t = ctx.state.hostClipboard;
  if (t === null) return out.eax(SELECTION_NOT_READY);
  ctx.state.volatile.hostClipboardPos = 0;
  return out.eax(t.length);
};

/** GETNEXTPIECE: EAX = the next 4 bytes of host text, little-endian; zero bytes past the end. */
export const getNextPiece: CommandHandler = (_f, ctx, out) => {
  const s = ctx.state.volatile;
  const t = ctx.state.hostClipboard;
  let v = 0;
  if (t !== null) {
    v = packLe32(t, s.hostClipboardPos);
    s.hostClipboardPos = Math.min(s.hostClipboardPos + 4, t.length);
  }
  return out.eax(v);
};

/**
 * SETSELLENGTH: EBX = length of the guest's selection. 0 publishes an empty selection at once; more than
 * 65 436 (including negative values) is refused and counted — the guest would never send that.
 */
export const setSelLength: CommandHandler = (f, ctx, out) => {
  const s = ctx.state.volatile;
  const len = f.ebx >>> 0;
  s.guestPending = null;
  s.guestPendingLength = 0;
  s.guestExpected = 0;
  if (len > MAX_SELECTION_BUFFER_LENGTH) {
    ctx.state.counters.clipboardRefused++;
    return out;
  }
  if (len === 0) {
    ctx.state.publishGuestSelection(new Uint8Array(0));
    return out;
  }
  s.guestExpected = len;
  s.guestPending = new Uint8Array(len);
  return out;
};

/** SETNEXTPIECE: EBX = the next 4 bytes; the selection is published when the announced length is reached. */
export const setNextPiece: CommandHandler = (f, ctx, out) => {
  const s = ctx.state.volatile;
  const buf = s.guestPending;
  if (buf === null) {
    ctx.state.counters.clipboardStrayPieces++;
    return out;
  }
  unpackLe32(f.ebx, buf, s.guestPendingLength, s.guestExpected - s.guestPendingLength);
  s.guestPendingLength = Math.min(s.guestPendingLength + 4, s.guestExpected);
  if (s.guestPendingLength === s.guestExpected) {
    s.guestPending = null;
    ctx.state.publishGuestSelection(buf);
  }
  return out;
};

/** Register this family. */
export function registerClipboardCommands(r: CommandRegistry): void {
  r.register(BdoorCmd.GETSELLENGTH, "GETSELLENGTH", getSelLength);
  r.register(BdoorCmd.GETNEXTPIECE, "GETNEXTPIECE", getNextPiece);
  r.register(BdoorCmd.SETSELLENGTH, "SETSELLENGTH", setSelLength);
  r.register(BdoorCmd.SETNEXTPIECE, "SETNEXTPIECE", setNextPiece);
}
