/**
 * The backdoor message channel: command 30 on the LB port and `rep outsb`/`rep insb` on the HB port.
 *
 * Emulates: the VMX side of `lib/message/message.c` (open-vm-tools): OPEN with or without cookies, SENDSIZE and
 * SENDPAYLOAD (or one HB `rep outsb`), RECVSIZE and RECVPAYLOAD (or one HB `rep insb`), RECVSTATUS, CLOSE; status
 * in ECX bits 16–31 (LB) or EBX bits 16–31 (HB), channel id in EDX bits 16–31, cookies in ESI/EDI (LB) and
 * EDI/EBP or ESI/EBP (HB, by direction). A failed step returns ECX = 0 (LB) or EBX = 0 (HB): Rust `vmw_backdoor`
 * tests the whole register. A wrong id or cookie fails only that step; other channels are untouched.
 * Accepted because real clients do it (`docs/protocol.md` §4, "Quirks"): SENDSIZE 0, no RECVSTATUS (the next SENDSIZE or
 * CLOSE drops the reply), CLOSE with an unread reply, garbage in OPEN's EDX high/ESI/EDI, a retry without the
 * cookie flag, HB used without checking the HB bit.
 * Source of truth: `docs/protocol.md` §4; `docs/clients.md` (vmware-rpctool, Go vmw-guestinfo, Rust vmw_backdoor).
 * Does not: interpret messages (the RPCI dispatcher and the TCLO queue do, as {@link ChannelEndpoint}s), set CPT
 * (vmport never checkpoints), or implement the vmcall/vmmcall transport.
 */
import type { Clock } from "../core/clock.js";
import type { RandomSource } from "../core/random.js";
import { utf8 } from "../core/text.js";
import { Reg } from "../x86/registers.js";
import type { PortAccess } from "../bus/port-device.js";
import { BDOOR_MAGIC } from "../devices/backdoor/constants.js";
import type { CommandHandler, RegisterPatch } from "../devices/backdoor/command-registry.js";
import type { HbTransferHandler } from "../devices/backdoor/hb-device.js";
import type { AnswerHooks } from "../devices/answer-hooks.js";
import { packLe32, unpackLe32 } from "../core/bytes.js";
import {
  BDOORHB_CMD_MESSAGE,
  CHANNEL_IDLE_TIMEOUT_NS,
  GUESTMSG_FLAG_COOKIE,
  MAX_MESSAGE_SIZE,
  MAX_REPLY_SIZE,
  MessageStatus,
  MessageType,
  Protocol,
} from "./constants.js";

/** Which protocol a channel speaks. */
export type ChannelProtocol = "rpci" | "tclo";

/** One open channel. Read-only outside this module. */
export class Channel {
  /** Message bytes being received from the guest, or null. */
  send: Uint8Array | null = null;
  /** Bytes of {@link send} filled so far. */
  sendPos = 0;
  /** Message waiting for the guest (a reply or a TCLO command), or null. */
  reply: Uint8Array | null = null;
  /** Bytes of {@link reply} the guest has read. */
  replyPos = 0;
  /** VM monotonic time of the last step on this channel. */
  lastActiveNs: bigint;

  constructor(
    /** Channel id (0 … maxChannels − 1). */
    readonly id: number,
    /** Protocol chosen at OPEN. */
    readonly protocol: ChannelProtocol,
    /** True when opened with `GUESTMSG_FLAG_COOKIE`: every later step must present the cookies. */
    readonly usesCookies: boolean,
    /** Cookie returned in ESI. */
    readonly cookieHigh: number,
    /** Cookie returned in EDI. */
    readonly cookieLow: number,
    now: bigint,
  ) {
    this.lastActiveNs = now;
  }
}

/** What a protocol does with the messages of its channels. */
export interface ChannelEndpoint {
  /** A complete guest → host message. Return the reply to offer the guest, or null for none. */
  onGuestMessage(ch: Channel, message: Uint8Array): Uint8Array | null;
  /** RECVSIZE found no pending reply: return a host → guest message to offer now, or null. */
  pollHostMessage(ch: Channel): Uint8Array | null;
  /** The channel was opened. */
  onOpen?(ch: Channel): void;
  /** The channel was closed by the guest or reclaimed. */
  onClose?(ch: Channel): void;
}

/** Options of {@link MessageChannels}. */
export interface MessageChannelOptions {
  /** Channels open at once (profile `maxChannels`). */
  maxChannels: number;
  /** Advertise HB in SENDSIZE/RECVSIZE replies (profile `highBandwidth`). HB works either way. */
  highBandwidth: boolean;
  /** VM clock (idle reclaim). */
  clock: Clock;
  /** Cookie source (a CSPRNG outside tests). */
  random: RandomSource;
  /** RPCI endpoint. */
  rpci: ChannelEndpoint;
  /** TCLO endpoint. */
  tclo: ChannelEndpoint;
}

/** Guest misbehaviour and traffic, counted. */
export interface MessageChannelCounters {
  /** Channels opened. */
  opens: number;
  /** Channels closed by the guest. */
  closes: number;
  /** OPEN refused: bad protocol or flags, or no free slot. */
  openFailures: number;
  /** Idle channels reclaimed to make room for an OPEN. */
  reclaimed: number;
  /** Steps naming a channel that is not open. */
  badChannel: number;
  /** Steps with the wrong cookies. */
  badCookie: number;
  /** SENDSIZE above {@link MAX_MESSAGE_SIZE}. */
  oversize: number;
  /** Steps out of sequence (payload without SENDSIZE, reading past the reply, HB beyond the announced size…). */
  sequenceErrors: number;
  /** Unknown message types or HB commands. */
  unknownType: number;
  /** Complete guest → host messages. */
  messages: number;
  /** Replies dropped unread (by SENDSIZE or CLOSE). */
  repliesDropped: number;
  /** Bytes moved over HB in each direction. */
  hbBytesOut: number;
  /** Bytes moved host → guest over HB (`rep insb`). */
  hbBytesIn: number;
}

const EMPTY = new Uint8Array(0);

/** The channel table of one VM. */
export class MessageChannels implements HbTransferHandler {
  /** Answer hooks (`vmport fuzz`), or null. */
  hooks: AnswerHooks | null = null;
  /** Counters. */
  readonly counters: MessageChannelCounters = {
    opens: 0,
    closes: 0,
    openFailures: 0,
    reclaimed: 0,
    badChannel: 0,
    badCookie: 0,
    oversize: 0,
    sequenceErrors: 0,
    unknownType: 0,
    messages: 0,
    repliesDropped: 0,
    hbBytesOut: 0,
    hbBytesIn: 0,
  };
  private readonly table: (Channel | undefined)[];
  private readonly cookieBytes = new Uint8Array(8);

  constructor(private readonly o: MessageChannelOptions) {
    this.table = new Array<Channel | undefined>(o.maxChannels).fill(undefined);
  }

  /** Open channels, by id. */
  channels(): Channel[] {
    return this.table.filter((c): c is Channel => c !== undefined);
  }

  /** Host-side memory held in channel buffers (bounded by maxChannels × (64 KiB + 64 KiB)). */
  bufferedBytes(): number {
    let n = 0;
    for (const c of this.table) if (c) n += (c.send?.length ?? 0) + (c.reply?.length ?? 0);
    return n;
  }

  /** The LB handler for backdoor command 30; register it in the command registry. */
  readonly handleCommand: CommandHandler = (f, _ctx, out) => {
    const type = f.ecx >>> 16;
    if (type === MessageType.OPEN) return this.open(f.ebx, f.edx, out);
    if (type > MessageType.CLOSE) {
      this.counters.unknownType++;
      return out.ecx(0);
    }
    const ch = this.lookup(f.edx >>> 16, f.esi, f.edi);
    if (ch === null) return out.ecx(0);
    switch (type) {
      case MessageType.SENDSIZE:
        return this.sendSize(ch, f.ebx, out);
      case MessageType.SENDPAYLOAD:
        return this.sendPayload(ch, f.ebx, out);
      case MessageType.RECVSIZE:
        return this.recvSize(ch, f.edx, out);
      case MessageType.RECVPAYLOAD:
        return this.recvPayload(ch, f.edx, out);
      case MessageType.RECVSTATUS:
        if (ch.reply === null) return this.sequenceError(out);
        if (f.ebx & MessageStatus.SUCCESS) ch.reply = null;
        else ch.replyPos = 0; // the guest failed to take it: offer it again
        return ok(out, MessageStatus.SUCCESS);
      default: // CLOSE
        this.close(ch);
        return ok(out, MessageStatus.SUCCESS);
    }
  };

  private open(ebx: number, edx: number, out: RegisterPatch): RegisterPatch {
    const flags = ebx & GUESTMSG_FLAG_COOKIE;
    const proto = (ebx & ~GUESTMSG_FLAG_COOKIE) >>> 0;
    const protocol: ChannelProtocol | null = proto === Protocol.RPCI ? "rpci" : proto === Protocol.TCLO ? "tclo" : null;
    if (protocol === null) {
      this.counters.openFailures++;
      return out.ecx(0);
    }
    let id = this.table.indexOf(undefined);
    if (id < 0) id = this.reclaimIdle();
    if (id < 0) {
      this.counters.openFailures++;
      return out.ecx(0);
    }
    let high = 0;
    let low = 0;
    if (flags !== 0) {
      this.o.random.fill(this.cookieBytes);
      const b = this.cookieBytes;
      high = packLe32(b, 0);
      low = packLe32(b, 4);
    }
    const ch = new Channel(id, protocol, flags !== 0, high, low, this.o.clock.monotonicNs());
    this.table[id] = ch;
    this.counters.opens++;
    this.endpoint(ch).onOpen?.(ch);
    out.ecx(MessageStatus.SUCCESS << 16).edx(((id << 16) | (edx & 0xffff)) >>> 0);
    return flags !== 0 ? out.esi(high).edi(low) : out;
  }

  /** Close the least recently used channel idle for at least the timeout; returns its id or -1. */
  private reclaimIdle(): number {
    const now = this.o.clock.monotonicNs();
    let victim: Channel | undefined;
    for (const c of this.table) {
      if (c && now - c.lastActiveNs >= CHANNEL_IDLE_TIMEOUT_NS && (!victim || c.lastActiveNs < victim.lastActiveNs)) victim = c;
    }
    if (!victim) return -1;
    this.counters.reclaimed++;
    this.close(victim);
    return victim.id;
  }

  private close(ch: Channel): void {
    if (ch.reply !== null && ch.replyPos < ch.reply.length) this.counters.repliesDropped++;
    this.table[ch.id] = undefined;
    this.counters.closes++;
    this.endpoint(ch).onClose?.(ch);
  }

  private endpoint(ch: Channel): ChannelEndpoint {
    return ch.protocol === "rpci" ? this.o.rpci : this.o.tclo;
  }

  /** The open channel `id` if the cookies match (when it uses them), else null (counted). */
  private lookup(id: number, high: number, low: number): Channel | null {
    const ch = id < this.table.length ? this.table[id] : undefined;
    if (ch === undefined) {
      this.counters.badChannel++;
      return null;
    }
    if (ch.usesCookies && (high !== ch.cookieHigh || low !== ch.cookieLow)) {
      this.counters.badCookie++;
      return null;
    }
    ch.lastActiveNs = this.o.clock.monotonicNs();
    return ch;
  }

  private hbBit(): number {
    return this.o.highBandwidth ? MessageStatus.HB : 0;
  }

  private sendSize(ch: Channel, size: number, out: RegisterPatch): RegisterPatch {
    if (size > MAX_MESSAGE_SIZE) {
      this.counters.oversize++;
      return out.ecx(0);
    }
    if (ch.reply !== null) {
      // No RECVSTATUS (Rust) or an unread reply: a new message supersedes it.
      if (ch.replyPos < ch.reply.length) this.counters.repliesDropped++;
      ch.reply = null;
    }
    if (size === 0) {
      ch.send = null;
      this.complete(ch, EMPTY);
    } else {
      ch.send = new Uint8Array(size);
      ch.sendPos = 0;
    }
    return ok(out, MessageStatus.SUCCESS | this.hbBit());
  }

  private sendPayload(ch: Channel, word: number, out: RegisterPatch): RegisterPatch {
    const buf = ch.send;
    if (buf === null) return this.sequenceError(out);
    // The next ≤ 4 bytes, little-endian: a 1–3 byte tail sits in the low bytes.
    unpackLe32(word, buf, ch.sendPos);
    ch.sendPos = Math.min(ch.sendPos + 4, buf.length);
    if (ch.sendPos === buf.length) {
      ch.send = null;
      this.complete(ch, buf);
    }
    return ok(out, MessageStatus.SUCCESS);
  }

  private complete(ch: Channel, message: Uint8Array): void {
    this.counters.messages++;
    const reply = this.endpoint(ch).onGuestMessage(ch, message);
    this.offer(ch, reply);
  }

  private offer(ch: Channel, reply: Uint8Array | null): void {
    if (reply !== null && reply.length > MAX_REPLY_SIZE) reply = utf8("0 Reply too long");
    ch.reply = reply;
    ch.replyPos = 0;
  }

  private recvSize(ch: Channel, edx: number, out: RegisterPatch): RegisterPatch {
    if (ch.reply === null) this.offer(ch, this.endpoint(ch).pollHostMessage(ch));
    const r = ch.reply;
    if (r === null) return ok(out, MessageStatus.SUCCESS);
    ch.replyPos = 0;
    // EDX high = 1: the host "sends" with SENDSIZE; clients check it.
    return ok(out, MessageStatus.SUCCESS | MessageStatus.DORECV | this.hbBit())
      .edx(((MessageType.SENDSIZE << 16) | (edx & 0xffff)) >>> 0)
      .ebx(r.length);
  }

  private recvPayload(ch: Channel, edx: number, out: RegisterPatch): RegisterPatch {
    const r = ch.reply;
    if (r === null || ch.replyPos >= r.length) return this.sequenceError(out);
    const v = packLe32(r, ch.replyPos);
    ch.replyPos = Math.min(ch.replyPos + 4, r.length);
    return ok(out, MessageStatus.SUCCESS)
      .edx(((MessageType.SENDPAYLOAD << 16) | (edx & 0xffff)) >>> 0)
      .ebx(v >>> 0);
  }

  private sequenceError(out: RegisterPatch): RegisterPatch {
    this.counters.sequenceErrors++;
    return out.ecx(0);
  }

  /**
   * HB guest → host (`rep outsb` to 0x5659): EBX = 0x00010000 (CMD_MESSAGE, SUCCESS), ECX = count,
   * EDX high = id, ESI = buffer, EDI = cookie low, EBP = cookie high. Result in EBX (on `out`): 0x00010000 or 0.
   */
  transferOut(access: PortAccess, src: Uint8Array, out: RegisterPatch): RegisterPatch {
    const regs = access.regs;
    if (regs === null || regs.lo(Reg.RAX) !== BDOOR_MAGIC) return out; // not a backdoor call: the data is dropped
    const ch = this.hbChannel(regs.lo(Reg.RBX), regs.lo(Reg.RDX), regs.lo(Reg.RBP), regs.lo(Reg.RDI));
    if (ch === null || this.hooks?.hbFail("out", src.length) === true) return out.ebx(0);
    const buf = ch.send;
    if (buf === null || src.length > buf.length - ch.sendPos) {
      this.counters.sequenceErrors++;
      return out.ebx(0);
    }
    buf.set(src, ch.sendPos);
    ch.sendPos += src.length;
    this.counters.hbBytesOut += src.length;
    if (ch.sendPos === buf.length) {
      ch.send = null;
      this.complete(ch, buf);
    }
    return out.ebx(MessageStatus.SUCCESS << 16);
  }

  /**
   * HB host → guest (`rep insb` from 0x5659): EBX = 0x00010000, ECX = count, EDX high = id, ESI = cookie high,
   * EDI = buffer, EBP = cookie low. Result in EBX: 0x00010000 or 0 (then the buffer receives zeros past the reply).
   */
  transferIn(access: PortAccess, dst: Uint8Array, out: RegisterPatch): RegisterPatch {
    const regs = access.regs;
    if (regs === null || regs.lo(Reg.RAX) !== BDOOR_MAGIC) {
      dst.fill(0xff); // not a backdoor call: an empty port
      return out;
    }
    const ch = this.hbChannel(regs.lo(Reg.RBX), regs.lo(Reg.RDX), regs.lo(Reg.RSI), regs.lo(Reg.RBP));
    const r = ch?.reply ?? null;
    if (ch === null || r === null || this.hooks?.hbFail("in", dst.length) === true) {
      if (ch !== null && r === null) this.counters.sequenceErrors++;
      dst.fill(0);
      return out.ebx(0);
    }
    const n = Math.min(dst.length, r.length - ch.replyPos);
    dst.set(r.subarray(ch.replyPos, ch.replyPos + n));
    dst.fill(0, n);
    ch.replyPos += n;
    this.counters.hbBytesIn += n;
    if (n < dst.length) {
      this.counters.sequenceErrors++;
      return out.ebx(0);
    }
    return out.ebx(MessageStatus.SUCCESS << 16);
  }

  private hbChannel(ebx: number, edx: number, high: number, low: number): Channel | null {
    if ((ebx & 0xffff) !== BDOORHB_CMD_MESSAGE) {
      this.counters.unknownType++;
      return null;
    }
    return this.lookup(edx >>> 16, high, low);
  }
}

function ok(out: RegisterPatch, status: number): RegisterPatch {
  return out.ecx(status << 16);
}
