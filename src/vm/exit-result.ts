/**
 * What one intercepted or executed instruction came to.
 *
 * Emulates: the hypervisor's verdict at a #GP exit — emulated (RIP advanced), partly done (a bounded REP chunk,
 * RIP left on the instruction so it resumes), a fault to reflect into the guest, or (nested virtualization) an
 * exception that exits to the guest's L1 hypervisor.
 * Source of truth: KVM `handle_exception_nmi` / `kvm_emulate_instruction` outcomes; SDM vol. 3 §6.15 for the
 * fault vectors.
 * Does not: inject anything; front ends deliver the fault (ptrace: the original signal; emulators: their own
 * exception path).
 */
import { GpLevel } from "./nested.js";

/** Outcome of one step. */
export const Outcome = {
  /** The instruction ran; registers and RIP are updated. */
  COMPLETED: 0,
  /** A REP string instruction ran a bounded chunk; RCX/RSI/RDI are updated, RIP is not (it resumes). */
  PARTIAL: 1,
  /** The instruction faulted; no register changed. Reflect {@link ExitResult.fault}. */
  FAULT: 2,
  /** `step` only: the instruction is not one the model executes (not IN/OUT/INS/OUTS/RDPMC). */
  UNSUPPORTED: 3,
  /**
   * Nested virtualization: the guest is an L2 guest and its L1 hypervisor intercepts {@link ExitResult.fault}
   * (L1's exception bitmap), so the exception exits to L1; no register changed. Build L1's VM exit from `fault`,
   * `errorCode` and (#PF) `faultAddress`.
   */
  NESTED_EXIT: 4,
} as const;
/** One of the {@link Outcome} values. */
export type Outcome = (typeof Outcome)[keyof typeof Outcome];
/** Lowercase names of {@link Outcome}. */
export const OUTCOME_NAMES: readonly string[] = ["completed", "partial", "fault", "unsupported", "nested-exit"];

/** Exception vectors the engine may raise. */
export const Fault = { NONE: 0, GP: 13, UD: 6, PF: 14 } as const;
/** One of the {@link Fault} values. */
export type Fault = (typeof Fault)[keyof typeof Fault];

/** Name of a fault vector as the CLI prints it (`null` for none). */
export function faultName(f: Fault): "GP" | "UD" | "PF" | null {
  return f === Fault.GP ? "GP" : f === Fault.UD ? "UD" : f === Fault.PF ? "PF" : null;
}

/** The result of one step. The VM reuses one instance: copy what you keep. */
export class ExitResult {
  /** What happened: completed, partial (a REP string to be resumed), fault, unsupported or nested exit. */
  outcome: Outcome = Outcome.COMPLETED;
  /** The exception to deliver when {@link ExitResult.outcome} is a fault (#GP, #UD, #PF), else NONE. */
  fault: Fault = Fault.NONE;
  /** Error code pushed with the fault (#GP(0), #PF error code). */
  errorCode = 0;
  /** #PF only: the faulting linear address (CR2), exact over 64 bits; null otherwise. */
  faultAddress: bigint | null = null;
  /** Decoded op (`Op`), or 0. */
  op = 0;
  /** Port accessed, or -1. */
  port = -1;
  /** Access size, or 0. */
  size = 0;
  /** Instruction length, or 0. */
  length = 0;
  /** Backdoor command that ran, or -1. */
  command = -1;
  /** Which level took the #GP this instruction raised (`GpLevel`: NONE, L0 = vmport, L1 = nested exit). */
  gpLevel: GpLevel = GpLevel.NONE;

  /** Reset to a neutral state. */
  reset(): void {
    this.outcome = Outcome.COMPLETED;
    this.fault = Fault.NONE;
    this.errorCode = 0;
    this.faultAddress = null;
    this.op = 0;
    this.port = -1;
    this.size = 0;
    this.length = 0;
    this.command = -1;
    this.gpLevel = GpLevel.NONE;
  }
}
