/**
 * Trace records: one per backdoor access the VM handles, for `--trace` files and the console.
 *
 * Emulates: nothing; records what happened — time, vCPU, instruction bytes and decode, port, command, registers
 * before and after, outcome, and which hypervisor level took a #GP (vmport as L0, or the guest's L1 hypervisor
 * under nested virtualization).
 * Does not: buffer or write anything; a front end installs a sink (`vm.traceSink`) and decides where records go.
 */
import { hex } from "../core/bits.js";
import { REGISTER_NAMES, Reg } from "../x86/registers.js";
import type { CpuState } from "../x86/cpu-state.js";
import type { DecodedInstruction } from "../x86/decoder.js";
import { OP_NAMES } from "../x86/decoder.js";
import type { InstructionFetcher } from "../x86/instruction-fetch.js";
import { OUTCOME_NAMES, faultName, type ExitResult } from "./exit-result.js";
import { GP_LEVEL_NAMES } from "./nested.js";

/** Registers recorded, in this order. */
export const TRACED_REGISTERS = [Reg.RAX, Reg.RBX, Reg.RCX, Reg.RDX, Reg.RSI, Reg.RDI, Reg.RBP, Reg.RIP] as const;

/** One trace record, JSON-ready (64-bit values as `0x…` strings). */
export interface TraceRecord {
  /** Wall-clock time (VM clock), ns since the epoch, as a decimal string. */
  timeNs: string;
  vcpu: number;
  /** How the access arrived: a #GP exit, or `step`. */
  via: "gp" | "step";
  /** Instruction bytes as hex (only the decoded length; up to 15 bytes when it did not decode). */
  bytes: string;
  op: string | null;
  size: number;
  port: number | null;
  /** Backdoor command (CX) that ran, or null. */
  command: number | null;
  /** ECX bits 16–31 at entry (message type / sub-command), when a command ran. */
  subcommand: number | null;
  regsIn: Record<string, string>;
  regsOut: Record<string, string>;
  /** `completed`, `partial`, `fault`, `unsupported` or `nested-exit`. */
  outcome: string;
  fault: string | null;
  /**
   * Which level took the #GP the instruction raised: "L0" (vmport's intercept emulated or reflected it), "L1" (a
   * nested exit to the guest's L1 hypervisor), or null when no #GP was raised (a step whose access was allowed).
   */
  gpHandledBy: "L0" | "L1" | null;
}

/** What {@link buildTraceRecord} reads from the VM. */
export interface TraceSource {
  readonly clock: { realtimeNs(): bigint };
}

/** Receives trace records. */
export type TraceSink = (r: TraceRecord) => void;

function regsOf(words: Uint32Array): Record<string, string> {
  const out: Record<string, string> = {};
  for (const r of TRACED_REGISTERS) out[REGISTER_NAMES[r]!] = hex((BigInt(words[r * 2 + 1]!) << 32n) | BigInt(words[r * 2]!), 16);
  return out;
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
  for (let i = 0; i < n; i++) bytes += fetcher.buffer[i]!.toString(16).padStart(2, "0");
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
    regsIn: regsOf(before),
    regsOut: regsOf(cpu.regs.words),
    outcome: OUTCOME_NAMES[res.outcome]!,
    fault: faultName(res.fault),
    gpHandledBy: GP_LEVEL_NAMES[res.gpLevel] ?? null,
  };
}
