/**
 * TCLO: the host → guest command queue.
 *
 * Emulates: the VMX's side of the tools loop (`lib/rpcIn/rpcin.c`). The guest opens a TCLO channel and polls:
 * each iteration it *sends* the result of the previous command (the first send, and every idle poll, is empty),
 * then asks with RECVSIZE. The host hands over at most one command per poll and only after the result of the
 * previous one has arrived. Results (`"OK …"` / `"ERROR …"`) resolve the enqueuer's promise; a command whose result
 * does not arrive in time (on the VM clock) rejects with `VMPORT_TCLO_TIMEOUT`.
 * Commands go out as the VMX sends them: the text alone, no trailing NUL (VMware's own Go test
 * `vmw-guestinfo/message/message_test.go` waits for a command equal to `"reset"` byte for byte; govmomi's
 * `toolbox/service.go` compares `Set_Option` values exactly). `trailingNul` appends one NUL instead, the framing of
 * the never-merged QEMU `vmport_rpc` patch (`strlen + 1`); C clients (`open-vm-tools/lib/message/message.c` adds
 * its own terminator) accept both. Evidence on both sides: `docs/tclo-framing.md`.
 * With `resetOnOpen`, every TCLO OPEN puts `reset` at the head of the queue, as a VMX does; its `OK ATR …` reply
 * marks the tools as running.
 * Source of truth: `open-vm-tools/lib/rpcIn/rpcin.c` (the guest loop), `docs/tclo-framing.md` (command framing).
 * Does not: retry a command, or know what a command does in the guest (see the safety rules for vmtoolsd).
 */
import { VmportError } from "../core/errors.js";
import { EventSet } from "../core/events.js";
import type { Clock } from "../core/clock.js";
import { concatBytes, fromUtf8, utf8 } from "../core/text.js";
import { MAX_REPLY_SIZE } from "./constants.js";
import type { Channel, ChannelEndpoint } from "./message-channel.js";

/** Commands waiting at once; `send` beyond it throws `VMPORT_TCLO_QUEUE_FULL`. */
export const TCLO_MAX_QUEUED = 1024;
/** Default time a command may take, from the moment it is queued, on the VM clock. */
export const TCLO_DEFAULT_TIMEOUT_MS = 30_000;

/** A guest's answer to a TCLO command. */
export interface TcloResult {
  /** True for `OK …` (vmtoolsd, govmomi). */
  ok: boolean;
  /** The text after `OK ` / `ERROR ` / `ERR `, or the whole reply when it has no such prefix. */
  text: string;
  /** The reply exactly as sent, one trailing NUL removed. */
  raw: string;
}

/** Standard commands as values. */
export const TcloCommands = {
  reset: "reset",
  ping: "ping",
  capabilitiesRegister: "Capabilities_Register",
  /** `Set_Option NAME VALUE` (e.g. `broadcastIP 1`, `synctime 0`). */
  setOption: (name: string, value: string | number | boolean): string =>
    `Set_Option ${name} ${typeof value === "boolean" ? (value ? 1 : 0) : value}`,
} as const;

interface Pending {
  id: number;
  command: string;
  bytes: Uint8Array;
  deadlineNs: bigint;
  resolve: (r: TcloResult) => void;
  reject: (e: Error) => void;
  internal: boolean;
}

/** Why a command ended without a result. */
export type TcloFailure = "VMPORT_TCLO_TIMEOUT" | "VMPORT_TCLO_CLOSED";

/**
 * One step of a command, the event of {@link TcloQueue.events}. `id` numbers commands in the order queued (from 1,
 * per queue); `internal` marks the `reset` the queue sends by itself when the guest opens its TCLO channel.
 * - `queued`: the command waits for the guest's next poll;
 * - `result`: the guest answered it;
 * - `failed`: it timed out, or the guest closed its channel with it in flight.
 */
export type TcloEvent =
  | { type: "queued"; id: number; command: string; internal: boolean }
  | { type: "result"; id: number; command: string; internal: boolean; result: TcloResult }
  | { type: "failed"; id: number; command: string; internal: boolean; code: TcloFailure; message: string };

/** What the queue counted. */
export interface TcloCounters {
  /** Commands queued (the automatic `reset` included). */
  queued: number;
  /** Commands the guest answered. */
  results: number;
  /** Commands that timed out. */
  timeouts: number;
  /** Commands in flight when the guest closed its TCLO channel. */
  closed: number;
  /** Results that arrived with nothing in flight (idle polls carry none; this counts non-empty strays). */
  strayResults: number;
  /** `reset`s not queued at a TCLO OPEN because the queue was full. */
  resetsSkipped: number;
}

/** Parse a TCLO result: strip one trailing NUL, split the OK/ERROR prefix. */
export function parseTcloResult(bytes: Uint8Array): TcloResult {
  const b = bytes.length > 0 && bytes[bytes.length - 1] === 0 ? bytes.subarray(0, bytes.length - 1) : bytes;
  const raw = fromUtf8(b);
  const m = /^(OK|ERROR|ERR)(?: |$)/.exec(raw);
  if (!m) return { ok: false, text: raw, raw };
  return { ok: m[1] === "OK", text: raw.slice(m[0].length), raw };
}

function ignore(): void {}

/** The per-VM TCLO queue; it is the channel table's TCLO endpoint. */
export class TcloQueue implements ChannelEndpoint {
  private readonly queue: Pending[] = [];
  private inFlight: Pending | null = null;
  private inFlightChannel: Channel | null = null;
  private nextId = 1;
  /** What the queue counted. */
  readonly counters: TcloCounters = { queued: 0, results: 0, timeouts: 0, closed: 0, strayResults: 0, resetsSkipped: 0 };
  /** Every command queued, answered or failed, as it happens. */
  readonly events = new EventSet<TcloEvent>();

  /**
   * @param opts.resetOnOpen queue `reset` first whenever the guest opens a TCLO channel.
   * @param opts.timeoutMs default time a command may take (default {@link TCLO_DEFAULT_TIMEOUT_MS}).
   * @param opts.trailingNul append one NUL to every command on the wire (QEMU-patch framing). Default false: the
   *   command text alone, as a VMX sends it.
   */
  constructor(
    private readonly clock: Clock,
    private readonly opts: { resetOnOpen: boolean; timeoutMs?: number; trailingNul?: boolean } = { resetOnOpen: true },
  ) {}

  /**
   * Queue `command` for the guest. Resolves with its result; rejects with VMPORT_TCLO_TIMEOUT after `timeoutMs` of
   * VM time (checked whenever the guest polls and on {@link expire}), or VMPORT_TCLO_CLOSED if the guest closes its
   * TCLO channel with the command in flight.
   * @throws VmportError VMPORT_TCLO_QUEUE_FULL (more than 1024 waiting), VMPORT_BAD_ARGUMENT (longer than 64 KiB − 1).
   */
  send(command: string, options: { timeoutMs?: number } = {}): Promise<TcloResult> {
    let resolve: (r: TcloResult) => void = ignore;
    let reject: (e: Error) => void = ignore;
    const p = new Promise<TcloResult>((y, n) => {
      resolve = y;
      reject = n;
    });
    this.push(command, this.timeoutOf(options), false, false, resolve, reject); // a refusal throws here, synchronously
    return p;
  }

  /**
   * Queue `command` without a promise, for front ends that learn results from {@link events} (a thread that does
   * not return to its event loop while the guest runs never sees a promise settle). Returns the command's `id`.
   * @throws VmportError as {@link send}.
   */
  enqueue(command: string, options: { timeoutMs?: number } = {}): number {
    return this.push(command, this.timeoutOf(options), false, false, ignore, ignore);
  }

  private timeoutOf(options: { timeoutMs?: number }): number {
    return options.timeoutMs ?? this.opts.timeoutMs ?? TCLO_DEFAULT_TIMEOUT_MS;
  }

  private push(
    command: string,
    timeoutMs: number,
    internal: boolean,
    head: boolean,
    resolve: (r: TcloResult) => void,
    reject: (e: Error) => void,
  ): number {
    if (this.queue.length >= TCLO_MAX_QUEUED) {
      throw new VmportError("VMPORT_TCLO_QUEUE_FULL", `TCLO queue is full (${TCLO_MAX_QUEUED} commands waiting)`);
    }
    const bytes = this.opts.trailingNul === true ? concatBytes(utf8(command), new Uint8Array(1)) : utf8(command);
    if (bytes.length > MAX_REPLY_SIZE) {
      throw new VmportError("VMPORT_BAD_ARGUMENT", `TCLO command of ${bytes.length} bytes exceeds ${MAX_REPLY_SIZE}`);
    }
    const t = Number.isFinite(timeoutMs) ? Math.max(0, Math.round(timeoutMs)) : TCLO_DEFAULT_TIMEOUT_MS;
    const p: Pending = {
      id: this.nextId++,
      command,
      bytes,
      deadlineNs: this.clock.monotonicNs() + BigInt(t) * 1_000_000n,
      resolve,
      reject,
      internal,
    };
    if (head) this.queue.unshift(p);
    else this.queue.push(p);
    this.counters.queued++;
    if (this.events.size > 0) this.events.emit({ type: "queued", id: p.id, command, internal });
    return p.id;
  }

  /** Commands waiting (not yet handed to the guest). */
  get queued(): number {
    return this.queue.length;
  }

  /** The command handed to the guest whose result is awaited, or null. */
  get awaiting(): string | null {
    return this.inFlight?.command ?? null;
  }

  /** Reject every command whose deadline has passed. Front ends call it periodically; polls call it too. */
  expire(): void {
    const now = this.clock.monotonicNs();
    if (this.inFlight && now >= this.inFlight.deadlineNs) {
      const p = this.inFlight;
      this.inFlight = null;
      this.inFlightChannel = null;
      this.fail(p, "VMPORT_TCLO_TIMEOUT", `TCLO "${p.command}": no result from the guest in time`);
    }
    for (let i = 0; i < this.queue.length; ) {
      const p = this.queue[i]!;
      if (now >= p.deadlineNs) {
        this.queue.splice(i, 1);
        this.fail(p, "VMPORT_TCLO_TIMEOUT", `TCLO "${p.command}": the guest did not poll in time`);
      } else i++;
    }
  }

  private fail(p: Pending, code: TcloFailure, msg: string): void {
    if (code === "VMPORT_TCLO_TIMEOUT") this.counters.timeouts++;
    else this.counters.closed++;
    if (this.events.size > 0) this.events.emit({ type: "failed", id: p.id, command: p.command, internal: p.internal, code, message: msg });
    if (p.internal) p.resolve({ ok: false, text: msg, raw: "" });
    else p.reject(new VmportError(code, msg));
  }

  /** ChannelEndpoint: a guest send on a TCLO channel is the result of the command in flight (or an idle poll). */
  onGuestMessage(ch: Channel, message: Uint8Array): Uint8Array | null {
    const p = this.inFlight;
    if (p !== null && this.inFlightChannel === ch) {
      this.inFlight = null;
      this.inFlightChannel = null;
      const r = parseTcloResult(message);
      this.counters.results++;
      if (this.events.size > 0) this.events.emit({ type: "result", id: p.id, command: p.command, internal: p.internal, result: r });
      p.resolve(r);
    } else if (message.length > 0 && !(message.length === 1 && message[0] === 0)) {
      this.counters.strayResults++;
    }
    this.expire();
    return null;
  }

  /** ChannelEndpoint: hand over the next command, unless one still awaits its result. */
  pollHostMessage(ch: Channel): Uint8Array | null {
    this.expire();
    if (this.inFlight !== null) return null;
    const p = this.queue.shift();
    if (p === undefined) return null;
    this.inFlight = p;
    this.inFlightChannel = ch;
    return p.bytes;
  }

  onOpen(): void {
    if (!this.opts.resetOnOpen) return;
    const head = this.queue[0];
    if (head?.internal && head.command === "reset") return; // one is already first in line
    if (this.queue.length >= TCLO_MAX_QUEUED) {
      this.counters.resetsSkipped++; // a guest OPEN must never fail because the host filled the queue
      return;
    }
    this.push("reset", this.opts.timeoutMs ?? TCLO_DEFAULT_TIMEOUT_MS, true, true, ignore, ignore);
  }

  onClose(ch: Channel): void {
    if (this.inFlightChannel === ch && this.inFlight) {
      const p = this.inFlight;
      this.inFlight = null;
      this.inFlightChannel = null;
      this.fail(p, "VMPORT_TCLO_CLOSED", `TCLO "${p.command}": the guest closed its channel before answering`);
    }
  }
}
