/**
 * Trace records: one per backdoor access the VM handles, for `--trace` files and the console.
 *
 * Emulates: nothing; records what happened — time, vCPU, instruction bytes and decode, port, command, registers
 * before and after, outcome, and which hypervisor level took a #GP (vmport as L0, or the guest's L1 hypervisor
 * under nested virtualization).
 * Listeners of `vm.trace` get a {@link TraceAccess}: a view of the access that is valid only during the call, from
 * which `toRecord()` builds the JSON-ready {@link TraceRecord}, and {@link encodeTrace} copies the same facts into
 * {@link TRACE_WORDS} 32-bit words (for front ends that hand records to another thread through shared memory;
 * {@link decodeTrace} rebuilds the identical record there).
 * Does not: buffer or write anything; front ends decide where records go.
 */
import { REGISTER_COUNT, Reg } from "../x86/registers.js";
import type { CpuState } from "../x86/cpu-state.js";
import type { DecodedInstruction } from "../x86/decoder.js";
import { OP_NAMES } from "../x86/decoder.js";
import type { InstructionFetcher } from "../x86/instruction-fetch.js";
import { OUTCOME_NAMES, faultName, type ExitResult, type Fault } from "./exit-result.js";
import { GP_LEVEL_NAMES } from "./nested.js";

/** Registers recorded, in this order. */
export const TRACED_REGISTERS = [Reg.RAX, Reg.RBX, Reg.RCX, Reg.RDX, Reg.RSI, Reg.RDI, Reg.RBP, Reg.RIP] as const;

/** One trace record, JSON-ready (64-bit values as `0x…` strings). */
export interface TraceRecord {
  /** Wall-clock time (VM clock), ns since the epoch, as a decimal string. */
  timeNs: string;
  /** The vCPU that made the access. */
  vcpu: number;
  /** How the access arrived: a #GP exit, or `step`. */
  via: "gp" | "step";
  /** Instruction bytes as hex (only the decoded length; up to 15 bytes when it did not decode). */
  bytes: string;
  /** Mnemonic (`in`, `out`, `ins`, `outs`, `rdpmc`), or null when the bytes did not decode to one. */
  op: string | null;
  /** Access size in bytes (1, 2, 4; 0 for RDPMC or no decode). */
  size: number;
  /** The port accessed, or null (RDPMC, no decode). */
  port: number | null;
  /** Backdoor command (CX) that ran, or null. */
  command: number | null;
  /** ECX bits 16–31 at entry (message type / sub-command), when a command ran. */
  subcommand: number | null;
  /** General registers before the access, by name, as `0x…` 64-bit hex. */
  regsIn: Record<string, string>;
  /** The registers after the access that changed, by name, as `0x…` 64-bit hex. */
  regsOut: Record<string, string>;
  /** `completed`, `partial`, `fault`, `unsupported` or `nested-exit`. */
  outcome: string;
  /** The fault raised (`GP`, `UD`, `PF`), or null. */
  fault: string | null;
  /**
   * Which level took the #GP the instruction raised: "L0" (vmport's intercept emulated or reflected it), "L1" (a
   * nested exit to the guest's L1 hypervisor), or null when no #GP was raised (a step whose access was allowed).
   */
  gpHandledBy: "L0" | "L1" | null;
}

/** What {@link buildTraceRecord} reads from the VM. */
export interface TraceSource {
  /** The clock whose wall time stamps each record. */
  readonly clock: { realtimeNs(): bigint };
}

/** Two lowercase hex digits per byte value. */
const HEX: readonly string[] = Array.from({ length: 256 }, (_, i) => i.toString(16).padStart(2, "0"));
/** Character codes of the hex digits. */
const DIGIT: readonly number[] = Array.from({ length: 16 }, (_, i) => i.toString(16).charCodeAt(0));

/**
 * `0x` + 16 hex digits of the 64-bit value with halves `lo`, `hi`: one flat string from character codes (≈ 10× faster
 * than `toString(16)` with padding, and nothing left to flatten when the record is serialised).
 */
function hex64(lo: number, hi: number): string {
  const d = DIGIT;
  return String.fromCharCode(
    48,
    120,
    d[hi >>> 28]!,
    d[(hi >>> 24) & 15]!,
    d[(hi >>> 20) & 15]!,
    d[(hi >>> 16) & 15]!,
    d[(hi >>> 12) & 15]!,
    d[(hi >>> 8) & 15]!,
    d[(hi >>> 4) & 15]!,
    d[hi & 15]!,
    d[lo >>> 28]!,
    d[(lo >>> 24) & 15]!,
    d[(lo >>> 20) & 15]!,
    d[(lo >>> 16) & 15]!,
    d[(lo >>> 12) & 15]!,
    d[(lo >>> 8) & 15]!,
    d[(lo >>> 4) & 15]!,
    d[lo & 15]!,
  );
}

/**
 * The traced registers from register words: `traced` false reads a register file's words (register r at `r * 2`),
 * true the packed form of {@link encodeTrace} (the i-th traced register at `i * 2`).
 */
function regsOf(words: Uint32Array, base: number, traced: boolean): Record<string, string> {
  const w = (i: number): string => {
    const at = base + (traced ? i : TRACED_REGISTERS[i]!) * 2;
    return hex64(words[at]!, words[at + 1]!);
  };
  // One object literal: one hidden class for every record.
  return { rax: w(0), rbx: w(1), rcx: w(2), rdx: w(3), rsi: w(4), rdi: w(5), rbp: w(6), rip: w(7) };
}

/** Build the record of one access from the state before and after. */
export function buildTraceRecord(
  vm: TraceSource,
  cpu: CpuState,
  before: Uint32Array,
  fetcher: InstructionFetcher,
  insn: DecodedInstruction,
  res: ExitResult,
  via: "gp" | "step",
): TraceRecord {
  const n = insn.length > 0 ? insn.length : fetcher.filled;
  let bytes = "";
  for (let i = 0; i < n; i++) bytes += HEX[fetcher.buffer[i]!]!;
  const ran = res.command >= 0;
  return {
    timeNs: vm.clock.realtimeNs().toString(),
    vcpu: cpu.vcpu,
    via,
    bytes,
    op: OP_NAMES[res.op] ?? null,
    size: res.size,
    port: res.port >= 0 ? res.port : null,
    command: ran ? res.command : null,
    subcommand: ran ? before[Reg.RCX * 2]! >>> 16 : null,
    regsIn: regsOf(before, 0, false),
    regsOut: regsOf(cpu.regs.words, 0, false),
    outcome: OUTCOME_NAMES[res.outcome]!,
    fault: faultName(res.fault),
    gpHandledBy: GP_LEVEL_NAMES[res.gpLevel] ?? null,
  };
}

/**
 * One access as it happened, handed to `vm.trace` listeners. Valid only during the listener call: the VM reuses
 * it (and the CPU state it points to) for the next access.
 */
export class TraceAccess {
  /** How the access arrived. */
  via: "gp" | "step" = "gp";
  /** Register words (lo/hi per register) before the access. */
  readonly before = new Uint32Array(REGISTER_COUNT * 2);
  /** The vCPU after the access. */
  cpu: CpuState | null = null;
  /** The outcome (the VM's reused result object). */
  res: ExitResult | null = null;

  /** A pending record for one access: the VM's clock, and the fetcher and decoded instruction of that access. */
  constructor(
    private readonly source: TraceSource,
    /** The fetcher that read the instruction bytes. */
    readonly fetcher: InstructionFetcher,
    /** The decoded instruction. */
    readonly insn: DecodedInstruction,
  ) {}

  /** The access as a JSON-ready record (a new object; keep it as long as you like). */
  toRecord(): TraceRecord {
    return buildTraceRecord(this.source, this.cpu!, this.before, this.fetcher, this.insn, this.res!, this.via);
  }

  /** Wall-clock time of the access (the VM clock), ns since the epoch. */
  timeNs(): bigint {
    return this.source.clock.realtimeNs();
  }
}

/**
 * 32-bit words one access takes in the compact form of {@link encodeTrace}: time (seconds and nanoseconds), vCPU,
 * flags (via, op, size, outcome, fault, gpLevel, byte count), port, command, subcommand, instruction bytes (4), the
 * traced registers before (16) and after (16).
 */
export const TRACE_WORDS = 44;
const W_TIME = 0;
const W_VCPU = 2;
const W_FLAGS = 3;
const W_PORT = 4;
const W_COMMAND = 5;
const W_SUB = 6;
const W_BYTES = 7;
const W_IN = 11;
const W_OUT = 27;

/**
 * Copy `a` into `out[at … at + TRACE_WORDS)`, with `seconds` + `nanoseconds` (since the epoch) as its time —
 * numbers, so the copy allocates nothing.
 */
export function encodeTrace(a: TraceAccess, seconds: number, nanoseconds: number, out: Uint32Array, at: number): void {
  const res = a.res!;
  const cpu = a.cpu!;
  const n = a.insn.length > 0 ? a.insn.length : a.fetcher.filled;
  out[at + W_TIME] = seconds;
  out[at + W_TIME + 1] = nanoseconds;
  out[at + W_VCPU] = cpu.vcpu >>> 0;
  out[at + W_FLAGS] =
    (a.via === "step" ? 1 : 0) | (res.op << 1) | (res.size << 5) | (res.outcome << 9) | (res.fault << 13) | (res.gpLevel << 18) | (n << 20);
  out[at + W_PORT] = res.port >= 0 ? res.port + 1 : 0;
  const ran = res.command >= 0;
  out[at + W_COMMAND] = ran ? res.command + 1 : 0;
  out[at + W_SUB] = a.before[Reg.RCX * 2]! >>> 16;
  const b = a.fetcher.buffer;
  for (let w = 0; w < 4; w++) out[at + W_BYTES + w] = 0;
  for (let i = 0; i < n; i++) out[at + W_BYTES + (i >> 2)] |= b[i]! << ((i & 3) * 8);
  const after = cpu.regs.words;
  for (let i = 0; i < TRACED_REGISTERS.length; i++) {
    const r = TRACED_REGISTERS[i]!;
    out[at + W_IN + i * 2] = a.before[r * 2]!;
    out[at + W_IN + i * 2 + 1] = a.before[r * 2 + 1]!;
    out[at + W_OUT + i * 2] = after[r * 2]!;
    out[at + W_OUT + i * 2 + 1] = after[r * 2 + 1]!;
  }
}

/** The record of an access encoded by {@link encodeTrace} at `words[at …]`: equal to what `toRecord()` gave. */
export function decodeTrace(words: Uint32Array, at: number): TraceRecord {
  const f = words[at + W_FLAGS]!;
  const n = (f >>> 20) & 0xf;
  let bytes = "";
  for (let i = 0; i < n; i++) bytes += HEX[(words[at + W_BYTES + (i >> 2)]! >>> ((i & 3) * 8)) & 0xff]!;
  const port = words[at + W_PORT]!;
  const command = words[at + W_COMMAND]!;
  return {
    timeNs:
      words[at + W_TIME] === 0 ? String(words[at + W_TIME + 1]) : words[at + W_TIME] + String(words[at + W_TIME + 1]).padStart(9, "0"),
    vcpu: words[at + W_VCPU]! | 0,
    via: (f & 1) === 1 ? "step" : "gp",
    bytes,
    op: OP_NAMES[(f >>> 1) & 0xf] ?? null,
    size: (f >>> 5) & 0xf,
    port: port === 0 ? null : port - 1,
    command: command === 0 ? null : command - 1,
    subcommand: command === 0 ? null : words[at + W_SUB]!,
    regsIn: regsOf(words, at + W_IN, true),
    regsOut: regsOf(words, at + W_OUT, true),
    outcome: OUTCOME_NAMES[(f >>> 9) & 0xf]!,
    fault: faultName(((f >>> 13) & 0x1f) as Fault),
    gpHandledBy: GP_LEVEL_NAMES[(f >>> 18) & 0x3] ?? null,
  };
}
