/**
 * RPCI: guest → host requests over the message channel, dispatched by command name to a handler registry.
 *
 * Emulates: the VMX's GuestRpc dispatcher. A request is bytes: a command name, then (after one space) arguments
 * that may be binary. For text commands one trailing NUL is stripped (`RpcChannel_Send` users append one;
 * `RpcOut_sendOne` does not); commands registered as binary (`SetGuestInfo` with XDR bodies, the namespace
 * database) get every byte after the space, because their payloads legitimately end in NUL bytes (an XDR report
 * ends in `00 00 00 00`; a namespace request in the NUL that terminates its last field). A name with no space and
 * no argument is accepted (`vmware-rpctool log` arrives as the 3 bytes "log"). Replies are `"1 <text>"` (success)
 * or `"0 <text>"` (failure); an unknown name gets exactly `"0 Unknown command"`, which libguestlib compares, and is
 * counted per name (at most {@link RPCI_MAX_UNKNOWN_NAMES} distinct names).
 * Source of truth: `docs/protocol.md` §5 (framing facts); open-vm-tools `lib/rpcChannel/rpcChannel.c`
 * (`RpcChannel_Send` sends exactly the bytes it is given).
 * Does not: decode arguments (handlers do), or keep state of its own beyond counters.
 */
import { concatBytes, fromUtf8, utf8 } from "../core/text.js";
import { VmportError } from "../core/errors.js";
import { EventSet } from "../core/events.js";
import type { Channel, ChannelEndpoint } from "./message-channel.js";
import type { AnswerHooks } from "../devices/answer-hooks.js";

/** The reply for an unknown command (`RPCI_UNKNOWN_COMMAND`), exact text. */
export const RPCI_UNKNOWN_COMMAND = "Unknown command";
/** Longest command name looked up; a longer first word is an unknown command. */
export const RPCI_MAX_NAME = 128;
/** Distinct unknown command names counted one by one; further new names are counted together. */
export const RPCI_MAX_UNKNOWN_NAMES = 256;
/** The name an unknown command is counted under when its first word is empty or longer than {@link RPCI_MAX_NAME}. */
export const RPCI_UNNAMED = "(no name)";

/** How a command is registered. */
export interface RpciRegistrationOptions {
  /**
   * The arguments are binary: the handler gets every byte after the first space, with no trailing NUL removed.
   * Default false (text: one trailing NUL is stripped, as `RpcChannel_Send` users append one).
   */
  binary?: boolean;
}

/** A handler's answer. `text` may be bytes (binary replies such as `guestlib.info.get`). */
export interface RpciReply {
  /** True for a `"1 "` reply, false for `"0 "`. */
  ok: boolean;
  /** The reply after the prefix: text (encoded as UTF-8) or bytes. */
  text: string | Uint8Array;
}

/** A request as handlers see it. */
export interface RpciRequest {
  /** The command name (first word). */
  readonly name: string;
  /** Everything after the first space (may be empty, may be binary). */
  readonly args: Uint8Array;
  /** `args` as UTF-8 text. */
  readonly argsText: string;
  /** The channel it came on. */
  readonly channel: Channel;
}

/** A handler: pure with respect to the wire, may update the guest model. */
export type RpciHandler = (req: RpciRequest) => RpciReply;

/** One request and the reply it got: the event of {@link RpciDispatcher.exchanges}. */
export interface RpciExchange {
  /** The request as the handler saw it. */
  request: RpciRequest;
  /** The handler's reply (before the 64 KiB reply bound is applied). */
  reply: RpciReply;
}

const SPACE = 0x20;

interface Registered {
  handler: RpciHandler;
  binary: boolean;
}

/** Build a reply value. */
export const reply = {
  ok: (text: string | Uint8Array = ""): RpciReply => ({ ok: true, text }),
  fail: (text: string): RpciReply => ({ ok: false, text }),
  /** `"0 Unknown command"`: for a command this host does not have (counted as unknown by the dispatcher). */
  unknown: (): RpciReply => ({ ok: false, text: RPCI_UNKNOWN_COMMAND }),
};

/** The dispatcher; it is the channel table's RPCI endpoint. */
export class RpciDispatcher implements ChannelEndpoint {
  private readonly exact = new Map<string, Registered>();
  private readonly prefixes: [string, Registered][] = [];
  private readonly unknownNames = new Map<string, number>();
  /** Requests per outcome. */
  readonly counters = { requests: 0, unknown: 0 };
  /** Unknown commands whose name did not fit in the {@link RPCI_MAX_UNKNOWN_NAMES} counted one by one. */
  unknownOther = 0;
  /** Every request with its reply, after it was handled (traces, the console). */
  readonly exchanges = new EventSet<RpciExchange>();
  /** Answer hooks (`vmport fuzz`), or null. */
  hooks: AnswerHooks | null = null;

  /**
   * Register `handler` for the command `name`, or for every name starting with `prefix` when `name` ends in `*`
   * (`tools.capability.*`). Exact names win over prefixes; longer prefixes win over shorter ones.
   * @throws VmportError VMPORT_BAD_REGISTRATION if the name is taken.
   */
  register(name: string, handler: RpciHandler, options: RpciRegistrationOptions = {}): void {
    const r: Registered = { handler, binary: options.binary === true };
    if (name.endsWith("*")) {
      const p = name.slice(0, -1);
      if (this.prefixes.some(([q]) => q === p))
        throw new VmportError("VMPORT_BAD_REGISTRATION", `RPCI prefix "${name}" is already registered`);
      this.prefixes.push([p, r]);
      this.prefixes.sort((a, b) => b[0].length - a[0].length);
      return;
    }
    if (this.exact.has(name)) throw new VmportError("VMPORT_BAD_REGISTRATION", `RPCI command "${name}" is already registered`);
    this.exact.set(name, r);
  }

  /** Unknown commands by name, with how often each was sent (a copy). */
  unknownCommands(): Record<string, number> {
    return Object.fromEntries(this.unknownNames);
  }

  /** Dispatch one request; returns the reply bytes (`"1 …"` / `"0 …"`). */
  dispatch(message: Uint8Array, channel: Channel): Uint8Array {
    this.counters.requests++;
    let end = message.length;
    if (end > 0 && message[end - 1] === 0) end--;
    let sp = message.indexOf(SPACE);
    if (sp < 0 || sp > end) sp = end;
    const name = sp <= RPCI_MAX_NAME ? fromUtf8(message.subarray(0, sp)) : "";
    const found = name === "" ? undefined : (this.exact.get(name) ?? this.prefixes.find(([p]) => name.startsWith(p))?.[1]);
    // A binary command keeps its last byte even when it is a NUL: only text may lose a terminator.
    const argsEnd = found?.binary === true ? message.length : end;
    const args = sp < end || (argsEnd > end && message[sp] === SPACE) ? message.subarray(sp + 1, argsEnd) : new Uint8Array(0);
    const req: RpciRequest = {
      name,
      args,
      get argsText() {
        return fromUtf8(args);
      },
      channel,
    };
    const r: RpciReply = found === undefined ? reply.fail(RPCI_UNKNOWN_COMMAND) : found.handler(req);
    // A handler may also answer "Unknown command" (a command this host type does not have): counted the same.
    if (!r.ok && r.text === RPCI_UNKNOWN_COMMAND) this.countUnknown(name === "" ? RPCI_UNNAMED : name);
    if (this.exchanges.size > 0) this.exchanges.emit({ request: req, reply: r });
    return this.hooks === null ? encodeReply(r) : this.hooks.rpciReply(name, message, encodeReply(r));
  }

  private countUnknown(name: string): void {
    this.counters.unknown++;
    const n = this.unknownNames.get(name);
    if (n !== undefined) this.unknownNames.set(name, n + 1);
    else if (this.unknownNames.size < RPCI_MAX_UNKNOWN_NAMES) this.unknownNames.set(name, 1);
    else this.unknownOther++;
  }

  onGuestMessage(ch: Channel, message: Uint8Array): Uint8Array {
    return this.dispatch(message, ch);
  }

  pollHostMessage(): null {
    return null;
  }
}

/** `"1 " + text` or `"0 " + text` as bytes. */
export function encodeReply(r: RpciReply): Uint8Array {
  const head = utf8(r.ok ? "1 " : "0 ");
  return concatBytes(head, typeof r.text === "string" ? utf8(r.text) : r.text);
}
