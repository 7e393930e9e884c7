/**
 * Guest-side RPCI over the message channel: one channel per command (like `RpcOut_sendOne`), HB when the host
 * offers it and LB otherwise, cookies with a retry without them, typed errors for every protocol failure.
 *
 * Emulates: open-vm-tools `lib/message/message.c` + `lib/rpcOut/rpcout.c` for Node, with the one message-channel
 * client vmport has (`channels/message-client.ts`) over real backdoor instructions. Source of truth:
 * `docs/protocol.md`.
 * Does not: keep channels open across commands, or implement TCLO (a guest agent loop).
 */
import { VmportError } from "../core/errors.js";
import { MAX_MESSAGE_SIZE } from "../channels/constants.js";
import { rpcOnce, type BackdoorTransport } from "../channels/message-client.js";
import { call } from "./backdoor.js";
import { stubs } from "./stubs.js";

/** Largest message either way (`GUESTMSG_MAX_IN_SIZE`). */
export const MAX_MESSAGE = MAX_MESSAGE_SIZE;

/** A reply: `ok` from the "1 "/"0 " prefix, `text` after it. */
export interface RpcReply {
  /** True for a "1 " reply, false for "0 ". */
  ok: boolean;
  /** The reply after the 2-byte prefix, as UTF-8 text. */
  text: string;
  /** Raw reply bytes after the 2-byte prefix. */
  bytes: Uint8Array;
}

/** Options for {@link rpc}. */
export interface RpcOptions {
  /** Use HB when offered (default true). */
  hb?: boolean;
}

/** The backdoor as this process executes it: real instructions through the native stubs (`stubs.ts`). */
const nativeTransport: BackdoorTransport = {
  lb: (r, out) => call(out ? "out" : "in", r),
  hbSend: (r, data) => {
    stubs().buf.set(data);
    return call("outsb", r, { buffer: true });
  },
  hbReceive: (r, size) => {
    const regs = call("insb", r, { buffer: true });
    return { regs, data: stubs().buf.slice(0, size) };
  },
};

/** Send one RPCI command (one channel, as `RpcOut_sendOne`) and return the host's reply. */
export function rpc(command: string | Uint8Array, o: RpcOptions = {}): RpcReply {
  const msg = typeof command === "string" ? new TextEncoder().encode(command) : command;
  if (msg.length > MAX_MESSAGE) throw new VmportError("VMPORT_BAD_ARGUMENT", `RPCI command of ${msg.length} bytes exceeds ${MAX_MESSAGE}`);
  const r = rpcOnce(nativeTransport, msg, { hb: o.hb === false ? "never" : "offered" });
  if ("failedStep" in r) throw new VmportError("VMPORT_GUEST_RPC", `message channel: ${r.failedStep} failed`);
  const reply = r.reply;
  if (reply.length < 2 || (reply[0] !== 0x31 && reply[0] !== 0x30))
    throw new VmportError("VMPORT_GUEST_RPC", "message channel: reply format failed");
  const bytes = reply.subarray(2);
  return { ok: reply[0] === 0x31, text: new TextDecoder().decode(bytes), bytes };
}
