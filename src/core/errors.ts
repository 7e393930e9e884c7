/**
 * Typed host-side errors.
 *
 * Emulates: nothing; this is how vmport reports *host* mistakes (a bad profile, an overlapping port range, bad CLI
 * arguments). Guest misbehaviour never becomes an exception: it is answered the way hardware would and counted.
 * Source of truth: the style guide (undici's stable `code`, crosvm's numbers-in-the-message).
 * Does not: carry stack-trace policy; the CLI turns these into one `vmport:` line.
 */

/** Every stable machine-readable code a {@link VmportError} may carry. Sorted. */
export type VmportErrorCode =
  | "VMPORT_BAD_ARGUMENT"
  | "VMPORT_BAD_PROFILE"
  | "VMPORT_BAD_REGISTRATION"
  | "VMPORT_BAD_STATE"
  | "VMPORT_EXEC_FAILED"
  | "VMPORT_GUESTINFO_LIMIT"
  | "VMPORT_GUEST_NOT_VMWARE"
  | "VMPORT_GUEST_RPC"
  | "VMPORT_GUEST_UNSUPPORTED"
  | "VMPORT_INTERNAL"
  | "VMPORT_INVALID_ACCESS_WIDTH"
  | "VMPORT_INVALID_RANGE"
  | "VMPORT_NO_BACKDOOR"
  | "VMPORT_NO_DEVICE"
  | "VMPORT_OVERLAPPING_RANGE"
  | "VMPORT_PTRACE_DENIED"
  | "VMPORT_SESSION_EXITED"
  | "VMPORT_SPAWN_FAILED"
  | "VMPORT_TCLO_CLOSED"
  | "VMPORT_TCLO_QUEUE_FULL"
  | "VMPORT_TCLO_TIMEOUT"
  | "VMPORT_TIMEOUT"
  | "VMPORT_TRACER_FAILED";

/** A host-side error with a stable {@link VmportErrorCode}. */
export class VmportError extends Error {
  /** Stable machine-readable code. */
  readonly code: VmportErrorCode;
  /** Always "VmportError", so that logs name the class. */
  override readonly name = "VmportError";

  /**
   * @param code - stable code
   * @param message - one line naming the problem and the offending values
   * @param options - optional `cause`
   */
  constructor(code: VmportErrorCode, message: string, options?: { cause?: unknown }) {
    super(message, options);
    this.code = code;
  }
}

/** Type guard that also works across realms (checks the brand, not the prototype). */
export function isVmportError(e: unknown): e is VmportError {
  return (
    typeof e === "object" &&
    e !== null &&
    (e as { name?: unknown }).name === "VmportError" &&
    typeof (e as { code?: unknown }).code === "string"
  );
}
