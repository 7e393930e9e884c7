/**
 * The guest side of the message channel (backdoor command 30 and the HB port), over any way of executing backdoor
 * instructions: the Node guest library runs real `in`/`rep outsb` (`src/guest/rpc.ts`), the tests run instruction
 * bytes through the VM's #GP intercept (`src/test-support/backdoor-client.ts`). One implementation, so the protocol is
 * written down once on each side.
 *
 * Emulates: open-vm-tools `lib/message/message.c` (OPEN with the cookie flag and a retry without it, SENDSIZE,
 * payload over HB when the host offers it or 4 bytes per LB call, RECVSIZE, RECVPAYLOAD, RECVSTATUS, CLOSE) and
 * `lib/rpcOut/rpcout.c` (`RpcOut_sendOne`: one channel per command). With a {@link ClientStyle} it also behaves as
 * other real clients do: Rust `vmw_backdoor` (LB through `out`, HB always, no RECVSTATUS, failure when ECX or EBX
 * is 0), Go `vmw-guestinfo` (its 3-byte-tail packing bug), open-vm-tools' garbage in unused OPEN inputs.
 * Source of truth: `docs/protocol.md` (message channel), `docs/clients.md`.
 * Does not: execute anything itself; keep state across channels; run a TCLO loop (a caller polls with
 * send/receive).
 */
import { packLe32, unpackLe32 } from "../core/bytes.js";
import { BDOOR_MAGIC, BDOOR_PORT, BDOORHB_PORT, BdoorCmd } from "../devices/backdoor/constants.js";
import { GUESTMSG_FLAG_COOKIE, MAX_MESSAGE_SIZE, MessageStatus, MessageType, Protocol } from "./constants.js";

/** The seven registers the backdoor protocol uses (low 32 bits each). */
export interface Regs32 {
  /** EAX (the magic on entry). */
  eax: number;
  /** EBX. */
  ebx: number;
  /** ECX (command | message type << 16 on entry; status << 16 on return). */
  ecx: number;
  /** EDX (port | channel id << 16). */
  edx: number;
  /** ESI. */
  esi: number;
  /** EDI. */
  edi: number;
  /** EBP (HB only). */
  ebp: number;
}

/** How a guest executes backdoor instructions. Missing registers are 0; EAX is always the magic here. */
export interface BackdoorTransport {
  /** One 32-bit IN (or OUT, when `out`) on the LB port with these registers; the registers after. */
  lb(r: Regs32, out: boolean): Regs32;
  /** `rep outsb` of `data` to the HB port: RSI points at a copy of `data`, the other registers as given. */
  hbSend(r: Regs32, data: Uint8Array): Regs32;
  /** `rep insb` of `size` bytes from the HB port into a buffer RDI points at; the registers after and the bytes. */
  hbReceive(r: Regs32, size: number): { regs: Regs32; data: Uint8Array };
}

/** Options that model one real client's habits (all off: open-vm-tools). */
export interface ClientStyle {
  /** Use `out` instead of `in` for LB calls (Rust vmw_backdoor). */
  useOut?: boolean;
  /** Use HB when offered (open-vm-tools, Go; the default), always (Rust), or never. */
  hb?: "offered" | "always" | "never";
  /** Send RECVSTATUS after a receive (everyone but Rust; default true). */
  recvStatus?: boolean;
  /** Pack a 3-byte LB tail as {0, b2, b1, b0} (Go vmw-guestinfo's bug). */
  goTailBug?: boolean;
  /** Garbage for unused OPEN inputs (open-vm-tools leaves EDX high 0x2020, leftover ESI/EDI). */
  openGarbage?: boolean;
}

const status = (ecx: number): number => ecx >>> 16;

/** One message channel, driven as a guest does. Failures return false (or null) and name the step in `failedStep`. */
export class MessageClient {
  /** Channel id from OPEN, or -1. */
  id = -1;
  /** High cookie from OPEN (ESI), 0 without cookies. */
  cookieHigh = 0;
  /** Low cookie from OPEN (EDI), 0 without cookies. */
  cookieLow = 0;
  /** EDX as returned by OPEN (Rust keeps the whole register). */
  openEdx = 0;
  /** The step that failed last (`OPEN`, `SENDSIZE`, `HB send`, `SENDPAYLOAD`, `RECVSIZE`, …), or null. */
  failedStep: string | null = null;

  constructor(
    readonly transport: BackdoorTransport,
    readonly style: ClientStyle = {},
  ) {}

  private fail(step: string): false {
    this.failedStep = step;
    return false;
  }

  private call(r: Partial<Regs32>): Regs32 {
    return this.transport.lb({ eax: BDOOR_MAGIC, ebx: 0, ecx: 0, edx: 0, esi: 0, edi: 0, ebp: 0, ...r }, this.style.useOut === true);
  }

  private edx(port: number): number {
    return this.style.useOut ? ((this.openEdx & 0xffff0000) | port) >>> 0 : ((this.id << 16) | port) >>> 0;
  }

  private step(type: number, ebx: number): Regs32 {
    return this.call({
      ecx: ((type << 16) | BdoorCmd.MESSAGE) >>> 0,
      ebx: ebx >>> 0,
      edx: this.edx(BDOOR_PORT),
      esi: this.cookieHigh,
      edi: this.cookieLow,
    });
  }

  /** OPEN with the cookie flag, retrying without it on failure. Returns false if both fail. */
  open(proto: number): boolean {
    for (const flags of [GUESTMSG_FLAG_COOKIE, 0]) {
      const garbage = this.style.openGarbage ? { edx: 0x2020_0000 | BDOOR_PORT, esi: 0xdeadbeef, edi: 0xfeedface } : { edx: BDOOR_PORT };
      const out = this.call({ ecx: BdoorCmd.MESSAGE, ebx: (proto | flags) >>> 0, ...garbage });
      if (status(out.ecx) & MessageStatus.SUCCESS) {
        this.id = out.edx >>> 16;
        this.openEdx = out.edx;
        if (flags) {
          this.cookieHigh = out.esi;
          this.cookieLow = out.edi;
        }
        this.failedStep = null;
        return true;
      }
    }
    return this.fail("OPEN");
  }

  /** Send a message. */
  send(msg: Uint8Array): boolean {
    const r = this.step(MessageType.SENDSIZE, msg.length);
    if (this.style.useOut ? r.ecx === 0 : (status(r.ecx) & MessageStatus.SUCCESS) === 0) return this.fail("SENDSIZE");
    if (msg.length === 0) return true;
    const hbOffered = (status(r.ecx) & MessageStatus.HB) !== 0;
    if (this.style.hb === "always" || (this.style.hb !== "never" && hbOffered)) {
      const o = this.transport.hbSend(
        {
          eax: BDOOR_MAGIC,
          ebx: 0x00010000,
          ecx: msg.length,
          edx: this.edx(BDOORHB_PORT),
          esi: 0,
          edi: this.cookieLow,
          ebp: this.cookieHigh,
        },
        msg,
      );
      return o.ebx !== 0 && (status(o.ebx) & MessageStatus.SUCCESS) !== 0 ? true : this.fail("HB send");
    }
    for (let i = 0; i < msg.length; i += 4) {
      const n = Math.min(4, msg.length - i);
      const w =
        n === 3 && this.style.goTailBug
          ? ((msg[i]! << 24) | (msg[i + 1]! << 16) | (msg[i + 2]! << 8)) >>> 0 /* {0, b2, b1, b0} */
          : packLe32(msg, i, n);
      if ((status(this.step(MessageType.SENDPAYLOAD, w).ecx) & MessageStatus.SUCCESS) === 0) return this.fail("SENDPAYLOAD");
    }
    return true;
  }

  /** Receive a message: null when none is waiting, false on failure. */
  receive(): Uint8Array | null | false {
    const r = this.step(MessageType.RECVSIZE, 0x12345678 /* garbage, as clients leave it */);
    const st = status(r.ecx);
    if ((st & MessageStatus.SUCCESS) === 0) return this.fail("RECVSIZE");
    if (this.style.hb !== "always" && (st & MessageStatus.DORECV) === 0) return null;
    if (this.style.hb !== "always" && r.edx >>> 16 !== MessageType.SENDSIZE) return this.fail("RECVSIZE (not a reply)");
    const size = r.ebx >>> 0;
    if (size === 0 && (st & MessageStatus.DORECV) === 0) return null;
    if (size > MAX_MESSAGE_SIZE) return this.fail(`RECVSIZE (${size} bytes)`);
    let data: Uint8Array;
    // HB when offered and there is something to move (open-vm-tools); Rust always uses it.
    if (this.style.hb === "always" || (size > 0 && this.style.hb !== "never" && (st & MessageStatus.HB) !== 0)) {
      const o = this.transport.hbReceive(
        { eax: BDOOR_MAGIC, ebx: 0x00010000, ecx: size, edx: this.edx(BDOORHB_PORT), esi: this.cookieHigh, edi: 0, ebp: this.cookieLow },
        size,
      );
      if (o.regs.ebx === 0 || (status(o.regs.ebx) & MessageStatus.SUCCESS) === 0) return this.fail("HB receive");
      data = o.data;
    } else {
      data = new Uint8Array(size);
      for (let i = 0; i < size; i += 4) {
        const p = this.step(MessageType.RECVPAYLOAD, MessageStatus.SUCCESS);
        if ((status(p.ecx) & MessageStatus.SUCCESS) === 0 || p.edx >>> 16 !== MessageType.SENDPAYLOAD) return this.fail("RECVPAYLOAD");
        unpackLe32(p.ebx, data, i);
      }
    }
    if (this.style.recvStatus !== false) this.step(MessageType.RECVSTATUS, MessageStatus.SUCCESS);
    return data;
  }

  /** CLOSE the channel. */
  close(): boolean {
    return (status(this.step(MessageType.CLOSE, 0).ecx) & MessageStatus.SUCCESS) !== 0 ? true : this.fail("CLOSE");
  }
}

/**
 * `RpcOut_sendOne`: open an RPCI channel, send `command`, read the reply, close. Returns the reply bytes, or the
 * step that failed.
 */
export function rpcOnce(
  t: BackdoorTransport,
  command: Uint8Array,
  style: ClientStyle = {},
): { reply: Uint8Array } | { failedStep: string } {
  const ch = new MessageClient(t, style);
  if (!ch.open(Protocol.RPCI)) return { failedStep: ch.failedStep ?? "OPEN" };
  try {
    if (!ch.send(command)) return { failedStep: ch.failedStep ?? "send" };
    const r = ch.receive();
    if (r === null) return { failedStep: "RECVSIZE (no reply)" };
    if (r === false) return { failedStep: ch.failedStep ?? "receive" };
    return { reply: r };
  } finally {
    ch.close();
  }
}
