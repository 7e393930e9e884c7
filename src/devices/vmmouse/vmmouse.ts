/**
 * vmmouse: the VMware absolute pointer, backdoor commands 39 (DATA), 40 (STATUS), 41 (COMMAND), 86 (RESTRICT).
 *
 * Emulates: the VMX's absolute-pointer device as the Linux `vmmouse` driver and Xorg's `vmmouse_detect` use it:
 * READ_ID enables the device and queues the version word; STATUS is `status << 16 | queued words` (0 = enabled,
 * 0xFFFF = disabled or error); DATA pops 1–6 words into EAX, EBX, ECX, EDX, ESI, EDI; packets are 4 words
 * `[flags | buttons, x, y, z]` with x/y 0…0xFFFF in absolute mode, signed deltas (and the RELATIVE_PACKET flag) in
 * relative mode. DATA of 0, more than 6 or more words than queued is an error: status 0xFFFF and the device is
 * disabled (QEMU). DISABLE clears the queue, so the Linux driver's check "STATUS reads 0xFFFF0000 after disable"
 * holds (v86 clears too; QEMU does not).
 * Queue policy (`docs/protocol.md` §8, §12): 1024 words; a move that only changes position replaces the position of a move still
 * waiting with the same buttons (absolute) or adds to its deltas (relative), so a slow guest never builds a
 * backlog; packets that change buttons or carry a wheel delta are never coalesced; when the queue is full the new
 * packet is dropped and counted.
 * Source of truth: `docs/protocol.md` §8 (constants, commands, handshakes), Linux `drivers/input/mouse/vmmouse.c`,
 * QEMU `hw/i386/vmmouse.c`, v86 `v86/src/vmware.js`.
 * Does not: inject PS/2 bytes or raise IRQ 12 itself — an embedding does that on `packets`; RESTRICT is recorded
 * but not enforced (QEMU ignores it too).
 */
import { BdoorCmd } from "../backdoor/constants.js";
import { EventSet } from "../../core/events.js";
import type { CommandHandler, CommandRegistry } from "../backdoor/command-registry.js";

/** ABSPOINTER_COMMAND arguments. */
export const VmmouseCommand = {
  READ_ID: 0x45414552,
  DISABLE: 0x000000f5,
  REQUEST_RELATIVE: 0x4c455252,
  REQUEST_ABSOLUTE: 0x53424152,
} as const;
/** First word after READ_ID. */
export const VMMOUSE_VERSION_ID = 0x3442554a;
/** Status half when disabled or after an error. */
export const VMMOUSE_ERROR = 0xffff;
/** Word 0 flag of a relative packet. */
export const VMMOUSE_RELATIVE_PACKET = 0x00010000;
/** Button bits in word 0. */
export const VmmouseButton = { LEFT: 0x20, RIGHT: 0x10, MIDDLE: 0x08 } as const;
/** Queue size in words. */
export const VMMOUSE_QUEUE_WORDS = 1024;
/** Words per packet. */
const PACKET = 4;

/** Counters of what the device answered or dropped. */
export interface VmmouseCounters {
  /** Packets queued. */
  packets: number;
  /** Moves merged into a move still waiting instead of queued. */
  coalesced: number;
  /** Packets dropped because the queue was full. */
  dropped: number;
  /** Packets ignored because the device was disabled. */
  ignored: number;
  /** DATA requests that were errors (0, > 6, more than queued). */
  dataErrors: number;
}

/** A packet the host queued for the guest, the event of {@link Vmmouse.packets}. */
export interface VmmousePacket {
  /** Word 0: button bits, and {@link VMMOUSE_RELATIVE_PACKET} in relative mode. */
  flags: number;
  /** Horizontal position (absolute, 0…0xFFFF) or delta (relative), as queued. */
  x: number;
  /** Vertical position (absolute, 0…0xFFFF) or delta (relative). */
  y: number;
  /** Wheel delta (signed; 0 for none). */
  wheel: number;
  /** True when the move replaced (absolute) or added to (relative) a move still waiting. */
  coalesced: boolean;
}

/** The device. */
export class Vmmouse {
  /** True after READ_ID until DISABLE or an error. */
  enabled = false;
  /** Absolute (default after enable) or relative mode. */
  absolute = true;
  /** Last RESTRICT value (0 any, 1 CPL0, 2 IOPL). */
  restrict = 0;
  /** What the device queued, merged, dropped and refused. */
  readonly counters: VmmouseCounters = { packets: 0, coalesced: 0, dropped: 0, ignored: 0, dataErrors: 0 };
  /** Every packet queued or merged (an embedding raises IRQ 12 here). */
  readonly packets = new EventSet<VmmousePacket>();
  private readonly q = new Uint32Array(VMMOUSE_QUEUE_WORDS);
  private head = 0;
  private len = 0;
  /** Index (in words from `head`) of the last packet's first word, or -1 when the last one is gone or not a plain move. */
  private lastMove = -1;

  /** Words waiting. */
  get queued(): number {
    return this.len;
  }

  private push(w: number): void {
    this.q[(this.head + this.len) % VMMOUSE_QUEUE_WORDS] = w >>> 0;
    this.len++;
  }

  private at(i: number): number {
    return this.q[(this.head + i) % VMMOUSE_QUEUE_WORDS]!;
  }

  private setAt(i: number, v: number): void {
    this.q[(this.head + i) % VMMOUSE_QUEUE_WORDS] = v >>> 0;
  }

  private clear(): void {
    this.head = 0;
    this.len = 0;
    this.lastMove = -1;
  }

  /**
   * Host input: a pointer event. Absolute: `x`, `y` in 0…0xFFFF (clamped). Relative mode (guest's choice): pass
   * deltas. `buttons` is a {@link VmmouseButton} mask; `wheel` a signed delta. Returns whether the event reached
   * the queue: false when the guest has not enabled the device (counted `ignored`) or the queue is full (`dropped`).
   */
  event(x: number, y: number, buttons = 0, wheel = 0): boolean {
    if (!this.enabled) {
      this.counters.ignored++;
      return false;
    }
    const flags = (buttons & 0x38) | (this.absolute ? 0 : VMMOUSE_RELATIVE_PACKET);
    const px = this.absolute ? Math.max(0, Math.min(0xffff, Math.round(x))) : Math.round(x) | 0;
    const py = this.absolute ? Math.max(0, Math.min(0xffff, Math.round(y))) : Math.round(y) | 0;
    const plainMove = wheel === 0;
    if (plainMove && this.lastMove >= 0 && this.at(this.lastMove) === flags >>> 0) {
      // Coalesce with the waiting move that has the same buttons.
      if (this.absolute) {
        this.setAt(this.lastMove + 1, px);
        this.setAt(this.lastMove + 2, py);
      } else {
        this.setAt(this.lastMove + 1, (this.at(this.lastMove + 1) | 0) + px);
        this.setAt(this.lastMove + 2, (this.at(this.lastMove + 2) | 0) + py);
      }
      this.counters.coalesced++;
      if (this.packets.size > 0)
        this.packets.emit({ flags, x: this.at(this.lastMove + 1) | 0, y: this.at(this.lastMove + 2) | 0, wheel: 0, coalesced: true });
      return true;
    }
    if (this.len + PACKET > VMMOUSE_QUEUE_WORDS) {
      this.counters.dropped++;
      return false;
    }
    const start = this.len;
    this.push(flags);
    this.push(px);
    this.push(py);
    this.push(wheel | 0);
    this.lastMove = plainMove ? start : -1;
    this.counters.packets++;
    if (this.packets.size > 0) this.packets.emit({ flags, x: px, y: py, wheel: wheel | 0, coalesced: false });
    return true;
  }

  /** Pop `n` words (the caller checked n ≤ queued). */
  private pop(n: number): number[] {
    const out: number[] = [];
    for (let i = 0; i < n; i++) {
      out.push(this.q[this.head]!);
      this.head = (this.head + 1) % VMMOUSE_QUEUE_WORDS;
      this.len--;
    }
    // The waiting move may have been (partly) read: it can no longer absorb new positions.
    if (this.lastMove >= 0) this.lastMove -= n;
    if (this.lastMove < 0) this.lastMove = -1;
    return out;
  }

  /** ABSPOINTER_DATA: EBX = words wanted. */
  readonly data: CommandHandler = (f, _ctx, out) => {
    const n = f.ebx >>> 0;
    if (n === 0 || n > 6 || n > this.len) {
      this.counters.dataErrors++;
      this.enabled = false;
      this.clear();
      return out;
    }
    const w = this.pop(n);
    const set = [out.eax, out.ebx, out.ecx, out.edx, out.esi, out.edi];
    for (let i = 0; i < w.length; i++) set[i]!.call(out, w[i]!);
    return out;
  };

  /** ABSPOINTER_STATUS: EAX = status << 16 | queued words. */
  readonly status: CommandHandler = (_f, _ctx, out) => out.eax((((this.enabled ? 0 : VMMOUSE_ERROR) << 16) | this.len) >>> 0);

  /** ABSPOINTER_COMMAND: EBX = READ_ID / DISABLE / REQUEST_RELATIVE / REQUEST_ABSOLUTE. */
  readonly command: CommandHandler = (f, _ctx, out) => {
    switch (f.ebx >>> 0) {
      case VmmouseCommand.READ_ID:
        this.enabled = true;
        this.absolute = true;
        this.clear();
        this.push(VMMOUSE_VERSION_ID);
        break;
      case VmmouseCommand.DISABLE:
        this.enabled = false;
        this.clear();
        break;
      case VmmouseCommand.REQUEST_RELATIVE:
        if (this.enabled) this.absolute = false;
        break;
      case VmmouseCommand.REQUEST_ABSOLUTE:
        if (this.enabled) this.absolute = true;
        break;
      default:
        return null; // unknown sub-command: answered as an unknown command
    }
    this.lastMove = -1;
    return out;
  };

  /** ABSPOINTER_RESTRICT: EBX = 0 any / 1 CPL0 / 2 IOPL (recorded). */
  readonly restrictCmd: CommandHandler = (f, _ctx, out) => {
    this.restrict = f.ebx >>> 0;
    return out;
  };

  /** Register commands 39, 40, 41 and 86. */
  register(r: CommandRegistry): void {
    r.register(BdoorCmd.ABSPOINTER_DATA, "ABSPOINTER_DATA", this.data);
    r.register(BdoorCmd.ABSPOINTER_STATUS, "ABSPOINTER_STATUS", this.status);
    r.register(BdoorCmd.ABSPOINTER_COMMAND, "ABSPOINTER_COMMAND", this.command);
    r.register(BdoorCmd.ABSPOINTER_RESTRICT, "ABSPOINTER_RESTRICT", this.restrictCmd);
  }
}
