/**
 * Messages recovered from trace records: what a guest sent over the low-bandwidth message channel and what the
 * host answered, byte for byte, for fixtures (`scripts/rpci-from-trace.ts`) and tests.
 *
 * Emulates: nothing; it replays the LB side of command 30 as recorded in `--trace` files. OPEN's reply names the
 * channel (EDX bits 16–31) and its protocol (EBX at entry: RPCI or TCLO, cookie flag aside); SENDSIZE announces a
 * length in EBX; each SENDPAYLOAD carries up to 4 bytes in EBX, little-endian. In the other direction RECVSIZE's
 * reply gives the length in EBX and each RECVPAYLOAD's reply 4 bytes in EBX. Only steps the host acknowledged
 * (status SUCCESS in ECX bits 16–31) count.
 * Source of truth: open-vm-tools `lib/message/message.c` (the guest side of these steps); `channels/message-channel.ts`
 * (the host side).
 * Does not: recover high-bandwidth transfers (`rep outsb` moves bytes from guest memory, which a trace does not
 * record): capture with the profile's `highBandwidth: false` to force LB.
 */
import { GUESTMSG_FLAG_COOKIE, MessageStatus, MessageType, Protocol } from "../channels/constants.js";
import { BdoorCmd } from "../devices/backdoor/constants.js";
import type { TraceRecord } from "./trace.js";

/** One recovered message. */
export interface TracedMessage {
  /** `guest`: guest → host (an RPCI request, a TCLO result); `host`: host → guest (an RPCI reply, a TCLO command). */
  from: "guest" | "host";
  /** Channel id. */
  channel: number;
  /** `rpci` or `tclo` (as opened), or null when the OPEN is not in the trace. */
  protocol: "rpci" | "tclo" | null;
  /** The message's bytes, in the order they crossed the channel. */
  bytes: Uint8Array;
}

const lo32 = (v: string | undefined): number => (v === undefined ? 0 : Number(BigInt(v) & 0xffffffffn));

/** Every complete guest → host message in `records`, in order. Records of other commands are ignored. */
export function messagesFromTrace(records: Iterable<TraceRecord>): TracedMessage[] {
  const protocols = new Map<number, "rpci" | "tclo">();
  const partial = new Map<number, { size: number; bytes: number[] }>();
  const incoming = new Map<number, { size: number; bytes: number[] }>();
  const out: TracedMessage[] = [];
  for (const r of records) {
    if (r.command !== BdoorCmd.MESSAGE || r.outcome !== "completed") continue;
    const type = r.subcommand;
    const ok = ((lo32(r.regsOut["rcx"]) >>> 16) & MessageStatus.SUCCESS) !== 0;
    if (!ok) continue;
    if (type === MessageType.OPEN) {
      const proto = (lo32(r.regsIn["rbx"]) & ~GUESTMSG_FLAG_COOKIE) >>> 0;
      const id = lo32(r.regsOut["rdx"]) >>> 16;
      if (proto === Protocol.RPCI) protocols.set(id, "rpci");
      else if (proto === Protocol.TCLO) protocols.set(id, "tclo");
      continue;
    }
    const channel = lo32(r.regsIn["rdx"]) >>> 16;
    if (type === MessageType.SENDSIZE) {
      const size = lo32(r.regsIn["rbx"]);
      if (size === 0) out.push({ from: "guest", channel, protocol: protocols.get(channel) ?? null, bytes: new Uint8Array(0) });
      else partial.set(channel, { size, bytes: [] });
    } else if (type === MessageType.SENDPAYLOAD) {
      const p = partial.get(channel);
      if (p === undefined) continue;
      const word = lo32(r.regsIn["rbx"]);
      for (let i = 0; i < 4 && p.bytes.length < p.size; i++) p.bytes.push((word >>> (8 * i)) & 0xff);
      if (p.bytes.length === p.size) {
        out.push({ from: "guest", channel, protocol: protocols.get(channel) ?? null, bytes: Uint8Array.from(p.bytes) });
        partial.delete(channel);
      }
    } else if (type === MessageType.RECVSIZE) {
      // Only a reply with DORECV set announces a message; its size is in EBX.
      if (((lo32(r.regsOut["rcx"]) >>> 16) & MessageStatus.DORECV) === 0) continue;
      const size = lo32(r.regsOut["rbx"]);
      if (size === 0) out.push({ from: "host", channel, protocol: protocols.get(channel) ?? null, bytes: new Uint8Array(0) });
      else incoming.set(channel, { size, bytes: [] });
    } else if (type === MessageType.RECVPAYLOAD) {
      const p = incoming.get(channel);
      if (p === undefined) continue;
      const word = lo32(r.regsOut["rbx"]);
      for (let i = 0; i < 4 && p.bytes.length < p.size; i++) p.bytes.push((word >>> (8 * i)) & 0xff);
      if (p.bytes.length === p.size) {
        out.push({ from: "host", channel, protocol: protocols.get(channel) ?? null, bytes: Uint8Array.from(p.bytes) });
        incoming.delete(channel);
      }
    } else if (type === MessageType.CLOSE) {
      partial.delete(channel);
      incoming.delete(channel);
      protocols.delete(channel);
    }
  }
  return out;
}
