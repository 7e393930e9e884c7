/**
 * Nested virtualization at the #GP intercept: which hypervisor level takes an exception raised in an L2 guest.
 *
 * Emulates: the routing KVM applies when a vCPU runs an L2 guest under an L1 hypervisor. An exception exit from
 * L2 is reflected to L1 ("nested exit") when L1's exception bitmap (VMCS12 `EXCEPTION_BITMAP`) has the vector's
 * bit; otherwise L0 — here vmport — handles it, VMware backdoor emulation included. So with L1 intercepting #GP,
 * every #GP of L2, backdoor or not, goes to L1 untouched: nothing decoded, nothing emulated, no register changed.
 * Exceptions L0 itself raises into L2 after handling a #GP (a #GP it reflects, #UD for LOCK, #PF for a fetch or a
 * string buffer) are routed by the same bitmap, as KVM does before injecting into L2.
 * Source of truth: Linux `arch/x86/kvm/vmx/nested.c` — `nested_vmx_reflect_vmexit()` (L0 first if
 * `nested_vmx_l0_wants_exit()`, which never claims #GP; then L1 if `nested_vmx_l1_wants_exit()`, which for
 * `EXIT_REASON_EXCEPTION_NMI` tests `vmcs12->exception_bitmap & (1u << vector)`; else L0) and
 * `nested_vmx_is_exception_vmexit()` for exceptions L0 injects; `arch/x86/kvm/vmx/vmx.c` `handle_exception_nmi()`
 * (L0's #GP path into the VMware backdoor emulation). See `docs/nested.md`.
 * Does not: model AMD's order (KVM's `arch/x86/kvm/svm/nested.c` `nested_svm_exit_special()` lets L0 take an
 * exception it intercepts itself before looking at L1), the #PF error-code mask/match of VMCS12 (taken as 0/0:
 * the bitmap bit alone decides), or any exit other than exceptions.
 */
import { VmportError } from "../core/errors.js";

/** What the VM knows about the L1 hypervisor while a vCPU runs an L2 guest. */
export interface NestedL1 {
  /**
   * L1's exception bitmap (VMCS12 `EXCEPTION_BITMAP`; on AMD the VMCB12 exception intercepts): bit n set = L1
   * intercepts vector n. #GP is bit 13 ({@link L1_INTERCEPTS_GP}), #UD bit 6, #PF bit 14.
   */
  exceptionBitmap: number;
}

/** The exception bitmap of an L1 that intercepts #GP (vector 13) and nothing else. */
export const L1_INTERCEPTS_GP = 1 << 13;

/** Which level took a #GP: none was raised, L0 (vmport's intercept: emulated or reflected), or L1 (nested exit). */
export const GpLevel = { NONE: 0, L0: 1, L1: 2 } as const;
/** One of the {@link GpLevel} values. */
export type GpLevel = (typeof GpLevel)[keyof typeof GpLevel];
/** Names of {@link GpLevel} as traces print them. */
export const GP_LEVEL_NAMES: readonly ("L0" | "L1" | null)[] = [null, "L0", "L1"];

/**
 * Validate a nesting view given by an embedder (null: not nested).
 * @throws VmportError VMPORT_BAD_ARGUMENT naming the field.
 */
export function checkNested(n: NestedL1 | null | undefined): NestedL1 | null {
  if (n === null || n === undefined) return null;
  const b = (n as { exceptionBitmap?: unknown }).exceptionBitmap;
  if (typeof b !== "number" || !Number.isInteger(b) || b < 0 || b > 0xffffffff) {
    throw new VmportError("VMPORT_BAD_ARGUMENT", `nested.exceptionBitmap: expected an integer 0..0xffffffff, got ${JSON.stringify(b)}`);
  }
  return { exceptionBitmap: b };
}
