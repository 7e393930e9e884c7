/**
 * Guest-side RPCI over the message channel: one channel per command (like `RpcOut_sendOne`), HB when the host
 * offers it and LB otherwise, cookies with a retry without them, typed errors for every protocol failure.
 *
 * Emulates: open-vm-tools `lib/message/message.c` + `lib/rpcOut/rpcout.c` for Node. Source of truth:
 * `protocol.md` §5.
 * Does not: keep channels open across commands, or implement TCLO (a guest agent loop).
 */
import { VmportError } from "../core/errors.js";
import { HB_PORT, LB_PORT, call } from "./backdoor.js";
import { stubs } from "./stubs.js";

const CMD_MESSAGE = 30;
const RPCI = 0x49435052;
const COOKIE = 0x80000000;
const SUCCESS = 0x1;
const DORECV = 0x2;
const HB = 0x80;
/** Largest message either way (`GUESTMSG_MAX_IN_SIZE`). */
export const MAX_MESSAGE = 65536;

/** A reply: `ok` from the "1 "/"0 " prefix, `text` after it. */
export interface RpcReply {
  ok: boolean;
  text: string;
  /** Raw reply bytes after the 2-byte prefix. */
  bytes: Uint8Array;
}

function fail(step: string): never {
  throw new VmportError("VMPORT_GUEST_RPC", `message channel: ${step} failed`);
}

/** Options for {@link rpc}. */
export interface RpcOptions {
  /** Use HB when offered (default true). */
  hb?: boolean;
}

/** Send one RPCI command and return the host's reply. */
export function rpc(command: string | Uint8Array, o: RpcOptions = {}): RpcReply {
  const msg = typeof command === "string" ? new TextEncoder().encode(command) : command;
  if (msg.length > MAX_MESSAGE) throw new VmportError("VMPORT_BAD_ARGUMENT", `RPCI command of ${msg.length} bytes exceeds ${MAX_MESSAGE}`);
  // OPEN with the cookie flag; retry without it (as open-vm-tools does).
  let id = -1;
  let hi = 0;
  let lo = 0;
  for (const flags of [COOKIE, 0]) {
    const r = call("in", { ebx: (RPCI | flags) >>> 0, ecx: CMD_MESSAGE, edx: LB_PORT });
    if ((r.ecx >>> 16) & SUCCESS) {
      id = r.edx >>> 16;
      if (flags) {
        hi = r.esi;
        lo = r.edi;
      }
      break;
    }
  }
  if (id < 0) fail("OPEN");
  const lb = (type: number, ebx: number) => call("in", { ebx, ecx: (type << 16) | CMD_MESSAGE, edx: (id << 16) | LB_PORT, esi: hi, edi: lo });
  try {
    const s = lb(1, msg.length);
    if (!((s.ecx >>> 16) & SUCCESS)) fail("SENDSIZE");
    const useHb = o.hb !== false && ((s.ecx >>> 16) & HB) !== 0;
    if (msg.length > 0 && useHb) {
      stubs().buf.set(msg);
      const r = call("outsb", { ebx: 0x10000, ecx: msg.length, edx: (id << 16) | HB_PORT, edi: lo, ebp: hi }, { buffer: true });
      if (!((r.ebx >>> 16) & SUCCESS)) fail("HB send");
    } else {
      for (let i = 0; i < msg.length; i += 4) {
        let w = 0;
        for (let k = 0; k < 4 && i + k < msg.length; k++) w |= msg[i + k]! << (8 * k);
        if (!((lb(2, w >>> 0).ecx >>> 16) & SUCCESS)) fail("SENDPAYLOAD");
      }
    }
    const rs = lb(3, 0);
    const st = rs.ecx >>> 16;
    if (!(st & SUCCESS)) fail("RECVSIZE");
    if (!(st & DORECV) || rs.edx >>> 16 !== 1) fail("RECVSIZE (no reply)");
    const size = rs.ebx;
    if (size > MAX_MESSAGE) fail(`RECVSIZE (${size} bytes)`);
    let reply: Uint8Array;
    if (size > 0 && o.hb !== false && st & HB) {
      const r = call("insb", { ebx: 0x10000, ecx: size, edx: (id << 16) | HB_PORT, esi: hi, ebp: lo }, { buffer: true });
      if (!((r.ebx >>> 16) & SUCCESS)) fail("HB receive");
      reply = stubs().buf.slice(0, size);
    } else {
      reply = new Uint8Array(size);
      for (let i = 0; i < size; i += 4) {
        const p = lb(4, SUCCESS);
        if (!((p.ecx >>> 16) & SUCCESS) || p.edx >>> 16 !== 2) fail("RECVPAYLOAD");
        for (let k = 0; k < 4 && i + k < size; k++) reply[i + k] = (p.ebx >>> (8 * k)) & 0xff;
      }
    }
    lb(5, SUCCESS);
    if (reply.length < 2 || (reply[0] !== 0x31 && reply[0] !== 0x30)) fail("reply format");
    const bytes = reply.subarray(2);
    return { ok: reply[0] === 0x31, text: new TextDecoder().decode(bytes), bytes };
  } finally {
    lb(6, 0);
  }
}
